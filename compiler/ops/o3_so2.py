# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""eSCN's own SO(2) convolution, ``so2_conv`` (Passaro & Zitnick, ICML 2023; docs/escn.md).

Per edge, ``x`` (irreps over edges, e.g. ``h[src]``) is rotated into the frame whose polar
axis (``y``, e3nn's) is the edge vector ``r``; there an SO(2) linear map couples, for each
order ``m <= mmax``, the components ``±m`` of every input degree ``l >= m`` to those of every
output degree ``l' >= m`` (``m = 0``: a real matrix; ``m > 0``: ``[[W1, -W2], [W2, W1]]`` on
``(+m, -m)``), each input component first scaled by a radial weight (a linear map of the
invariant ``w``); the result is rotated back. Components with ``|m| > mmax`` are zero.

Under reflections (O(3), E(3)) the map must also commute with the mirrors through the edge:
a pair (input ``l p``, output ``l' p'``) keeps ``W1`` (and ``m = 0``) when
``p p' (-1)^(l + l') = +1`` and ``W2`` when it is ``-1`` (:func:`so2_blocks`).

    >>> from geoc.groups import Group
    >>> so2_blocks(((2, 1, 1),), ((1, 1, -1),), 1, Group.parse("O(3)"))
    ((1, 0, 0, 2, 1, False, True),)
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.domains import EDGE_AXIS
from geoc.groups import Group, Rotations
from geoc.o3 import MulIrrep
from geoc.ops import AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, invariant_input_violation
from geoc.ops.euclidean import LAYER
from geoc.ops.o3 import IRREP_TRAITS, _irreps, _takes, atom_irrep, kernel_irreps, uses_parity
from geoc.types import FeatureType

#: ``(m, input term, output term, mul in, mul out, keeps W1 (and m = 0), keeps W2)``.
Block = tuple[int, int, int, int, int, bool, bool]

SO2_CONV = define(
    "so2_conv",
    "o3",
    (tensor("x"), tensor("r"), tensor("w"), attr("out", AttrKind.TYPE), attr("mmax", AttrKind.INT)),
    preset(IRREP_TRAITS, "learned", euclidean=LAYER, linear_in=("x",)),
    "`out` over edges: eSCN's SO(2) convolution of `x` in the frame of the edge vector `r` "
    "(orders `|m| <= mmax` of `out`, `m`-blocks scaled by a linear map of the invariant `w`); "
    "`x`, `r`, `w` over edges (`GEO305`), `r` one vector (`GEO300`), `w` invariant (`GEO401`), "
    "`0 <= mmax <= lmax` (`GEO385`), 3-D rotations (`GEO386`), no zero output (`GEO387`)",
)


def so2_lmax(x: FeatureType, out: FeatureType, group: Group) -> int:
    """The largest degree of ``x`` and ``out``."""
    return max(l for _, l, _ in kernel_irreps(x, group) + kernel_irreps(out, group))


def so2_blocks(
    in_irreps: Sequence[MulIrrep], out_irreps: Sequence[MulIrrep], mmax: int, group: Group
) -> tuple[Block, ...]:
    """Every weight block of the SO(2) map, by ``m``, then input term, then output term.

    Parity (reflections act): the mirror through the edge maps component ``±m`` of ``(l, p)``
    to ``±m`` times ``p (-1)^l`` up to a sign shared by all degrees, so it commutes with
    ``W1`` when ``p p' (-1)^(l + l')`` is ``+1`` and with ``W2`` when it is ``-1``.
    """
    parity = uses_parity(group)
    blocks = []
    for m in range(mmax + 1):
        for i, (mul_i, l_i, p_i) in enumerate(in_irreps):
            for o, (mul_o, l_o, p_o) in enumerate(out_irreps):
                if min(l_i, l_o) < m:
                    continue
                eps = p_i * p_o * (-1) ** (l_i + l_o) if parity else 0
                w1, w2 = eps >= 0, eps <= 0 and m > 0
                if w1 or w2:
                    blocks.append((m, i, o, mul_i, mul_o, w1, w2))
    return tuple(blocks)


