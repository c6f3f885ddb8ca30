"""geoc: a compiler for geometric deep learning."""
