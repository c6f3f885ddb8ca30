"""SPD matrices (Huang & Van Gool 2017, SPDNet): the manifold family's `bimap`, `reeig`,
`logeig` and `eigvals` (helpers and the other manifolds are in :mod:`geoc.ops.manifold`).
Congruence ``X -> Q X Qᵀ`` is how rotations act on `spd(n)` and `sym(n)` values.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.ops import AttrKind, OpContext, attr, contract, define, tensor, typing_rule
from geoc.ops.core import positive
from geoc.ops.manifold import (
    LEARNED_TRAITS,
    MANIFOLD_TRAITS,
    SPD,
    SYM,
    learned_map_breaks_rotations,
    one_manifold,
)
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
