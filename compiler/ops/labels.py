"""Integer labels: values of type ``index(n)`` (a species, an atom type, a class per element),
the guard that keeps them out of every operator argument but those the operator's ``labels``
trait names (``GEO360``): ``embed``'s ``z`` (``layers.py``), the learned table that turns labels
into features, and ``symmetric_contraction``'s ``species`` (``o3_contraction.py``), which picks
a row of weights by label.

A label is a class, not a number: the group acts on it trivially (permutations of the axis
move it with its element), and arithmetic on it would depend on how the classes are numbered.
So no operator computes with labels; those two look them up (docs/language.md, "Integer
labels").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError
from geoc.types import FeatureType

if TYPE_CHECKING:
    from geoc.ops import OpContext, OpDef


def guard_labels(ctx: OpContext, op: OpDef, types: Sequence[FeatureType]) -> None:
    """GEO360 for an ``index(n)`` argument of an operator that does not read labels: checked
    for every call before its typing rule, so no operator can forget it."""
    problems = label_violations(ctx, op, types)
    if problems:
        raise GeoError(problems[0])


def label_violations(ctx: OpContext, op: OpDef, types: Sequence[FeatureType]) -> list[Diagnostic]:
    """The GEO360 of a call, also among its contracts (``check_call``), so a graph typed
    elsewhere (built by hand, read from JSON) cannot hide labels in arithmetic either."""
    for index, ftype in enumerate(types):
        if ftype.has_labels and _param_name(op, index) not in op.traits.labels:
            return [
                ctx.diagnostic(
                    "GEO360",
                    f"`{op.syntax or op.name}` does not take integer labels: this value is "
                    f"`{ftype}`",
                    arg=index,
                    label=str(ftype),
                    help="labels are classes, not numbers: make features of them first with "
                    "`embed(z, channels x scalar)`",
                )
            ]
    return []


def _param_name(op: OpDef, index: int) -> str:
    """The name of tensor argument ``index`` (a variadic parameter names all the rest)."""
    params = op.tensor_params
    return params[min(index, len(params) - 1)].name if params else ""


__all__ = ["guard_labels", "label_violations"]
