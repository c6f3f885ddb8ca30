"""Per-head weights on values of any type: ``head_scale(a, v)`` (docs/language.md, "Softmax and
attention"; EquiformerV2's attention, Liao et al. 2024, arXiv:2306.12059).

``a`` holds one invariant weight per head, ``H x scalar``; the copies of every term of ``v``
split into ``H`` equal runs in order (head ``h`` holds copies ``h m/H .. (h+1) m/H - 1`` of a
term of ``m`` copies, the layout of a ``[..., H, m/H]`` reshape of each degree), and head ``h``
is scaled by ``a_h``. It is the typed form of "split into heads, weigh, merge": multi-head
graph attention on irreps messages is ``sum(head_scale(softmax(s, over=edges, into=nodes),
v), over=edges, into=nodes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, OpContext, contract, define, preset, tensor, typing_rule
from geoc.ops.core import invariant_input_violation, joint_axes, point_violation
from geoc.ops.euclidean import ARITH
from geoc.types import FeatureType

HEAD_SCALE = define(
    "head_scale",
    "attention",
    (tensor("a"), tensor("v")),
    preset(PLAIN, euclidean=ARITH, linear_in=("a", "v")),
    "`v` with its heads scaled: `a` is `H x scalar`, one invariant weight per head (`GEO401`); "
    "each term of `v` splits its copies into `H` equal runs in order, head `h` the `h`-th run, "
    "times `a_h` (copies not divisible by `H`: `GEO395`); typed as `v`; points: `GEO404`",
)


def head_of_copy(v: FeatureType, heads: int) -> list[int]:
    """The head of each copy of ``v``, copy by copy: term by term, ``mul / heads`` copies of
    head 0, then of head 1, ... (the typing rule has checked the division)."""
    out: list[int] = []
    for term in v.terms:
        per_head = term.mul // heads
        out.extend(h for h in range(heads) for _ in range(per_head))
    return out


@typing_rule(HEAD_SCALE)
def _infer_head_scale(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Typed as ``v``: every head is a run of whole copies of one term (never part of a copy),
    so each copy is multiplied by one invariant scalar, which commutes with the group's action
    on that copy; ``a`` and ``v`` share their axes, so a permutation moves both rows alike."""
    a, v = types
    axes = joint_axes(ctx, types)
    heads = a.copies
    for term in v.terms:
        if term.mul % heads:
            raise ctx.error(
                "GEO395",
                f"`head_scale`: {heads} heads (the channels of `a`) do not split the "
                f"{term.mul} copies of `{term.atom}` in `v` into equal runs",
                arg=1,
                label=f"{term.mul} x {term.atom}",
                help=f"give every term of `v` a multiple of {heads} copies (e.g. "
                f"`linear(v, {heads * max(1, term.mul // heads)} x {term.atom} + ...)`), or "
                "score as many heads as divide them all",
            )
    return (v.with_axes(axes),)


@contract(HEAD_SCALE)
def _head_scale_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """A transforming weight would multiply two transforming values (``GEO401``); scaling a
    point is not translation-equivariant (``GEO404``)."""
    a, v = types
    fix = "weigh with invariants, e.g. `softmax(s, over=edges, into=nodes)` of invariant scores"
    found = invariant_input_violation(ctx, a, 0, fix)
    return found or point_violation(
        ctx, v, 1, "`head_scale` of a point", "weigh displacements `x - o` instead"
    )


__all__ = ["HEAD_SCALE", "head_of_copy"]
