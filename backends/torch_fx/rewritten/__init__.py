"""Lowerings of the operators only the optimiser writes (``geoc.ops.rewritten``)."""
