"""Lowering rules, one module per operator family (importing registers them)."""

from geoc.backends.torch_fx import escn  # noqa: F401 - registers tp_conv's `so2` algorithm
from geoc.backends.torch_fx.ops import (
    core,
    gcnn,
    graph,
    manifold,
    o3,
    solver_ops,
    spectral,
    weightspace,
)

__all__ = ["core", "gcnn", "graph", "manifold", "o3", "solver_ops", "spectral", "weightspace"]
