"""``interpolate(h, over=E, into=B)``: PointNet++'s feature propagation, the inverse-distance
weighted mean of ``h`` over each destination's edges (the rest of the family is in
:mod:`geoc.ops.graph`).

``f(b) = Σ_j w_j h(a_j) / Σ_j w_j`` over the edges ``a_j -> b`` of ``E`` (typically
``rule=knn(3)`` from a coarse axis to a fine one), ``w_j = 1 / max(|p_b - p_{a_j}|², eps)``,
``eps = 1e-16``, the positions those of ``E``'s two point clouds. A destination without edges
gets 0. Squared distances only: no square root, so a destination on top of a source has a
finite weight and finite derivatives (backends/torch_fx/graph/interpolation_kernels.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.domains.axes import CLOUDS, domain_of
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text
from geoc.ops.euclidean import REDUCE
from geoc.ops.graph import reduced_axes
from geoc.types import FeatureType

#: The floor of a squared distance, PyTorch Geometric's ``knn_interpolate``'s.
EPS = 1e-16

INTERPOLATE = define(
    "interpolate",
    "graph",
    (tensor("x"), attr("over", AttrKind.SYMBOL), attr("into", AttrKind.SYMBOL, None)),
    preset(PLAIN, euclidean=REDUCE, linear_in=("x",), commutes_gather=False),
    "PointNet++'s inverse-distance interpolation: `x` over the `src` axis of the edge set "
    "`over` (between point clouds, `GEO375`), at each `dst` element the mean of its edges' "
    "sources weighted by `1 / max(d², 1e-16)` (no edge: 0; of points: `GEO404`)",
)


@typing_rule(INTERPOLATE)
def _infer_interpolate(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Transforms as ``x``: a convex combination of its values with invariant weights.

    The weights are functions of distances between points, and points exist only under
    isometries (``GEO330`` otherwise), which keep distances; permutations move each edge with
    its ends. A destination without edges gets 0, which the contract refuses for points."""
    (x,) = types
    over, into = attrs["over"], attrs["into"]
    ends = ctx.edge_ends(over)
    if ends is None:
        raise _unknown(ctx, over)
    src, dst = ends
    reduced_axes(ctx, x.with_axes((over,)), over, into or dst, "interpolates")
    if x.axes != (src,):
        raise ctx.error(
            "GEO305",
            f"`interpolate(..., over={over})` reads values over `{over}`'s `src` axis "
            f"`{src}`, but this one is over {axes_text(x.axes)}",
            arg=0,
            label=str(x),
            help=f"interpolate a value declared `over {src}` (onto `{dst}`)",
        )
    _check_positions(ctx, over, (src, dst))
    return (x.with_axes((dst,)),)


def _unknown(ctx: OpContext, name: str) -> Exception:
    declared = [d.axis for d in ctx.domains if d.ends]
    return ctx.error(
        "GEO203",
        f"`interpolate(..., over={name})`: no edge set is called `{name}`",
        label="unknown edge set",
        attr="over",
        help=f"the edge sets: {', '.join(declared)}"
        if declared
        else f"declare `domain edges({name}, src=centres, dst=points, rule=knn(3))`",
    )


def _check_positions(ctx: OpContext, over: str, ends: tuple[str, str]) -> None:
    """GEO375 unless both ends are point clouds (the weights are their distances); GEO517 for
    a periodic cell (an edge's distance is then to an image, which is not built here)."""
    domains = ctx.domains or (ctx.domain,)
    for axis in ends:
        owner = domain_of(domains, axis)
        if owner is None or owner.kind not in CLOUDS:  # a sampled axis is a point cloud
            kind = owner.kind.value if owner is not None else "no domain"
            raise ctx.error(
                "GEO375",
                f"`interpolate` weighs by distances, but `{axis}` ({kind}) has no positions",
                attr="over",
                label=f"over={over}",
                help="interpolate over an edge set between point clouds: "
                "`domain edges(up, src=centres, dst=points, rule=knn(3))`",
            )
        if owner.cell:
            raise ctx.error(
                "GEO517",
                "`interpolate` over a periodic cell's edges is not built yet",
                attr="over",
                label=f"over={over}",
                help="an edge's distance would be to a periodic image: reduce with `mean` "
                "and explicit weights instead",
            )


@contract(INTERPOLATE)
def _interpolate_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """Points: the weights sum to 1 where a destination has an edge, but one without any (a
    graph with no source element, a one-node graph) would get 0, which is not a point."""
    (x,) = types
    if not (x.has_points and ctx.group.translations):
        return []
    return [
        ctx.diagnostic(
            "GEO404",
            f"`interpolate` of points over {attrs['over']}: a destination without edges would "
            "receive 0, which is not a point",
            arg=0,
            label=str(x),
            help="interpolate displacements (vectors, `x - p` from a point `p` of each "
            "destination) and add the result to that point",
        )
    ]
