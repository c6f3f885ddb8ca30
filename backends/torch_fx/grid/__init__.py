"""The grid family: local convolutions, restriction and prolongation on a torus, and
Galerkin attention over a field's points."""
