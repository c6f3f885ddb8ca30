"""Normalisation over sets of messages: ``softmax(s, over=E, into=B)`` and ``softmax(s,
over=AXIS)`` (docs/language.md, "Softmax and attention").

``w_e = exp(s_e / T) / Σ_{e' in seg(e)} exp(s_e' / T)``, channel by channel (each channel a
head), where ``seg(e)`` is the set of edges of ``E`` that share ``e``'s destination
(``into=``), or the elements of ``AXIS`` in ``e``'s graph (no ``into``). The scores must be
invariant: the weights then are invariant too, and multiply values of any type through the
ordinary typing of ``*`` and ``sum``. The lowering subtracts each segment's max before ``exp``;
an empty segment produces no entry, so nothing is NaN (backends/torch_fx/attention/kernels.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, not_invariant
from geoc.ops.graph import reduced_axes
from geoc.types import FeatureType

SOFTMAX = define(
    "softmax",
    "attention",
    (
        tensor("s"),
        attr("over", AttrKind.SYMBOL),
        attr("into", AttrKind.SYMBOL, None),
        attr("temperature", AttrKind.FLOAT, 1.0, written_only=True),
    ),
    preset(PLAIN, commutes_gather=False),
    "`exp(s / temperature)` normalised to sum 1, channel by channel: over the edges of `over` "
    "that share a destination (`into=` the edge set's `dst` axis; a node without incoming "
    "edges gets no weight), or over the axis `over` in each graph; the result over `s`'s "
    "axis; `s` invariant (`GEO486`), `temperature > 0` (`GEO378`)",
)


@typing_rule(SOFTMAX)
def _infer_softmax(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Invariant scores give invariant weights: each weight is a function of the scores of its
    own segment, and a permutation of an axis moves every segment's elements together (an
    edge moves with its ends, a node's incoming edges stay its incoming edges), so the
    weights are permuted exactly as the scores; the type, and the axis, are the scores'."""
    (s,) = types
    over, into = attrs["over"], attrs["into"]
    reduced_axes(ctx, s, over, into, "normalises")  # GEO203: wrong axis or `into`
    if s.axes != (over,):
        raise ctx.error(
            "GEO305",
            f"`softmax(..., over={over})` normalises values over `{over}`, but this one is "
            f"over {axes_text(s.axes)}",
            arg=0,
            label=str(s),
            help=f"take scores declared `over {over}`",
        )
    if attrs.get("temperature", 1.0) <= 0:
        raise ctx.error(
            "GEO378",
            f"`softmax(..., temperature={attrs['temperature']})`: the temperature must be > 0",
            label="temperature <= 0",
            help="write a positive temperature (1.0 is the plain softmax)",
        )
    return (s,)


@contract(SOFTMAX)
def _softmax_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """``exp`` of a transforming channel is not equivariant: the scores must be invariant."""
    (s,) = types
    moving = not_invariant(ctx, s)
    if not moving:
        return []
    return [
        ctx.diagnostic(
            "GEO486",
            f"`softmax` of `{moving[0]}` is not equivariant under {ctx.group}: the scores "
            "must be invariant",
            arg=0,
            label=str(s),
            help="take an invariant: `dot`, `sqnorm`, `norm`, or a `linear` to scalars"
            + ctx.breaks_help(),
        )
    ]
