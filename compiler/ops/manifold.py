"""Manifold operators: hyperbolic (Lorentz and Poincaré), SPD matrices, and the hypersphere.

A manifold-valued atom (``lorentz(n, k)``, ``poincare(n, c)``, ``unit(n)``, ``spd(n)``) says
where a value lives; the typing rules below keep every value where its type says, so that
``geoc check`` can confirm it numerically (docs/manifolds.md). Each operator: its signature,
typing rule and equivariance contract, with the paper whose equations its lowering follows.

Euclidean operators of the other families do not know about manifolds, so this module guards
them (:data:`EUCLIDEAN_GUARDS`): arithmetic, reductions and layers on Lorentz, Poincaré or
SPD values are ``GEO320`` / ``GEO321`` with a help line naming the manifold operation to use.
Unit vectors are points of R^n, so Euclidean operators may read them; their results are
Euclidean (``h - a`` of two ``unit(n)`` values is ``n x scalar``), and ``normalize`` puts a
value back on the sphere (nGPT).

    >>> from geoc.types import FeatureType
    >>> tangent_type(FeatureType.parse("lorentz(4, k=1.0)").atoms[0], 1, rotated=False)
    FeatureType('4 x scalar')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from geoc.diagnostics import Diagnostic
from geoc.groups import Rotations
from geoc.ops import REGISTRY, AttrKind, OpContext, OpDef, TypeRule, attr, register, tensor
from geoc.ops.core import check_activation, joint_axes
from geoc.ops.graph import reduced_axes
from geoc.types import SCALAR, VECTOR, Atom, AtomKind, FeatureType, Term, scalars, simplify

L, P, U, SPD, SYM = (
    AtomKind.LORENTZ,
    AtomKind.POINCARE,
    AtomKind.UNIT,
    AtomKind.SPD,
    AtomKind.SYM,
)
#: Manifolds a user writes in `manifold=` and their exp/log maps at the origin.
EXP_LOG_MANIFOLDS = (L, P, SPD)
NAMES = {
    L: "the Lorentz model",
    P: "the Poincaré ball",
    U: "the unit sphere",
    SPD: "SPD matrices",
}


# ---------------------------------------------------------------------------------------------
# Shared helpers


def rotated(ctx: OpContext) -> bool:
    return ctx.group.rotations is not Rotations.NONE


def manifold_terms(ftype: FeatureType) -> list[Term]:
    return [t for t in ftype.terms if t.atom.is_manifold]


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
        raise ctx.error(
            "GEO323",
            f"`{ctx.op}` maps one point per element, but the value has {term.mul} copies",
            arg=arg,
            label=str(ftype),
            help="take their midpoint first (`lorentz_centroid(x)`) or split the value",
        )
    return term.atom


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


def positive(ctx: OpContext, name: str, value: float, example: str) -> None:
    if not value > 0:
        raise ctx.error(
            "GEO324", f"`{name}` must be positive, got {value!r}", label=repr(value), help=example
        )


def _learned_map_breaks_rotations(
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
    same = v.same_rep(tangent) or (
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


def _infer_logmap0(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), EXP_LOG_MANIFOLDS)
    return (tangent_type(term.atom, term.mul, rotated(ctx)).with_axes(x.axes),)


register(
    OpDef(
        "expmap0",
        "manifold",
        (tensor("v"), attr("manifold", AttrKind.TYPE, None)),
        _infer_expmap0,
        doc="exponential map at the origin: tangent coordinates onto `manifold`",
    )
)
register(
    OpDef(
        "logmap0",
        "manifold",
        (tensor("x"),),
        _infer_logmap0,
        doc="logarithmic map at the origin: a point to tangent coordinates (its inverse)",
    )
)


# ---------------------------------------------------------------------------------------------
# Lorentz model (Chen et al. 2022; Bdeir et al. 2024; Law et al. 2019)


def _infer_point_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    atom = single_point(ctx, x.with_axes(()), _POINT_MANIFOLD[ctx.op])
    positive(ctx, "out", attrs["out"], f"e.g. `{ctx.op}(x, 16)`")
    check_activation(ctx, attrs["act"])
    out = Atom(atom.kind, (attrs["out"],), curvature=atom.curvature)
    return (FeatureType((Term(1, out),), x.axes),)


def _infer_lorentz_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    single_point(ctx, x.with_axes(()), (L,))
    check_activation(ctx, attrs["fn"])
    return (x,)


def _infer_mlr(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    single_point(ctx, x.with_axes(()), _POINT_MANIFOLD[ctx.op])
    positive(ctx, "classes", attrs["classes"], f"e.g. `{ctx.op}(z, 10)`")
    return (scalars(attrs["classes"], x.axes),)


#: The manifold of the points each learned point map takes.
_POINT_MANIFOLD = {
    **dict.fromkeys(("lorentz_linear", "lorentz_mlr"), (L,)),
    **dict.fromkeys(("mobius_linear", "poincare_mlr"), (P,)),
}


def _infer_centroid(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (L,))
    over, into = attrs["over"], attrs["into"]
    if over is None:
        if into is not None:
            raise ctx.error(
                "GEO203",
                "`into=` needs `over=edges`",
                help="write `lorentz_centroid(m, over=edges, into=nodes)`",
            )
        return (FeatureType((Term(1, term.atom),), x.axes),)
    axes = reduced_axes(ctx, x, over, into, scatter="averages")
    return (FeatureType((term,), axes),)


_POINT_MAP = (tensor("x"), attr("out", AttrKind.INT), attr("act", AttrKind.SYMBOL, "identity"))
register(
    OpDef(
        "lorentz_linear",
        "manifold",
        (*_POINT_MAP, attr("bias", AttrKind.BOOL, True)),
        _infer_point_linear,
        _learned_map_breaks_rotations,
        doc="fully hyperbolic linear layer (Chen et al. 2022): `lorentz(out, k)`",
    )
)
register(
    OpDef(
        "lorentz_act",
        "manifold",
        (tensor("x"), attr("fn", AttrKind.SYMBOL)),
        _infer_lorentz_act,
        _learned_map_breaks_rotations,
        doc="activation on the space coordinates, time recomputed (Bdeir et al. 2024)",
    )
)
register(
    OpDef(
        "lorentz_mlr",
        "manifold",
        (tensor("x"), attr("classes", AttrKind.INT)),
        _infer_mlr,
        _learned_map_breaks_rotations,
        doc="Lorentz multinomial logistic regression (Bdeir et al. 2024): `classes x scalar`",
    )
)
register(
    OpDef(
        "lorentz_centroid",
        "manifold",
        (tensor("x"), attr("over", AttrKind.SYMBOL, None), attr("into", AttrKind.SYMBOL, None)),
        _infer_centroid,
        doc="Lorentzian centroid (Law et al. 2019) of copies, over an axis, or edges into nodes",
    )
)


# ---------------------------------------------------------------------------------------------
# Poincaré ball (Ganea, Bécigneul & Hofmann 2018)


def _infer_mobius_add(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    first = one_manifold(ctx, a.with_axes(()), (P,), arg=0)
    second = one_manifold(ctx, b.with_axes(()), (P,), arg=1)
    if first != second:
        raise ctx.error(
            "GEO323",
            f"`mobius_add` needs points of one ball: `{first}` and `{second}`",
            arg=1,
            label=str(second),
            help="map both onto the same `poincare(n, c)` first",
        )
    return (FeatureType((first,), axes),)


register(
    OpDef(
        "mobius_linear",
        "manifold",
        (*_POINT_MAP, attr("bias", AttrKind.BOOL, True)),
        _infer_point_linear,
        _learned_map_breaks_rotations,
        doc="Möbius matrix-vector product plus a hyperbolic bias (Ganea et al. 2018)",
    )
)
register(
    OpDef(
        "mobius_add",
        "manifold",
        (tensor("a"), tensor("b")),
        _infer_mobius_add,
        doc="Möbius addition a ⊕ b in the Poincaré ball (Ganea et al. 2018)",
    )
)
register(
    OpDef(
        "poincare_mlr",
        "manifold",
        (tensor("x"), attr("classes", AttrKind.INT)),
        _infer_mlr,
        _learned_map_breaks_rotations,
        doc="hyperbolic multinomial logistic regression (Ganea et al. 2018): `classes x scalar`",
    )
)


# ---------------------------------------------------------------------------------------------
# SPD matrices (Huang & Van Gool 2017, SPDNet)


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


def _infer_reeig(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    one_manifold(ctx, x.with_axes(()), (SPD,))
    positive(ctx, "eps", attrs["eps"], "e.g. `reeig(x, eps=1e-4)`")
    return (x,)


def _infer_logeig(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (SPD,))
    return (FeatureType((Term(term.mul, Atom(SYM, term.atom.args)),), x.axes),)


def _infer_eigvals(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    term = one_manifold(ctx, x.with_axes(()), (SPD, SYM))
    return (scalars(term.mul * term.atom.args[0], x.axes),)


register(
    OpDef(
        "bimap",
        "manifold",
        (tensor("x"), attr("out", AttrKind.INT)),
        _infer_bimap,
        _learned_map_breaks_rotations,
        doc="SPDNet BiMap Wᵀ X W, W on the Stiefel manifold: `spd(out)` per copy",
    )
)
register(
    OpDef(
        "reeig",
        "manifold",
        (tensor("x"), attr("eps", AttrKind.FLOAT, 1e-4)),
        _infer_reeig,
        doc="SPDNet ReEig U max(Σ, eps) Uᵀ: rectified eigenvalues, same type",
    )
)
register(
    OpDef(
        "logeig",
        "manifold",
        (tensor("x"),),
        _infer_logeig,
        doc="SPDNet LogEig U log(Σ) Uᵀ: the matrix logarithm, `sym(n)` per copy",
    )
)
register(
    OpDef(
        "eigvals",
        "manifold",
        (tensor("x"),),
        _infer_eigvals,
        doc="eigenvalues (ascending) of each spd/sym copy: invariants of congruence",
    )
)


# ---------------------------------------------------------------------------------------------
# The hypersphere (nGPT, Loshchilov et al. 2024)


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
    if len(bare.terms) != 1 or bare.terms[0].atom != VECTOR:
        raise ctx.error(
            "GEO300",
            f"under {ctx.group} `normalize` takes vectors (one unit vector per copy), got `{bare}`",
            arg=0,
            label=str(bare),
            help="normalize `m x vector` values; scalars have no direction",
        )
    mul, n = bare.terms[0].mul, ctx.group.space_dim or 0
    return (FeatureType((Term(mul, Atom(U, (n,))),), x.axes),)


register(
    OpDef(
        "normalize",
        "manifold",
        (tensor("x"),),
        _infer_normalize,
        doc="project onto the unit sphere x / |x| (nGPT): `unit(n)`",
    )
)


# ---------------------------------------------------------------------------------------------
# Euclidean operators of the other families, guarded against manifold values


def _fix(category: str, kind: AtomKind) -> str:
    return _FIXES[category].get(kind) or _FIXES[category]["other"]


_FIXES: dict[str, dict[Any, str]] = {
    "arith": {
        L: "hyperbolic points do not add: take the midpoint `lorentz_centroid(concat(a, b))`, "
        "or compute in the tangent space (`logmap0`) and map back with `expmap0`",
        P: "use `mobius_add(a, b)`, the Poincaré ball's addition",
        "other": "compute in the tangent space: `logeig(x)` is a symmetric matrix (`sym(n)`) "
        "that adds and scales",
    },
    "reduce": {
        L: "average on the hyperboloid with `lorentz_centroid(x, over=..., into=...)`",
        "other": "map to the tangent space with `logmap0(x)` first",
    },
    "layer": {
        L: "use `lorentz_linear(x, n)`, `lorentz_mlr(x, classes)`, or `logmap0(x)` first",
        P: "use `mobius_linear(x, n)`, `poincare_mlr(x, classes)`, or `logmap0(x)` first",
        "other": "use `bimap(x, m)`, or the invariants `eigvals(logeig(x))` for an `mlp`",
    },
    "act": {
        L: "use `lorentz_act(x, fn)` or `lorentz_linear(x, n, act=fn)`",
        P: "use `mobius_linear(x, n, act=fn)` (the activation acts in the tangent space)",
        "other": "use `reeig(x)`, SPDNet's non-linearity",
    },
    "invariant": {
        "other": "measure in the tangent space: `logmap0(x)` (or `logeig(x)` for SPD) first",
    },
}

#: Operator -> (diagnostic code, category of fix). Arithmetic and reductions read unit vectors
#: as points of R^n (their result is Euclidean); everything here rejects the other manifolds.
EUCLIDEAN_GUARDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("add", "sub", "mul", "neg", "scale"), ("GEO320", "arith")),
    **dict.fromkeys(("sum", "mean", "max"), ("GEO320", "reduce")),
    **dict.fromkeys(("linear", "mlp", "tensor_product", "tp_conv"), ("GEO321", "layer")),
    **dict.fromkeys(("act", "gate", "norm_act", "layer_norm"), ("GEO321", "act")),
    **dict.fromkeys(
        ("norm", "sqnorm", "dot", "spherical_harmonics", "radial_basis"), ("GEO321", "invariant")
    ),
}
#: Operators whose result type follows their input's: a unit vector becomes its coordinates.
AMBIENT_RESULT = frozenset({"add", "sub", "mul", "neg", "scale", "sum", "mean", "max", "act"})


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


def guarded(rule: TypeRule) -> TypeRule:
    """``rule`` behind the manifold guard of ``ctx.op``."""

    def infer(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> tuple[FeatureType, ...]:
        code, category = EUCLIDEAN_GUARDS[ctx.op]
        for index, ftype in enumerate(types):
            stuck = [t.atom for t in ftype.terms if t.atom.is_manifold and t.atom.kind is not U]
            if stuck:
                raise ctx.error(
                    code,
                    f"`{_shown(ctx.op)}` of `{stuck[0]}` values leaves {NAMES[stuck[0].kind]}",
                    arg=index,
                    label=str(ftype),
                    help=_fix(category, stuck[0].kind),
                )
        if ctx.op in AMBIENT_RESULT:
            types = [ambient(t, rotated(ctx)) for t in types]
        return rule(ctx, types, attrs)

    return infer


_SYNTAX = {"add": "+", "sub": "-", "mul": "*", "neg": "-", "scale": "*"}


def _shown(op: str) -> str:
    return _SYNTAX.get(op, op)


def _guard_euclidean_operators(registry: dict[str, OpDef]) -> None:
    """Wrap the typing rules of the Euclidean operators (loaded before this family)."""
    for name in EUCLIDEAN_GUARDS:
        op = registry.get(name)
        if op is not None and not op.meta.get("manifold_guard"):
            meta = {**op.meta, "manifold_guard": True}
            registry[name] = dataclasses.replace(op, infer=guarded(op.infer), meta=meta)


def _load_euclidean_families() -> None:
    from geoc.ops import core, graph, o3  # noqa: F401 - the operators guarded below


_load_euclidean_families()
_guard_euclidean_operators(REGISTRY)

__all__ = [
    "EUCLIDEAN_GUARDS",
    "ambient",
    "guarded",
    "one_manifold",
    "single_point",
    "tangent_type",
]
