"""Manifold operators: hyperbolic (Lorentz and Poincaré), SPD matrices, and the hypersphere.

A manifold-valued atom (``lorentz(n, k)``, ``poincare(n, c)``, ``unit(n)``, ``spd(n)``) says
where a value lives; the typing rules below keep every value where its type says, so that
``geoc check`` can confirm it numerically (docs/manifolds.md). Each operator: its signature,
typing rule and equivariance contract, with the paper whose equations its lowering follows.

Euclidean operators of the other families declare it in their traits, and every call is
typed behind the guard of :mod:`geoc.ops.euclidean`; ``normalize`` puts a value back on the
unit sphere (nGPT).

    >>> from geoc.types import FeatureType
    >>> tangent_type(FeatureType.parse("lorentz(4, k=1.0)").atoms[0], 1, rotated=False)
    FeatureType('4 x scalar')
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.groups import Rotations
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import joint_axes, positive
from geoc.ops.euclidean import MANIFOLD_NAMES as NAMES
from geoc.ops.graph import reduced_axes
from geoc.ops.layers import check_activation
from geoc.types import VECTOR, Atom, AtomKind, FeatureType, Term, scalars, simplify

L, P, U, SPD, SYM = (
    AtomKind.LORENTZ,
    AtomKind.POINCARE,
    AtomKind.UNIT,
    AtomKind.SPD,
    AtomKind.SYM,
)
#: Manifolds a user writes in `manifold=` and their exp/log maps at the origin.
EXP_LOG_MANIFOLDS = (L, P, SPD)
#: Manifold operators act on each element's point (not on weight spaces), so also on each
#: point of a field (HCNN, Poincaré ResNet): one map at every grid point commutes with moving
#: the points. Their typing rules say which results lie on a manifold; which manifolds a field
#: carries is the grid's call (GEO310).
MANIFOLD_TRAITS = preset(PLAIN, "keeps_manifold", "fields")
#: Learned maps in fixed coordinates (with a `bias=` attribute where they have one).
LEARNED_TRAITS = preset(MANIFOLD_TRAITS, "learned")
_LEARNED_BIAS = preset(LEARNED_TRAITS, "bias")


# ---------------------------------------------------------------------------------------------
# Shared helpers


def rotated(ctx: OpContext) -> bool:
    return ctx.group.rotations is not Rotations.NONE


def one_manifold(
    ctx: OpContext, ftype: FeatureType, kinds: tuple[AtomKind, ...], arg: int = 0
) -> Term:
    """The single manifold term of ``ftype`` (any multiplicity), of one of ``kinds``."""
    want = " or ".join(f"`{k.value}(n)`" for k in kinds)
    terms = simplify(ftype.terms)  # `concat(a, b)` of two points is `2 x lorentz(n)`
    if len(terms) != 1 or terms[0].atom.kind not in kinds:
        on = [t.atom for t in terms if t.atom.is_manifold]
        what = f"on `{on[0]}`" if on else "Euclidean"
        code = "GEO323" if len(terms) > 1 and len(on) > 1 else "GEO322"
        raise ctx.error(
            code,
            f"`{ctx.op}` takes one {want} term, but the value is {what}: `{ftype}`",
            arg=arg,
            label=str(ftype),
            help=_entry_help(kinds[0]) if not on else f"pass a value of type {want}",
        )
    return terms[0]


def single_point(
    ctx: OpContext, ftype: FeatureType, kinds: tuple[AtomKind, ...], arg: int = 0
) -> Atom:
    """One point (multiplicity 1) on one of ``kinds``."""
    term = one_manifold(ctx, ftype, kinds, arg)
    if term.mul != 1:
        midpoint = _MIDPOINT.get(term.atom.kind)
        raise ctx.error(
            "GEO323",
            f"`{ctx.op}` maps one point per element, but the value has {term.mul} copies",
            arg=arg,
            label=str(ftype),
            help=f"take their midpoint first (`{midpoint}(x)`) or split the value",
        )
    return term.atom


#: The midpoint of a value's copies on each hyperbolic model (a help line's fix).
_MIDPOINT = {L: "lorentz_centroid", P: "poincare_midpoint"}


def _entry_help(kind: AtomKind) -> str:
    entry = {
        L: "`expmap0(v, manifold=lorentz(n, k=1.0))`",
        P: "`expmap0(v, manifold=poincare(n, c=1.0))`",
        U: "`normalize(v)`",
        SPD: "an `spd(n)` input, or `expmap0(s, manifold=spd(n))`",
    }[kind]
    return f"map Euclidean values onto {NAMES[kind]} with {entry}"


def tangent_type(atom: Atom, mul: int, rotated: bool) -> FeatureType:
    """The tangent space at the origin of ``mul`` copies of ``atom``, as a feature type:
    coordinates are scalars without rotations, vectors (or ``sym(n)``) with them."""
    n = atom.args[0]
    if atom.kind is SPD:
        return FeatureType((Term(mul, Atom(SYM, (n,))),))
    if rotated:
        return FeatureType((Term(mul, VECTOR),))
    return scalars(mul * n)


def learned_map_breaks_rotations(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """Learned maps in fixed coordinates (and coordinate-wise activations) commute with
    permutations of axes but not with rotations of the manifold."""
    if not rotated(ctx):
        return []
    message, fix = _BREAKS.get(ctx.op, _BREAKS["default"])
    text = message.format(op=ctx.op, group=ctx.group)
    return [ctx.diagnostic("GEO410", text, arg=0, label=str(types[0]), help=fix)]


_BREAKS = {
    "bimap": (
        "`bimap` (Wᵀ X W) does not commute with congruence X -> Q X Qᵀ under {group}",
        "use the equivariant spectral maps `reeig(x)` / `logeig(x)`, then invariants such as "
        "`eigvals(...)` or `norm(...)` before an `mlp`",
    ),
    "default": (
        "`{op}` acts in fixed coordinates, which {group} rotates: it is not equivariant",
        "map to the tangent space with `logmap0(x)` and use equivariant Euclidean layers, or "
        "declare a group without rotations",
    ),
}


# ---------------------------------------------------------------------------------------------
# expmap0 / logmap0


EXPMAP0 = define(
    "expmap0",
    "manifold",
    (tensor("v"), attr("manifold", AttrKind.TYPE, None)),
    MANIFOLD_TRAITS,
    "`manifold` (`lorentz`, `poincare` or `spd`, any multiplicity) on `v`'s axes, from its "
    "tangent coordinates at the origin: `n x scalar` per copy (`vector` under rotations, "
    "`sym(n)` for `spd`); no `manifold=` or `v` on a manifold: `GEO322`; wrong tangent type: "
    "`GEO300`",
)
LOGMAP0 = define(
    "logmap0",
    "manifold",
    (tensor("x"),),
    MANIFOLD_TRAITS,
    "the tangent coordinates at the origin (inverse of `expmap0`) of a Lorentz, Poincaré or SPD "
    "value (`GEO322`)",
)


@typing_rule(EXPMAP0)
def _infer_expmap0(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (v,) = types
    target: FeatureType | None = attrs["manifold"]
    if target is None:
        raise ctx.error(
            "GEO322",
            "`expmap0` needs the manifold to map onto",
            help="write e.g. `expmap0(v, manifold=lorentz(16, k=1.0))`",
        )
    term = one_manifold(ctx, target.with_axes(()), EXP_LOG_MANIFOLDS, arg=None)
    if target.axes:
        raise ctx.error(
            "GEO305",
            "`manifold=` names a manifold; `expmap0` keeps the axes of its input",
            label=str(target),
            help="write the manifold without `over`",
        )
    if v.has_manifold:
        raise ctx.error(
            "GEO322",
            f"`expmap0` maps tangent vectors, but `{v}` is already on a manifold",
            arg=0,
            label=str(v),
            help="pass Euclidean coordinates, e.g. `logmap0(x)` or `linear(h, n x scalar)`",
        )
    _check_tangent(ctx, v, tangent_type(term.atom, term.mul, rotated(ctx)))
    return (FeatureType((term,), v.axes),)


def _check_tangent(ctx: OpContext, v: FeatureType, tangent: FeatureType) -> None:
    dim = ctx.group.type_dim
    same = ctx.group.same_rep(v, tangent) or (
        not rotated(ctx) and dim(v) == dim(tangent) and all(map(ctx.group.is_invariant, v.atoms))
    )
    if not same:
        raise ctx.error(
            "GEO300",
            f"`{ctx.op}` onto this manifold takes tangent vectors `{tangent}`, got "
            f"`{v.with_axes(())}`",
            arg=0,
            label=str(v.with_axes(())),
            help=f"map the value to `{tangent}` first, e.g. with `linear`",
        )


@typing_rule(LOGMAP0)
def _infer_logmap0(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), EXP_LOG_MANIFOLDS)
    return (tangent_type(term.atom, term.mul, rotated(ctx)).with_axes(x.axes),)


# ---------------------------------------------------------------------------------------------
# Lorentz model (Chen et al. 2022; Bdeir et al. 2024; Law et al. 2019)


_POINT_MAP = (tensor("x"), attr("out", AttrKind.INT), attr("act", AttrKind.SYMBOL, "identity"))
LORENTZ_LINEAR = define(
    "lorentz_linear",
    "manifold",
    (*_POINT_MAP, attr("bias", AttrKind.BOOL, True)),
    _LEARNED_BIAS,
    "`lorentz(out, k)`: the fully hyperbolic linear layer (Chen et al. 2022, Eq. 3), `act` "
    "applied to `x` first; one `lorentz` point (`GEO322`, `GEO323`); under rotations `GEO410`",
)


@typing_rule(LORENTZ_LINEAR)
def _infer_point_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    atom = single_point(ctx, x.with_axes(()), _POINT_MANIFOLD[ctx.op])
    positive(ctx, "GEO324", "out", attrs["out"], f"e.g. `{ctx.op}(x, 16)`")
    check_activation(ctx, attrs["act"])
    out = Atom(atom.kind, (attrs["out"],), curvature=atom.curvature)
    return (FeatureType((Term(1, out),), x.axes),)


LORENTZ_ACT = define(
    "lorentz_act",
    "manifold",
    (tensor("x"), attr("fn", AttrKind.SYMBOL)),
    MANIFOLD_TRAITS,
    "same type: `fn` on the space coordinates, time recomputed (Bdeir et al. 2024); under "
    "rotations `GEO410`",
)


@typing_rule(LORENTZ_ACT)
def _infer_lorentz_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    single_point(ctx, x.with_axes(()), (L,))
    check_activation(ctx, attrs["fn"])
    return (x,)


LORENTZ_MLR = define(
    "lorentz_mlr",
    "manifold",
    (tensor("x"), attr("classes", AttrKind.INT)),
    LEARNED_TRAITS,
    "`classes x scalar`: Lorentz multinomial logistic regression (Bdeir et al. 2024); under "
    "rotations `GEO410`",
)


@typing_rule(LORENTZ_MLR)
def _infer_mlr(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    single_point(ctx, x.with_axes(()), _POINT_MANIFOLD[ctx.op])
    positive(ctx, "GEO324", "classes", attrs["classes"], f"e.g. `{ctx.op}(z, 10)`")
    return (scalars(attrs["classes"], x.axes),)


#: The manifold of the points each learned point map takes.
_POINT_MANIFOLD = {
    **dict.fromkeys(("lorentz_linear", "lorentz_mlr"), (L,)),
    **dict.fromkeys(("mobius_linear", "poincare_mlr"), (P,)),
}


LORENTZ_CENTROID = define(
    "lorentz_centroid",
    "manifold",
    (tensor("x"), attr("over", AttrKind.SYMBOL, None), attr("into", AttrKind.SYMBOL, None)),
    preset(MANIFOLD_TRAITS, commutes_gather=False),
    "the Lorentzian centroid (Law et al. 2019) of the copies of `x` (`over` omitted), pooled "
    "`over` an axis, or `over=edges, into=nodes` onto `dst` (a node without incoming edges gets "
    "the origin); axes as for `sum` (`GEO203`)",
)


@typing_rule(LORENTZ_CENTROID)
def _infer_centroid(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A symmetric function of the points pooled (the normalised sum): invariant under every
    permutation of them, a shift of a grid among them; a point is never rotated."""
    return (pooled_point(ctx, types[0], L, attrs["over"], attrs["into"]),)


