"""The Gaussian window of cross-attention, ``attention(..., over=E, window=σ)``: every score of
an edge ``a -> b`` gets ``-|p_b - p_a|² / σ²`` before the softmax (equivariant neural fields,
Wessels et al. 2024, arXiv:2406.05753), with ``p`` the positions of the edge set's two point
clouds. A distance between two points is invariant under every group acting on points and
moves with its edge under permutations, so the scores stay invariant."""

from __future__ import annotations

from geoc.domains.axes import CLOUDS, domain_of
from geoc.ops import OpContext


def window_checks(ctx: OpContext, over: str, ends: tuple[str, str] | None, window: float) -> None:
    """GEO392: a window that is not positive; GEO393: no positions at both ends (or not an
    edge set); GEO526: a periodic cell's edges (a distance to an image: not built)."""
    if window == 0.0:
        return
    if window < 0:
        raise ctx.error(
            "GEO392",
            f"`attention(..., window={window})`: the window's width must be > 0",
            attr="window",
            label="window <= 0",
            help="write the width σ of the Gaussian window, or leave `window` out for none",
        )
    domains = ctx.domains or (ctx.domain,)
    for axis in ends or (over,):
        owner = domain_of(domains, axis) if ends is not None else None
        if owner is None or owner.kind not in CLOUDS:
            kind = f"`{axis}` has no positions" if ends else f"`{over}` is no edge set"
            raise ctx.error(
                "GEO393",
                f"`attention(..., window=...)` weighs by distances, but {kind}",
                attr="window",
                label=f"over={over}",
                help="attend over an edge set between point clouds: "
                "`domain edges(E, src=latents, dst=queries, rule=knn(k))`",
            )
        if owner.cell:
            raise ctx.error(
                "GEO526",
                "`attention(..., window=...)` over a periodic cell's edges is not built yet",
                attr="window",
                label=f"over={over}",
                help="an edge's distance would be to a periodic image: drop the window, or "
                "add a score from `sqnorm` of the edge vector",
            )
