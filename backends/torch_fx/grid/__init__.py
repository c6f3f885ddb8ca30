"""The grid family: local convolutions, restriction and prolongation on a torus."""