def check_batch_norm(ctx: OpContext, x: FeatureType, momentum: float) -> None:
    """What every batch norm of manifold values asks: a ``momentum`` in (0, 1] (GEO332), and a
    batch of one axis that is no edge set, or of the samples (GEO333): its statistics pool
    every element of that axis in the call (edge sets carry masked padding)."""
    if not 0 < momentum <= 1:
        raise ctx.error(
            "GEO332",
            f"`momentum` moves the running statistics a fraction 0 < t <= 1 of the way to the "
            f"batch's, got {momentum!r}",
            attr="momentum",
            label=repr(momentum),
            help="e.g. `momentum=0.1`",
        )
    if len(x.axes) > 1 or any(ctx.edge_ends(a) is not None for a in x.axes):
        raise ctx.error(
            "GEO333",
            f"`{ctx.op}` normalises the batch of one field, node axis or the samples, but the "
            f"value is over {', '.join(x.axes)}",
            arg=0,
            label=str(x),
            help="normalise over the grid or the nodes (edge sets carry masked padding), or pool "
            "one axis first",
        )


def pooled_point(
    ctx: OpContext, x: FeatureType, kind: AtomKind, over: str | None, into: str | None
) -> FeatureType:
    """The type of a mean of points of ``kind``: of the copies of ``x`` (``over`` omitted), one
    point per element; pooled ``over`` an axis (or ``over=edges, into=nodes``), the axes as for
    ``sum`` (GEO203)."""
    term = one_manifold(ctx, x.with_axes(()), (kind,))
    if over is None:
        if into is not None:
            raise ctx.error(
                "GEO203",
                "`into=` needs `over=edges`",
                help=f"write `{ctx.op}(m, over=edges, into=nodes)`",
            )
        return FeatureType((Term(1, term.atom),), x.axes)
    return FeatureType((term,), reduced_axes(ctx, x, over, into, scatter="averages"))


