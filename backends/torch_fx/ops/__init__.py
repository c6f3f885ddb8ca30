"""Lowering rules, one module per operator family (importing registers them)."""

from geoc.backends.torch_fx.ops import core, graph

__all__ = ["core", "graph"]
