"""Euclidean operators meet manifold values: the guard every operator is typed behind.

An operator whose traits say ``euclidean`` computes in coordinates of R^n, so a Lorentz,
Poincaré or SPD input would leave its manifold: ``GEO320`` / ``GEO321``, with a help line
naming the manifold operation to use (docs/manifolds.md). Unit vectors are points of R^n, so
Euclidean operators may read them; with the ``ambient`` trait the input is read as its
coordinates and the result is Euclidean (``h - a`` of two ``unit(n)`` values is
``n x scalar``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic
from geoc.groups import Rotations
from geoc.ops.traits import EuclideanOnly
from geoc.types import SCALAR, VECTOR, AtomKind, FeatureType, Term

if TYPE_CHECKING:
    from geoc.ops import OpContext, OpDef

L, P, U = AtomKind.LORENTZ, AtomKind.POINCARE, AtomKind.UNIT
#: How a manifold is called in messages.
MANIFOLD_NAMES = {
    L: "the Lorentz model",
    P: "the Poincaré ball",
    U: "the unit sphere",
    AtomKind.SPD: "SPD matrices",
    AtomKind.FRAME: "the orthonormal frames",
}
#: What to do with a frame instead of Euclidean arithmetic on it (every guard says the same).
FRAME_FIX = (
    AtomKind.FRAME,
    "a frame is used only by `to_frame(x, F)` and `from_frame(y, F, T)`: move values into it",
)

ARITH = EuclideanOnly(
    "GEO320",
    (
        (
            L,
            "hyperbolic points do not add: take the midpoint `lorentz_centroid(concat(a, b))`, "
            "or compute in the tangent space (`logmap0`) and map back with `expmap0`",
        ),
        (P, "use `mobius_add(a, b)`, the Poincaré ball's addition"),
        FRAME_FIX,
    ),
    "compute in the tangent space: `logeig(x)` is a symmetric matrix (`sym(n)`) that adds and "
    "scales",
)
REDUCE = EuclideanOnly(
    "GEO320",
    ((L, "average on the hyperboloid with `lorentz_centroid(x, over=..., into=...)`"), FRAME_FIX),
    "map to the tangent space with `logmap0(x)` first",
)
LAYER = EuclideanOnly(
    "GEO321",
    (
        (L, "use `lorentz_linear(x, n)`, `lorentz_mlr(x, classes)`, or `logmap0(x)` first"),
        (P, "use `mobius_linear(x, n)`, `poincare_mlr(x, classes)`, or `logmap0(x)` first"),
        FRAME_FIX,
    ),
    "use `bimap(x, m)`, or the invariants `eigvals(logeig(x))` for an `mlp`",
)
#: Learned maps of fields (convolutions, resampling, spectral filters, attention over the grid).
FIELD_LAYER = EuclideanOnly(
    "GEO321",
    (
        (
            L,
            "convolve on the hyperboloid with `lorentz_conv(x, n, kernel=k)` (HCNN), or map "
            "to the tangent space with `logmap0(x)` first",
        ),
        (
            P,
            "convolve in the ball with `poincare_conv(x, n, kernel=k)` (Poincaré ResNet), or "
            "map to the tangent space with `logmap0(x)` first",
        ),
        FRAME_FIX,
    ),
    "map to the tangent space with `logmap0(x)` first",
)
ACT = EuclideanOnly(
    "GEO321",
    (
        (L, "use `lorentz_act(x, fn)` or `lorentz_linear(x, n, act=fn)`"),
        (P, "use `mobius_linear(x, n, act=fn)` (the activation acts in the tangent space)"),
        FRAME_FIX,
    ),
    "use `reeig(x)`, SPDNet's non-linearity",
)
INVARIANT = EuclideanOnly(
    "GEO321",
    (FRAME_FIX,),
    "measure in the tangent space: `logmap0(x)` (or `logeig(x)` for SPD) first",
)


def guard_manifold_inputs(
    ctx: OpContext, op: OpDef, types: Sequence[FeatureType]
) -> Sequence[FeatureType]:
    """The input types ``op``'s typing rule sees: manifold values rejected where the operator
    is Euclidean, unit vectors read as coordinates where it is ambient."""
    guard = op.traits.euclidean
    if guard is None:
        return types
    for index, ftype in enumerate(types):
        stuck = [t.atom for t in ftype.terms if t.atom.is_manifold and t.atom.kind is not U]
        if stuck:
            raise ctx.error(
                guard.code,
                f"`{op.syntax or op.name}` of `{stuck[0]}` values leaves "
                f"{MANIFOLD_NAMES[stuck[0].kind]}",
                arg=index,
                label=str(ftype),
                help=guard.fix(stuck[0].kind),
            )
    if not op.traits.ambient:
        return types
    rotated = ctx.group.rotations is not Rotations.NONE
    return [ambient(t, rotated) for t in types]


def plain_results(
    ctx: OpContext, op: OpDef, types: Sequence[FeatureType]
) -> tuple[FeatureType, ...]:
    """The result types of a call as the group sees them: only an operator that keeps values on
    their manifold (its ``keeps_manifold`` trait) types a result as a manifold point. Any other
    operator's ``unit(n)`` result is its coordinates in R^n (`layer_norm` of unit vectors
    leaves the sphere), and its Lorentz, Poincaré or SPD result is ``GEO411``."""
    if op.traits.keeps_manifold:
        return tuple(types)
    for ftype in types:
        stuck = next((a for a in ftype.atoms if a.is_manifold and a.kind is not U), None)
        if stuck is not None:
            raise ctx.error(
                "GEO411",
                f"`{op.syntax or op.name}` does not keep values on "
                f"{MANIFOLD_NAMES[stuck.kind]}, so its result is not `{stuck}`",
                label=str(ftype.with_axes(())),
                help="type the result as Euclidean values, and map them onto the manifold "
                "with `expmap0(x, manifold=...)`",
            )
    rotated = ctx.group.rotations is not Rotations.NONE
    return tuple(ambient(t, rotated) for t in types)


def euclidean_norm_violations(
    ctx: OpContext, op: OpDef, types: Sequence[FeatureType]
) -> list[Diagnostic]:
    """GEO420 for an operator that measures copies by the Euclidean inner product (its
    ``euclidean_norm`` trait) on Lorentz(n) / Sp(n) vectors or tensors, whose invariant forms
    are η and J: a boost changes |x|, so the norm, and whatever it divides, is not invariant."""
    if not op.traits.euclidean_norm:
        return []
    for index, ftype in enumerate(types):
        atom = next((a for a in ftype.atoms if not ctx.group.keeps_norm(a)), None)
        if atom is not None:
            return [
                ctx.diagnostic(
                    "GEO420",
                    f"`{op.syntax or op.name}` of `{atom}` is not invariant under {ctx.group}: "
                    "the group does not preserve the Euclidean inner product",
                    arg=index,
                    label=str(ftype.with_axes(())),
                    help="use the group's invariant form `mdot(x, x)` (Minkowski under Lorentz)",
                )
            ]
    return []


def ambient(ftype: FeatureType, rotated: bool) -> FeatureType:
    """``unit(n)`` read as its coordinates in R^n (scalars, or a vector under rotations)."""
    terms = []
    for term in ftype.terms:
        if term.atom.kind is not U:
            terms.append(term)
        elif rotated:
            terms.append(Term(term.mul, VECTOR))
        else:
            terms.append(Term(term.mul * term.atom.args[0], SCALAR))
    return FeatureType(tuple(terms), ftype.axes)


__all__ = [
    "ACT",
    "ARITH",
    "INVARIANT",
    "LAYER",
    "MANIFOLD_NAMES",
    "REDUCE",
    "ambient",
    "euclidean_norm_violations",
    "guard_manifold_inputs",
    "plain_results",
]