# ---------------------------------------------------------------------------------------------
# Poincaré ball (Ganea, Bécigneul & Hofmann 2018)


MOBIUS_LINEAR = define(
    "mobius_linear",
    "manifold",
    (*_POINT_MAP, attr("bias", AttrKind.BOOL, True)),
    _LEARNED_BIAS,
    "`poincare(out, c)`: `act⊗(M ⊗ x ⊕ b)` (Ganea et al. 2018), `b` a point of the ball; one "
    "`poincare` point; under rotations `GEO410`",
)
typing_rule(MOBIUS_LINEAR)(_infer_point_linear)


MOBIUS_ADD = define(
    "mobius_add",
    "manifold",
    (tensor("a"), tensor("b")),
    MANIFOLD_TRAITS,
    "Möbius addition `a ⊕ b` in the Poincaré ball (Ganea et al. 2018), the type of `a` on the "
    "joint axes; both on the same ball (`GEO323`)",
)


@typing_rule(MOBIUS_ADD)
def _infer_mobius_add(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    axes = joint_axes(ctx, types)
    first, second = (one_manifold(ctx, t.with_axes(()), (P,), i) for i, t in enumerate(types))
    if first != second:
        raise ctx.error(
            "GEO323",
            f"`mobius_add` needs points of one ball: `{first}` and `{second}`",
            arg=1,
            label=str(second),
            help="map both onto the same `poincare(n, c)` first",
        )
    return (FeatureType((first,), axes),)


POINCARE_MLR = define(
    "poincare_mlr",
    "manifold",
    (tensor("x"), attr("classes", AttrKind.INT)),
    LEARNED_TRAITS,
    "`classes x scalar`: hyperbolic multinomial logistic regression (Ganea et al. 2018, Eq. "
    "25); under rotations `GEO410`",
)
typing_rule(POINCARE_MLR)(_infer_mlr)


contract(LORENTZ_LINEAR, LORENTZ_ACT, LORENTZ_MLR, MOBIUS_LINEAR, POINCARE_MLR)(
    learned_map_breaks_rotations
)


# ---------------------------------------------------------------------------------------------
# The hypersphere (nGPT, Loshchilov et al. 2024)


NORMALIZE = define(
    "normalize",
    "manifold",
    (tensor("x"),),
    preset(MANIFOLD_TRAITS, "euclidean_norm"),
    "`unit(c)` of `c` scalars, x / |x| (nGPT): one unit vector per `vector` copy under rotations "
    "(scalars only without rotations, vectors with them: `GEO300`); a unit value stays one",
)


@typing_rule(NORMALIZE)
def _infer_normalize(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    bare = x.with_axes(())
    if len(bare.terms) == 1 and bare.terms[0].atom.kind is U:
        return (x,)
    if bare.has_manifold:
        one_manifold(ctx, bare, (U,))  # raises GEO322 naming the manifold
    if not rotated(ctx):
        if not all(ctx.group.is_invariant(a) for a in bare.atoms):
            raise ctx.error("GEO300", "`normalize` takes scalars here", arg=0, label=str(bare))
        return (FeatureType((Term(1, Atom(U, (ctx.group.type_dim(bare),))),), x.axes),)
    if not all(ctx.group.same_atom(t.atom, VECTOR) for t in bare.terms):
        raise ctx.error(
            "GEO300",
            f"under {ctx.group} `normalize` takes vectors (one unit vector per copy), got `{bare}`",
            arg=0,
            label=str(bare),
            help="normalize `m x vector` values; scalars have no direction",
        )
    n = ctx.group.space_dim or 0
    return (FeatureType((Term(bare.copies, Atom(U, (n,))),), x.axes),)


__all__ = [
    "one_manifold",
    "single_point",
    "tangent_type",
]
