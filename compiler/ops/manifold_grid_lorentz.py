"""HCNN on grids (Bdeir, Schwethelm & Landwehr, ICLR 2024, "Fully Hyperbolic Convolutional
Neural Networks for Computer Vision"): the manifold family's layers of fields of Lorentz points.

A field over a torus or non-periodic ``grid`` carries one ``lorentz(n, k)`` point per grid
point (docs/manifolds.md, "Fields of hyperbolic points"); the group moves the grid and leaves
each point alone. ``lorentz_conv`` maps each point's neighbourhood with the same weights,
``lorentz_batch_norm`` normalises with statistics pooled over the batch and every grid point,
``lorentz_residual`` adds two points' space parts at each grid point. The kernels are in
``backends/torch_fx/manifold/lorentz_grid_kernels.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.domains.grid import rotates_grid
from geoc.ops import AttrKind, OpContext, attr, contract, define, tensor, typing_rule
from geoc.ops.core import joint_axes, positive
from geoc.ops.grid_conv import field_grid, kernel_sizes
from geoc.ops.manifold import (
    LEARNED_TRAITS,
    MANIFOLD_TRAITS,
    L,
    check_batch_norm,
    learned_map_breaks_rotations,
    single_point,
)
from geoc.ops.traits import preset
from geoc.types import Atom, FeatureType, Term

LORENTZ_CONV = define(
    "lorentz_conv",
    "manifold",
    (
        tensor("x"),
        attr("out", AttrKind.INT),
        attr("kernel", AttrKind.ANY, 3),
        attr("bias", AttrKind.BOOL, True),
    ),
    # Reads each point's neighbours: it does not move past a gather.
    preset(LEARNED_TRAITS, "bias", commutes_gather=False),
    "`lorentz(out, k)` over the input's grid: HCNN's Lorentz convolution (Bdeir et al. 2024), "
    "the Lorentz direct concatenation of each point's `kernel` neighbourhood (circular on a "
    "`torus`, the origin past a `grid(..., boundary=zero)`, mirrored at `reflect`) then the "
    "fully hyperbolic linear layer (Chen et al. 2022, Eq. 3); one `lorentz` point per grid "
    "point (`GEO322`, `GEO323`), a field over a flat grid (`GEO315`), odd `kernel` at most the "
    "grid size (`GEO316`); commutes exactly with `T(d)`",
)


@typing_rule(LORENTZ_CONV)
def _infer_lorentz_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Shift-equivariant: the same weights map the same offsets (mod n) at every grid point, so
    the circular neighbourhood moves with a cyclic shift and the output shifts with it; a
    non-periodic grid carries only the trivial group."""
    (x,) = types
    grid = field_grid(ctx, x)
    atom = single_point(ctx, x.with_axes(()), (L,))
    kernel_sizes(ctx, attrs["kernel"], grid)
    positive(ctx, "GEO324", "out", attrs["out"], "e.g. `lorentz_conv(x, 16, kernel=3)`")
    _not_rotated(ctx)
    out = Atom(L, (attrs["out"],), curvature=atom.curvature)
    return (FeatureType((Term(1, out),), x.axes),)


def _not_rotated(ctx: OpContext) -> None:
    """GEO414 under grid rotations: a free kernel is not invariant under them (a field of
    points cannot live there anyway, GEO310; this keeps the rule sound on its own)."""
    if rotates_grid(ctx.group):
        raise ctx.error(
            "GEO414",
            f"`{ctx.op}` has a free kernel, which the rotations of {ctx.group} do not map onto "
            "itself: it is not equivariant under them",
            label=ctx.op,
            help="declare `symmetry T(d)` (the shifts, which it commutes with)",
        )


LORENTZ_BATCH_NORM = define(
    "lorentz_batch_norm",
    "manifold",
    (
        tensor("x"),
        attr("momentum", AttrKind.FLOAT, 0.1),
        attr("eps", AttrKind.FLOAT, 1e-5),
    ),
    # Learned (running statistics, a scale and a bias point); it reads the whole batch.
    preset(LEARNED_TRAITS, "bias", commutes_gather=False),
    "same type: HCNN's Lorentz batch norm (Bdeir et al. 2024, Alg. 1) of a field of `lorentz` "
    "points, statistics over the batch and every grid point: centred at the Lorentzian centroid, "
    "tangents rescaled by `γ / sqrt(σ² + eps)` (`σ²` the Fréchet variance), re-centred at a "
    "learned point; running mean and variance by `momentum` for eval mode (`GEO332`); a field "
    "over a flat grid (`GEO315`); shift- and batch-order-equivariant in both modes",
)


@typing_rule(LORENTZ_BATCH_NORM)
def _infer_lorentz_batch_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: every point goes through one map of the pooled statistics (or the fixed
    running ones), which a shift of the grid or a reordering of the batch leaves unchanged."""
    (x,) = types
    field_grid(ctx, x)
    single_point(ctx, x.with_axes(()), (L,))
    check_batch_norm(ctx, x, attrs["momentum"])
    eps = attrs["eps"]
    if not eps > 0:
        raise ctx.error(
            "GEO332",
            f"`eps` keeps `sqrt(σ² + eps)` away from 0 and must be positive, got {eps!r}",
            attr="eps",
            label=repr(eps),
            help="e.g. `eps=1e-5`",
        )
    return (x,)


LORENTZ_RESIDUAL = define(
    "lorentz_residual",
    "manifold",
    (tensor("x"), tensor("y")),
    MANIFOLD_TRAITS,
    "the type of `x` on the joint axes: HCNN's residual connection (Bdeir et al. 2024), the sum "
    "of the space parts of two points of one `lorentz(n, k)` with the time recomputed "
    "(`GEO322`, `GEO323`)",
)


@typing_rule(LORENTZ_RESIDUAL)
def _infer_lorentz_residual(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """One fixed map of each element's pair of points: it commutes with moving the elements."""
    axes = joint_axes(ctx, types)
    first, second = (single_point(ctx, t.with_axes(()), (L,), i) for i, t in enumerate(types))
    if first != second:
        raise ctx.error(
            "GEO323",
            f"`lorentz_residual` adds the space parts of points of one hyperboloid: `{first}` "
            f"and `{second}`",
            arg=1,
            label=str(second),
            help="map both onto the same `lorentz(n, k)` first (e.g. `lorentz_conv(y, n)`)",
        )
    return (FeatureType((Term(1, first),), axes),)


contract(LORENTZ_CONV, LORENTZ_BATCH_NORM)(learned_map_breaks_rotations)
