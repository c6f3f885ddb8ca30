"""Declared symmetry breaking, measured: a model checked under the remaining group H
(``ir.group``) is also run under random elements of the declared group G, which lie outside H
with probability one. The outputs should move off their law there; if none does, the
declaration may be vacuous and the report says so (``GEO630``, a warning: the verdict under H
stands)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

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
    # No operator reads a value named after `by`: every one was typed under the declared group.
    unread: bool = False

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
            help=("no operator reads a value named after `by`: " if self.unread else "")
            + "drop the `breaks` statement to have the whole group verified",
        )


def under_declared_group(ir: Graph) -> Graph | None:
    """The same graph acted on by its declared group (None when nothing is declared broken):
    the checker's trials on it sample elements outside the remainder."""
    if not ir.broken or ir.declared is None:
        return None
    declared = copy.copy(ir)
    declared.group = ir.declared
    return declared


def breaking_row(
    declared: Graph, exact: float, rows: tuple[BandLimitedRow, ...], rtol: float
) -> BreakingRow:
    """The row of the report: the largest relative deviation of the exact trials under the
    declared group, and its band-limited rotation rows (grids)."""
    broken = "; ".join(map(str, declared.broken))
    unread = all(n.id in declared.unbroken for n in declared.nodes if n.op != "input")
    bound = exact_bound(rtol, 1.0)
    return BreakingRow(str(declared.group), broken, exact, bound, rows, unread)
