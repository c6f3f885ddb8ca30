"""The weight-space family: lowerings and kernels of permutation-equivariant layers on
network weights."""