@typing_rule(SO2_CONV)
def _infer_so2_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant: ``D(R_e) M D(R_e)ᵀ`` with ``R_e ŷ = r̂``, ``M`` commuting with rotations
    about ``ŷ`` (its ``±m`` blocks are ``a I + b J``) and, under reflections, with the mirrors
    through ``ŷ`` (:func:`so2_blocks`), so neither the roll of ``R_e`` nor a mirror matters."""
    x, r, _ = types
    _check_axes(ctx, types)
    if ctx.group.rotations is Rotations.NONE:
        raise ctx.error(
            "GEO386",
            f"`so2_conv` rotates features into edge frames, but {ctx.group} has no rotations",
            label="no rotations",
            help="declare `symmetry O(3)`, `SO(3)`, `E(3)` or `SE(3)`",
        )
    out: FeatureType = attrs["out"]
    if out.axes and out.axes != (EDGE_AXIS,):
        raise ctx.error(
            "GEO305",
            f"`so2_conv` gives a value over edges, not over {axes_text(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    _irreps(ctx, x, 0)
    _irreps(ctx, out, None)
    _irreps(ctx, r, 1)
    if r.copies != 1 or atom_irrep(r.terms[0].atom, ctx.group) != (1, -1):
        fix = "pass the edge vector, e.g. `pos[dst] - pos[src]`"
        raise _takes(ctx, "one edge vector (`vector` or `1o`)", r, 1, fix)
    _check_mmax(ctx, attrs["mmax"], so2_lmax(x, out, ctx.group))
    return (out.with_axes((EDGE_AXIS,)),)


def _check_axes(ctx: OpContext, types: Sequence[FeatureType]) -> None:
    """``x``, ``r`` and ``w`` all over the domain's edges (GEO203 without edges)."""
    if not ctx.domain.has_edges or ctx.domain.axis is None:
        raise ctx.error(
            "GEO203",
            f"`so2_conv` works on edges, but the domain `{ctx.domain}` has none",
            label="no edges here",
            help="declare `domain graph(nodes)` or `domain pointcloud(nodes, edges=...)`",
        )
    for index, ftype in enumerate(types):
        if ftype.axes != (EDGE_AXIS,):
            raise ctx.error(
                "GEO305",
                f"`so2_conv` takes {('x', 'r', 'w')[index]} over edges, not over "
                f"{axes_text(ftype.axes)}",
                arg=index,
                label=str(ftype),
                help="`so2_conv(h[src], pos[dst] - pos[src], radial, out=..., mmax=...)`",
            )


def _check_mmax(ctx: OpContext, mmax: int, lmax: int) -> None:
    if not 0 <= mmax <= lmax:
        raise ctx.error(
            "GEO385",
            f"`mmax` must be between 0 and lmax = {lmax} (the largest degree of `x` and "
            f"`out`), got {mmax}",
            label=f"mmax={mmax}",
            help=f"e.g. `mmax={min(2, lmax)}`",
        )


@contract(SO2_CONV)
def _so2_conv_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    x, _, w = types
    found = invariant_input_violation(
        ctx, w, 2, "feed invariants, e.g. `radial_basis(norm(r), ...)`"
    )
    out: FeatureType = attrs["out"]
    in_irreps, out_irreps = kernel_irreps(x, ctx.group), kernel_irreps(out, ctx.group)
    fed = {o for _, _, o, *_ in so2_blocks(in_irreps, out_irreps, attrs["mmax"], ctx.group)}
    for o, term in enumerate(out.terms):
        if o not in fed:
            message = (
                f"`so2_conv` cannot produce `{term}` from `{x.with_axes(())}` with "
                f"mmax={attrs['mmax']} under {ctx.group}: no input degree couples to it (parity "
                "of the mirrors through the edge), so it would be zero"
            )
            fix = f"drop `{term}` from `out`, raise `mmax`, or feed irreps that couple to it"
            return [*found, ctx.diagnostic("GEO387", message, arg=0, label=str(term), help=fix)]
    return found


__all__ = ["SO2_CONV", "so2_blocks", "so2_lmax"]
