"""Operators only the optimiser writes (``geoc.optimize``): compositions of surface operators
that the backend computes in fewer multiply-adds, typed and checked as those compositions.

``gathered_mlp(p1, .., pk, ends=(e1, .., ek), ..)`` is ``mlp(concat(p1[e1], .., pk[ek]), ..)``
where an empty end means the part is already over edges: its first layer
``W·concat(a[dst], b[src], c) + bias`` is computed as ``(W_a a)[dst] + (W_b b)[src] + W_c c +
bias``, per node instead of per edge. ``gathered_linear`` is the same for a ``linear`` map
between invariant scalars. Both keep the parameters (names and shapes) of the node they
replace, so a saved model loads into either form.

``gathered_bilinear(a, b, ends=(e1, e2), out, ..)`` is ``linear(a[e1] * b[e2], out, ..)``
between invariant scalars (attention scores ``q[dst]·k[src]``), and
``gathered_weighted_sum(w, v, end=src, over=edges, into=nodes)`` is ``sum(w * v[src], ..)``
with ``w`` one invariant scalar per edge (attention's weighted values): the backend computes
both without per-edge feature rows (sparse products over the edges).

Each operator: its signature, its typing rule, its equivariance contract, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoc.diagnostics import Diagnostic
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    check_call,
    contract,
    define,
    infer_call,
    init_attrs,
    lookup,
    preset,
    tensor,
    tensors,
    typing_rule,
)
from geoc.ops.euclidean import LAYER
from geoc.types import FeatureType

_ENDS = attr("ends", AttrKind.ANY)
_GATHERED = preset(PLAIN, "learned", "bias", euclidean=LAYER, commutes_gather=False)
_DOC = (
    "`{0}(concat(p1[e1], ..))` with its first layer computed part by part, per node for the "
    "gathered parts (written by the optimiser only)"
)

GATHERED_MLP = define(
    "gathered_mlp",
    "rewrite",
    (
        tensors("parts"),
        _ENDS,
        attr("widths", AttrKind.INT_LIST),
        attr("act", AttrKind.SYMBOL, "silu"),
        attr("last_act", AttrKind.BOOL, False),
        attr("bias", AttrKind.BOOL, True, per_layer=True),
        *init_attrs(per_layer=True),
    ),
    _GATHERED,
    _DOC.format("mlp"),
    internal=True,
)
GATHERED_LINEAR = define(
    "gathered_linear",
    "rewrite",
    (
        tensors("parts"),
        _ENDS,
        attr("out", AttrKind.TYPE),
        attr("bias", AttrKind.BOOL, True),
        *init_attrs(),
    ),
    _GATHERED,
    _DOC.format("linear"),
    internal=True,
)


GATHERED_BILINEAR = define(
    "gathered_bilinear",
    "rewrite",
    (
        tensor("a"),
        tensor("b"),
        _ENDS,
        attr("out", AttrKind.TYPE),
        attr("bias", AttrKind.BOOL, True),
        *init_attrs(),
    ),
    _GATHERED,
    "`linear(a[e1] * b[e2])` between invariant scalars, without per-edge products of the "
    "inputs (written by the optimiser only)",
    internal=True,
)
GATHERED_WEIGHTED_SUM = define(
    "gathered_weighted_sum",
    "rewrite",
    (
        tensor("w"),
        tensor("v"),
        attr("end", AttrKind.SYMBOL),
        attr("over", AttrKind.SYMBOL),
        attr("into", AttrKind.SYMBOL),
    ),
    preset(PLAIN, commutes_gather=False),
    "`sum(w * v[end], over=edges, into=nodes)`, one weight per edge, without per-edge rows of "
    "`v` (written by the optimiser only)",
    internal=True,
)

#: The surface operator each rewritten one is blamed as (the last of its composition).
_WRITTEN_AS = {GATHERED_BILINEAR: "linear", GATHERED_WEIGHTED_SUM: "sum"}


def base_op(name: str) -> str:
    """The surface operator a gathered form stands for: ``gathered_mlp`` -> ``mlp``."""
    return _WRITTEN_AS.get(name, name.removeprefix("gathered_"))


def base_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k != "ends"}


def _sub(ctx: OpContext, op: str) -> OpContext:
    return OpContext(op, ctx.group, ctx.domain, ctx.span, ctx.arg_spans, domains=ctx.domains)


def _joined(
    ctx: OpContext, types: Sequence[FeatureType], ends: Sequence[str]
) -> tuple[list[FeatureType], FeatureType]:
    """Each part as the base operator's input sees it (gathered where it has an end), and
    their concatenation, typed by ``gather``'s and ``concat``'s own rules."""
    parts = [
        infer_call(_sub(ctx, "gather"), lookup("gather"), [t], {"end": end})[0] if end else t
        for t, end in zip(types, ends, strict=True)
    ]
    return parts, infer_call(_sub(ctx, "concat"), lookup("concat"), parts, {})[0]


@typing_rule(GATHERED_MLP, GATHERED_LINEAR)
def _infer_gathered(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Typed as the composition it stands for, by gather's, concat's and the base operator's
    own rules: it transforms as that composition does, which is what it computes."""
    _, joined = _joined(ctx, types, attrs["ends"])
    base = base_op(ctx.op)
    return infer_call(_sub(ctx, base), lookup(base), [joined], base_attrs(attrs))


