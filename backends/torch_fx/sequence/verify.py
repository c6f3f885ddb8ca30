"""The causality law of ``geoc check`` for a causal sequence (docs/check.md).

Each trial draws inputs, a position ``t`` per sequence (as a group element is drawn), and a
second draw of every input over the tokens; it replaces the tokens after ``t`` by the second
draw and runs the module on both. Every output at or before ``t`` must be unchanged, exactly:
a causal operator gives a later token weight exactly 0 (``exp(-inf)``), and adding exact zeros
changes no rounding, so the law allows no error. Global outputs (which the static proof allows
only where they read no token) must not change at all. Odd trials interleave the sequences'
rows (each sequence keeping its order), so positions are ranks within a sequence, not rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.domains import rules_of
from geoc.backends.torch_fx.sequence.kernels import token_positions
from geoc.backends.torch_fx.verify.params import random_parameters
from geoc.ir import Graph

#: Trials of the law: the module's own parameters first, then random ones.
CAUSAL_TRIALS = 3


@dataclass(frozen=True)
class CausalityRow:
    """The law's verdict: the largest change of an output at or before ``t`` (0 to pass)."""

    axis: str
    trials: int
    max_change: float
    output: str  # the output that changed most ("" when none changed)

    @property
    def passed(self) -> bool:
        return self.max_change == 0.0

    def lines(self) -> list[str]:
        where = f" (`{self.output}`)" if self.output else ""
        verdict = "ok" if self.passed else "FAIL (GEO651: an output read a later token)"
        return [
            f"  causality: the tokens of `{self.axis}` after a position t drawn per sequence "
            f"replaced ({self.trials} trials, sequences interleaved in trial 2): outputs at or "
            f"before t changed by at most {self.max_change:.1e}{where}, exact law (0) {verdict}"
        ]


def causality_row(
    module: fx.GraphModule,
    ir: Graph,
    rng: np.random.Generator,
    nodes: int,
    graphs: int,
    dtype: torch.dtype,
) -> CausalityRow | None:
    """The law over :data:`CAUSAL_TRIALS` trials (None: not a causal sequence)."""
    axis = ir.domain.axis
    if not ir.domain.causal or axis is None:
        return None
    worst, output = 0.0, ""
    for trial in range(CAUSAL_TRIALS):
        run = module if trial == 0 else random_parameters(module, rng)
        changes = _trial_changes(run, ir, rng, nodes, graphs, dtype, interleave=trial % 2 == 1)
        for name, change in changes.items():
            if not change <= worst:  # NaN counts as the largest change
                worst, output = (math.inf if math.isnan(change) else change), name
    return CausalityRow(axis, CAUSAL_TRIALS, worst, output)


def _trial_changes(
    module: fx.GraphModule,
    ir: Graph,
    rng: np.random.Generator,
    nodes: int,
    graphs: int,
    dtype: torch.dtype,
    interleave: bool,
) -> dict[str, float]:
    axis = ir.domain.axis or ""
    draw = rules_of(ir).draw_sample
    first, second = draw(ir, rng, nodes, graphs, dtype, 0), draw(ir, rng, nodes, graphs, dtype, 0)
    inputs, later = dict(first.inputs), dict(second.inputs)
    batch = inputs.get("batch")
    if interleave and batch is not None:
        _interleave(ir, rng, inputs, later)
        batch = inputs["batch"]
    sizes = first.sizes[axis]
    graphs_given = int(inputs.get("num_graphs", 1))
    positions = token_positions(torch.zeros(sizes), batch, graphs_given)
    lengths = torch.bincount(batch, minlength=graphs_given) if batch is not None else None
    cut = _cuts(rng, lengths if lengths is not None else torch.tensor([sizes]))
    keep = positions <= (cut[batch] if batch is not None else cut[0])
    changed = dict(inputs)
    for name, port in ir.inputs.items():
        if port.type.axes == (axis,):
            mask = keep.reshape(-1, *([1] * (inputs[name].dim() - 1)))
            changed[name] = torch.where(mask, inputs[name], later[name])
    with torch.no_grad():
        before, after = module(**inputs), module(**changed)
    return {name: _change(before[name], after[name], keep, axis in port.type.axes)
            for name, port in ir.outputs.items()}  # fmt: skip


def _cuts(rng: np.random.Generator, lengths: Tensor) -> Tensor:
    """One position ``t`` per sequence, uniform among its tokens (0 for an empty one)."""
    return torch.as_tensor([int(rng.integers(0, max(int(n), 1))) for n in lengths])


def _interleave(
    ir: Graph, rng: np.random.Generator, inputs: dict[str, Any], later: dict[str, Any]
) -> None:
    """Shuffle the sequences' rows together, each sequence keeping its tokens' order: row
    ``r`` takes the next token of the sequence ``labels[r]``."""
    batch = inputs["batch"]
    labels = batch[torch.as_tensor(rng.permutation(batch.shape[0]))]
    graphs = int(inputs.get("num_graphs", 1))
    counts = torch.bincount(batch, minlength=graphs)
    start = torch.cumsum(counts, 0) - counts
    rows = start[labels] + token_positions(labels, labels, graphs)
    axis = ir.domain.axis
    for name, port in ir.inputs.items():
        if port.type.axes == (axis,):
            inputs[name], later[name] = inputs[name][rows], later[name][rows]
    inputs["batch"] = labels


def _change(before: Tensor, after: Tensor, keep: Tensor, over_tokens: bool) -> float:
    """The largest change at the kept rows (every entry of a global output)."""
    diff = (before - after).abs()
    if over_tokens:
        diff = diff[keep]
    if diff.numel() == 0:
        return 0.0
    return math.inf if not torch.isfinite(diff).all() else float(diff.max())
