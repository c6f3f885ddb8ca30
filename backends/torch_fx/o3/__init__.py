"""The O(3) family: spherical harmonics, gates, tensor products (CG plan and kernel) and the
SO(2) (eSCN) tp_conv lowering with its cost model."""
