"""Declared symmetry breaking, measured: a model checked under the remaining group H
(``ir.group``) is also run under random elements of the declared group G, which lie outside H
with probability one. The outputs should move off their law there; if none does, the
declaration may be vacuous and the report says so (``GEO630``, a warning: the verdict under H
stands)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.domains import rules_of
from geoc.backends.torch_fx.domains.fields import BandLimitedRow
from geoc.backends.torch_fx.verify.laws import exact_bound
from geoc.diagnostics import Diagnostic
from geoc.ir import Graph

#: Trials under the declared group: one element outside H already shows a real break.
WITNESS_TRIALS = 2


@dataclass(frozen=True)
class BreakingRow:
    """How far the outputs move off their law under elements of the declared group."""

    declared: str
    broken: str  # "T(3) broken by `x`; ..."
    rel_error: float  # the largest relative deviation of any output, over the trials
    bound: float  # the exact-law bound it is compared with
    # Where the declared group's exact elements on a grid all lie in the remainder (SO(3) on a
    # sphere: polar rotations by grid steps), its general rotations of band-limited fields.
    band_limited: tuple[BandLimitedRow, ...] = ()

    @property
    def observed(self) -> bool:
        """Whether the model really breaks the declared group (not a vacuous declaration)."""
        return not self.rel_error <= self.bound or any(not r.passed for r in self.band_limited)

    def lines(self) -> list[str]:
        head = f"  declared: {self.declared}; {self.broken}"
        if self.observed:
            worst = max([self.rel_error, *(r.rel_error for r in self.band_limited)])
            band = " (band-limited rotations included)" if self.band_limited else ""
            return [
                head,
                f"    under {self.declared} outputs move off their law by up to "
                f"{worst:.1e} (relative){band}: the declared breaking is real",
            ]
        warning = self.warning()
        return [
            head,
            f"  warning[{warning.code}]: {warning.message}",
            f"    = help: {warning.help}",
        ]

    def warning(self) -> Diagnostic:
        return Diagnostic(
            "GEO630",
            f"{self.broken}, but under {self.declared} every output still obeys its "
            f"law (relative error {self.rel_error:.1e}): the `breaks` may be unnecessary",
            None,
            help="drop the `breaks` statement to have the whole group verified",
        )


def measure_breaking(
    module: fx.GraphModule, ir: Graph, rng: np.random.Generator, nodes: int, graphs: int,
    dtype: torch.dtype, rtol: float,
) -> BreakingRow | None:  # fmt: skip
    """The largest deviation of any output under random elements of the declared group."""
    if not ir.broken or ir.declared is None:
        return None
    from geoc.backends.torch_fx.verify.check import _make_trial, _output_errors, draw_sample

    declared = copy.copy(ir)  # the same graph, acted on by the declared group
    declared.group = ir.declared
    worst, device = 0.0, _device_of(module)
    for index in range(WITNESS_TRIALS):
        sample = draw_sample(declared, rng, nodes, graphs, dtype, index)
        trial = _make_trial(declared, rng, index, sample, None, device)
        for dev in _output_errors(module, declared, trial).values():
            relative = dev.error / max(dev.scale, 1.0)
            worst = max(worst, relative if np.isfinite(relative) else np.inf)
    rows = tuple(rules_of(declared).approximate_rows(module, declared, rng, 1, dtype))
    broken = "; ".join(map(str, ir.broken))
    return BreakingRow(str(ir.declared), broken, worst, exact_bound(rtol, 1.0), rows)


def _device_of(module: fx.GraphModule) -> torch.device:
    tensors = [*module.parameters(), *module.buffers()]
    return tensors[0].device if tensors else torch.device("cpu")
