"""Lowerings of the transformer family (nGPT's learned scales and per-head normalisation)."""
