"""Domain-independent kernels (edges, scatter, pools, broadcast) shared by every family."""
