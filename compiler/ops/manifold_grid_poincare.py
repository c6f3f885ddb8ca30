"""Poincaré ResNet on flat grids (van Spengler, Berkhout & Mettes, ICCV 2023), built on the
layers of HNN++ (Shimizu, Mukuta & Harada, ICLR 2021): the manifold family's
`poincare_conv`, `poincare_midpoint_batch_norm` and `poincare_midpoint`.

A feature map carries one point of `poincare(n, c)` per grid point (docs/manifolds.md, "Fields
of hyperbolic points"); the shifts of a torus move the grid and leave every point alone. The
kernels are in ``backends/torch_fx/manifold/poincare_grid_kernels.py``, with the equations.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.ops import AttrKind, OpContext, attr, contract, define, tensor, typing_rule
from geoc.ops.core import positive
from geoc.ops.grid_conv import field_grid, kernel_sizes
from geoc.ops.manifold import (
    MANIFOLD_TRAITS,
    P,
    check_batch_norm,
    learned_map_breaks_rotations,
    pooled_point,
    single_point,
)
from geoc.ops.traits import preset
from geoc.types import Atom, FeatureType, Term

# ---------------------------------------------------------------------------------------------
# poincare_conv (HNN++ §3.3 convolution: β-concatenation + Poincaré fully connected layer)

POINCARE_CONV = define(
    "poincare_conv",
    "manifold",
    (tensor("x"), attr("out", AttrKind.INT), attr("kernel", AttrKind.ANY, 3)),
    # Learned (a_k, r_k); it reads each point's neighbours, so it does not move past a gather.
    preset(MANIFOLD_TRAITS, "learned", commutes_gather=False),
    "`poincare(out, c)` over the input's grid: the Poincaré convolution of HNN++ (Shimizu et "
    "al. 2021), the `k^d` neighbours of every grid point β-concatenated into one point of "
    "`poincare(k^d n, c)`, then the Poincaré fully connected layer (per output a direction "
    "`a_k` and an offset `r_k`); circular on a `torus`, the origin past a `grid`'s `zero` "
    "edge (mirror for `reflect`); one `poincare(n, c)` point per grid point (`GEO322`, "
    "`GEO323`); odd `kernel` up to the grid size (`GEO316`); commutes exactly with `T(d)`",
)


@typing_rule(POINCARE_CONV)
def _infer_poincare_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Every grid point reads the same offsets of the input (mod n on a torus) through the same
    weights, so the map commutes with every cyclic shift; a point is never rotated (GEO330)."""
    (x,) = types
    grid = field_grid(ctx, x)
    atom = single_point(ctx, x.with_axes(()), (P,))
    kernel_sizes(ctx, attrs["kernel"], grid)
    positive(ctx, "GEO324", "out", attrs["out"], "e.g. `poincare_conv(x, 16, kernel=3)`")
    out = Atom(P, (attrs["out"],), curvature=atom.curvature)
    return (FeatureType((Term(1, out),), x.axes),)


# ---------------------------------------------------------------------------------------------
# poincare_midpoint_batch_norm (van Spengler et al. 2023, §3.3; Lou et al. 2020)

POINCARE_BATCH_NORM = define(
    "poincare_midpoint_batch_norm",
    "manifold",
    (tensor("x"), attr("bias", AttrKind.BOOL, True), attr("momentum", AttrKind.FLOAT, 0.1)),
    # Learned (γ, a bias point, running statistics); reads the whole batch: no gather moves.
    preset(MANIFOLD_TRAITS, "learned", "bias", commutes_gather=False),
    "same type: Poincaré ResNet's midpoint batch norm over every point of the call (the "
    "samples and every grid point or element): gyromidpoint `μ`, Fréchet variance `σ²`, "
    "`b ⊕ exp₀(γ / σ · log₀(−μ ⊕ x))`; running midpoint and variance by `momentum` for eval "
    "mode (`GEO332`); one `poincare` point (`GEO322`, `GEO323`); not over edges or several "
    "axes (`GEO333`); shift- and reorder-equivariant in both modes",
)


@typing_rule(POINCARE_BATCH_NORM)
def _infer_poincare_batch_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: the statistics are symmetric functions of all points (every grid point and
    sample alike), so a shift or a reordering leaves them and moves only the points, which
    the same map then sends; in eval mode the map is pointwise with fixed statistics."""
    (x,) = types
    single_point(ctx, x.with_axes(()), (P,))
    check_batch_norm(ctx, x, attrs["momentum"])
    return (x,)


# Fixed coordinates (the directions a_k, the bias point b, the running midpoint): rotating the
# ball does not move them, so under rotations both are GEO410.
contract(POINCARE_CONV, POINCARE_BATCH_NORM)(learned_map_breaks_rotations)


# ---------------------------------------------------------------------------------------------
# poincare_midpoint: the same mean as the batch norm's, as a pooling operator

POINCARE_MIDPOINT = define(
    "poincare_midpoint",
    "manifold",
    (tensor("x"), attr("over", AttrKind.SYMBOL, None), attr("into", AttrKind.SYMBOL, None)),
    preset(MANIFOLD_TRAITS, commutes_gather=False),
    "the Poincaré gyromidpoint (Ungar; the mean of Poincaré ResNet's batch norm) of the copies "
    "of `x` (`over` omitted), pooled `over` an axis (a whole grid: every point weighs the "
    "same), or `over=edges, into=nodes` onto `dst` (a node without incoming edges gets the "
    "origin); axes as for `sum` (`GEO203`)",
)


@typing_rule(POINCARE_MIDPOINT)
def _infer_poincare_midpoint(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A symmetric function of the points pooled (sums of per-point terms): invariant under
    every permutation of them, a shift of a grid among them; a point is never rotated."""
    return (pooled_point(ctx, types[0], P, attrs["over"], attrs["into"]),)
