"""The manifold family: Riemannian operators, their kernels, membership checks, geoopt export."""
