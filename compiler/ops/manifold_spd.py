"""SPD matrices (Huang & Van Gool 2017, SPDNet): the manifold family's `bimap`, `reeig`,
`logeig` and `eigvals` (helpers and the other manifolds are in :mod:`geoc.ops.manifold`).
Congruence ``X -> Q X Qᵀ`` is how rotations act on `spd(n)` and `sym(n)` values.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import AttrKind, OpContext, attr, contract, define, tensor, typing_rule
from geoc.ops.core import positive
from geoc.ops.manifold import (
    LEARNED_TRAITS,
    MANIFOLD_TRAITS,
    SPD,
    SYM,
    check_batch_norm,
    learned_map_breaks_rotations,
    one_manifold,
    rotated,
)
from geoc.ops.traits import preset
from geoc.types import Atom, FeatureType, Term, scalars

BIMAP = define(
    "bimap",
    "manifold",
    (tensor("x"), attr("out", AttrKind.INT)),
    LEARNED_TRAITS,
    "`spd(out)` per copy: SPDNet's BiMap `Wᵀ X W`, `W` with orthonormal columns (Stiefel); "
    "`1 <= out <= n` (`GEO324`); under rotations `GEO410` (not congruence-equivariant)",
)


@typing_rule(BIMAP)
def _infer_bimap(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (SPD,))
    n, out = term.atom.args[0], attrs["out"]
    if not 1 <= out <= n:
        raise ctx.error(
            "GEO324",
            f"`bimap` maps spd({n}) to spd(out) with 1 <= out <= {n} (Wᵀ X W with W of "
            f"orthonormal columns), got out={out}",
            label=str(out),
            help=f"choose `out` between 1 and {n}",
        )
    return (FeatureType((Term(term.mul, Atom(SPD, (out,))),), x.axes),)


REEIG = define(
    "reeig",
    "manifold",
    (tensor("x"), attr("eps", AttrKind.FLOAT, 1e-4)),
    MANIFOLD_TRAITS,
    "same type: SPDNet's ReEig `U max(Σ, eps) Uᵀ`; `eps > 0` (`GEO324`); congruence-equivariant",
)


@typing_rule(REEIG)
def _infer_reeig(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    one_manifold(ctx, x.with_axes(()), (SPD,))
    positive(ctx, "GEO324", "eps", attrs["eps"], "e.g. `reeig(x, eps=1e-4)`")
    return (x,)


LOGEIG = define(
    "logeig",
    "manifold",
    (tensor("x"),),
    MANIFOLD_TRAITS,
    "`sym(n)` per copy: SPDNet's LogEig `U log(Σ) Uᵀ`, the matrix logarithm; "
    "congruence-equivariant",
)


@typing_rule(LOGEIG)
def _infer_logeig(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (SPD,))
    return (FeatureType((Term(term.mul, Atom(SYM, term.atom.args)),), x.axes),)


EIGVALS = define(
    "eigvals",
    "manifold",
    (tensor("x"),),
    MANIFOLD_TRAITS,
    "`n x scalar` per copy: the eigenvalues (ascending) of an `spd` or `sym` value, invariants "
    "of congruence",
)


@typing_rule(EIGVALS)
def _infer_eigvals(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (SPD, SYM))
    return (scalars(term.mul * term.atom.args[0], x.axes),)


contract(BIMAP)(learned_map_breaks_rotations)


# ---------------------------------------------------------------------------------------------
# Riemannian batch normalisation (Brooks et al. 2019; Wang et al. 2024 for `gbw`)

#: The geometries of `spd_batch_norm`: each a mean, a centring and a geodesic for the running
#: mean (backends/torch_fx/manifold/spd_norm_kernels.py).
BATCH_NORM_METRICS = ("airm", "log_euclidean", "gbw")

SPD_BATCH_NORM = define(
    "spd_batch_norm",
    "manifold",
    (
        tensor("x"),
        attr("metric", AttrKind.SYMBOL, "airm"),
        attr("bias", AttrKind.BOOL, False),
        attr("momentum", AttrKind.FLOAT, 0.1),
        attr("iters", AttrKind.INT, 3),
    ),
    # Learned (running statistics, a bias): never merged with another call; it reads the whole
    # batch, so it does not move past a gather.
    preset(MANIFOLD_TRAITS, "learned", "bias", commutes_gather=False),
    "same type: Riemannian batch norm of the batch of `spd(n)` values (every element of the "
    "value's axis in the call, or every sample), `metric=airm|log_euclidean|gbw`, `iters` "
    "fixed-point steps of the mean, running mean by `momentum` (`GEO332`); not over edges or "
    "several axes (`GEO333`); congruence-equivariant in training mode without `bias` (`GEO417`)",
)


@typing_rule(SPD_BATCH_NORM)
def _infer_spd_batch_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: training mode centres at the batch's own O(n)-equivariant, order-free mean."""
    # Eval mode centres at the fixed running mean: equivariant to reordering only, which
    # `geoc check` enforces (GEO418); a bias is GEO417 under rotations (docs/manifolds.md).
    (x,) = types
    one_manifold(ctx, x.with_axes(()), (SPD,))
    _check_batch_norm_attrs(ctx, attrs)
    check_batch_norm(ctx, x, attrs["momentum"])
    return (x,)


def _check_batch_norm_attrs(ctx: OpContext, attrs: dict) -> None:
    if attrs["metric"] not in BATCH_NORM_METRICS:
        raise ctx.error(
            "GEO332",
            f"`spd_batch_norm` has no metric `{attrs['metric']}`",
            attr="metric",
            label=str(attrs["metric"]),
            help=f"write `metric=` one of {', '.join(BATCH_NORM_METRICS)}",
        )
    if attrs["iters"] < 1:
        raise ctx.error(
            "GEO332",
            f"`iters` (fixed-point steps of the batch mean) must be at least 1, got "
            f"{attrs['iters']}",
            attr="iters",
            label=str(attrs["iters"]),
            help="e.g. `iters=3`",
        )


@contract(SPD_BATCH_NORM)
def _bias_breaks_rotations(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """A learned bias B re-centres every batch at the same fixed matrix, which Q X Qᵀ does not
    move: B^½ Y B^½ is not Q B^½ Y B^½ Qᵀ unless B commutes with every Q."""
    if not (attrs["bias"] and rotated(ctx)):
        return []
    message = (
        f"`spd_batch_norm(..., bias=true)` re-centres at a learned SPD matrix, which congruence "
        f"X -> Q X Qᵀ under {ctx.group} does not move: the result is not equivariant"
    )
    fix = "drop `bias=true` (the centred batch is congruence-equivariant), or declare a group "
    fix += "without rotations"
    return [Diagnostic("GEO417", message, ctx.attr_span("bias") or ctx.span, help=fix)]
