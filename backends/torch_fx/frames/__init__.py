"""The frames family: Gram-Schmidt frames, moving values into and out of them (kernels),
the Wigner tables they need (plan), and the conditioning margin `geoc check` reports."""
