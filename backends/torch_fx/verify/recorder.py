"""Running a module node by node, recording the value of every IR node and the edge set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import fx

from geoc.backends.torch_fx.common.kernels import Edges


class ValueRecorder(fx.Interpreter):
    """Runs a module node by node, keeping the value of every IR node and the edge set."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.values: dict[str, Any] = {}
        self.edges: Edges | None = None
        # Under a periodic cell: the neighbour list (src, dst, shift) the edges come from.
        self.neighbours: tuple[torch.Tensor, ...] | None = None
        # A model over several axes: each edge set between axes, by name (domains/axes.py).
        self.edge_sets: dict[str, Edges] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        owner = n.meta.get("geoc_node")
        if owner is not None:
            self.values[owner] = result
        if n.op == "call_function" and n.name == "edges":  # the lowering's name for the edge set
            self.edges = result
        if n.op == "call_function" and n.name == "neighbours":  # periodic cells (points.py)
            self.neighbours = result
        if "geoc_edge_set" in n.meta:
            self.edge_sets[n.meta["geoc_edge_set"]] = result
        return result


def record(module: fx.GraphModule, inputs: Mapping[str, Any]) -> ValueRecorder:
    """Replay ``module`` on ``inputs`` through the recorder (placeholders in graph order)."""
    # A starred parameter (the validated module's `**unexpected`) takes no value here.
    placeholders = [
        n for n in module.graph.nodes if n.op == "placeholder" and not str(n.target).startswith("*")
    ]
    args = [inputs.get(p.target, p.args[0] if p.args else None) for p in placeholders]
    recorder = ValueRecorder(module)
    with torch.no_grad():
        recorder.run(*args)
    return recorder