@contract(GATHERED_MLP, GATHERED_LINEAR)
def _gathered_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """The contracts of every operator of the composition, on the types each one sees."""
    parts, joined = _joined(ctx, types, attrs["ends"])
    found: list[Diagnostic] = []
    for ftype, end in zip(types, attrs["ends"], strict=True):
        if end:
            found += check_call(_sub(ctx, "gather"), lookup("gather"), [ftype], {"end": end})
    found += check_call(_sub(ctx, "concat"), lookup("concat"), parts, {})
    base = base_op(ctx.op)
    return found + check_call(_sub(ctx, base), lookup(base), [joined], base_attrs(attrs))


# --- a product of gathered values, and a weighted sum of gathered values -----------------------


Steps = list[tuple[str, list[FeatureType], dict[str, Any]]]


def _product_steps(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> Steps:
    """The composition a product form stands for, call by call: (operator, its input types,
    its attributes), each input typed by the calls before it."""
    steps: Steps = []

    def call(op: str, inputs: list[FeatureType], op_attrs: dict[str, Any]) -> FeatureType:
        steps.append((op, inputs, op_attrs))
        return infer_call(_sub(ctx, op), lookup(op), inputs, op_attrs)[0]

    _COMPOSITIONS[ctx.op](call, types, attrs)
    return steps


def _bilinear(call, types: Sequence[FeatureType], attrs: dict) -> None:
    """``linear(a[e1] * b[e2], ..)``."""
    gathered = [call("gather", [t], {"end": e}) for t, e in zip(types, attrs["ends"], strict=True)]
    call("linear", [call("mul", gathered, {})], base_attrs(attrs))


def _weighted_sum(call, types: Sequence[FeatureType], attrs: dict) -> None:
    """``sum(w * v[end], over, into)``."""
    w, v = types
    weighted = call("mul", [w, call("gather", [v], {"end": attrs["end"]})], {})
    call("sum", [weighted], {"over": attrs["over"], "into": attrs["into"]})


_COMPOSITIONS = {GATHERED_BILINEAR: _bilinear, GATHERED_WEIGHTED_SUM: _weighted_sum}


@typing_rule(GATHERED_BILINEAR, GATHERED_WEIGHTED_SUM)
def _infer_product(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Typed as the composition it stands for, by gather's, mul's and the last operator's own
    rules: it transforms as that composition does, which is what it computes."""
    op, inputs, op_attrs = _product_steps(ctx, types, attrs)[-1]
    return infer_call(_sub(ctx, op), lookup(op), inputs, op_attrs)


@contract(GATHERED_BILINEAR, GATHERED_WEIGHTED_SUM)
def _product_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """The contracts of every operator of the composition, on the types each one sees."""
    found: list[Diagnostic] = []
    for op, inputs, op_attrs in _product_steps(ctx, types, attrs):
        found += check_call(_sub(ctx, op), lookup(op), inputs, op_attrs)
    return found
