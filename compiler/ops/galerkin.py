"""Galerkin (softmax-free) attention on fields over a flat grid (Cao 2021, "Choose a
Transformer: Fourier or Galerkin", NeurIPS 2021, arXiv:2105.14995, eq. (5)).

Per head ``h``, with ``q_h``, ``k_h``, ``v_h`` the head's channels at each of the ``n`` grid
points: ``out_h(p) = q_h(p) (Σ_x k̃_h(x)ᵀ ṽ_h(x)) / n``, where ``k̃`` and ``ṽ`` are layer-normalised
per head and point (learned per-head scale and shift, initialised to 1 and 0, eps 1e-5:
the paper's code). The heads are concatenated. The cost is linear in ``n``, and the ``1/n``
makes the sum the rectangle-rule quadrature of ``∫ k̃ᵀ ṽ dx`` over the unit domain: the same
weights on a finer grid of a smooth field give the same function (discretisation independence).

Why it is equivariant: the normalisations act point by point on invariant channels, the sum
over every grid point is unchanged when a group element permutes the points (a cyclic shift on
a torus, a rotation of a square one), and ``q`` is read at the output's own point; so the
output moves with its points exactly as ``q`` does. Channels that transform under the group
(a ``regular`` copy under ``C(4)``) are refused: a layer norm mixes them (``GEO416``).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.attention import check_heads
from geoc.ops.core import axes_text, not_invariant
from geoc.ops.euclidean import FIELD_LAYER
from geoc.ops.grid_conv import field_grid
from geoc.types import FeatureType

GALERKIN = define(
    "galerkin_attention",
    "grid",
    (tensor("q"), tensor("k"), tensor("v"), attr("heads", AttrKind.INT, 1)),
    preset(
        PLAIN, "fields", "channel_first", "learned", euclidean=FIELD_LAYER, commutes_gather=False
    ),
    "Galerkin attention (Cao 2021): per head `q_h(p) (Σ_x k̃_h(x)ᵀ ṽ_h(x)) / n` over the `n` "
    "points of the field's grid, `k̃`, `ṽ` layer-normalised per head and point (learned "
    "scale and shift), heads concatenated: linear in `n`, and the `1/n` sum a quadrature, so "
    "independent of the resolution; `q`, `k`, `v` fields over one grid axis (`GEO315`, "
    "`GEO222`), invariant channels (`GEO416`), widths divisible by `heads` (`GEO379`); the "
    "result has `v`'s channels over that axis; commutes with every permutation of the grid "
    "points the group makes (`T(d)`, and `C(4)` / `D(4)` on a square torus)",
)


@typing_rule(GALERKIN)
def _infer_galerkin(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A group element permutes the grid points; the pointwise normalisations of invariant
    channels (contract) move with them, the sum over all points is unchanged, and ``q`` is
    read at the output's own point: the output is ``q``'s point map applied to ``v``-typed
    channels, over the same axis, which moves as any field over it."""
    q, k, v = types
    field_grid(ctx, q)
    for i, x in enumerate((k, v), start=1):
        if x.axes != q.axes:
            raise ctx.error(
                "GEO222",
                f"`galerkin_attention` reads queries, keys and values over one grid; the "
                f"queries are over `{q.axes[0]}`, this one over {axes_text(x.axes)}",
                arg=i,
                label=str(x),
                help=f"compute `q`, `k`, `v` pointwise from one field over `{q.axes[0]}` "
                "(`linear(z, n x scalar)`)",
            )
    if not any(not_invariant(ctx, x) for x in types):  # else the contract refuses
        widths = [ctx.group.type_dim(x) for x in types]
        check_heads(ctx, attrs.get("heads", 1), *widths)
    return (v,)


@contract(GALERKIN)
def _galerkin_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """A layer norm and a product of channels are equivariant only on invariant channels."""
    for i, x in enumerate(types):
        moving = not_invariant(ctx, x)
        if moving:
            return [
                ctx.diagnostic(
                    "GEO416",
                    f"`galerkin_attention` of `{moving[0]}` is not equivariant under "
                    f"{ctx.group}: it layer-normalises and multiplies the channels of "
                    "`q`, `k`, `v`, which must be invariant",
                    arg=i,
                    label=str(x),
                    help="map to invariant channels first: `linear(z, n x scalar)` of scalar "
                    "fields, or `group_pool` of `regular` ones" + ctx.breaks_help(),
                )
            ]
    return []
