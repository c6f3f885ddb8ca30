"""Core operators: arithmetic, equivariant linear maps, MLPs, activations, invariants.

Each operator: its signature, its typing rule, its equivariance contract, in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.groups import Group, Rotations
from geoc.ops import (
    AttrKind,
    OpContext,
    Traits,
    attr,
    contract,
    define,
    tensor,
    tensors,
    typing_rule,
)
from geoc.ops.euclidean import ACT, ARITH, INVARIANT, LAYER
from geoc.types import PSEUDOSCALAR, SCALAR, VECTOR, Atom, AtomKind, FeatureType, Term, simplify

#: Pointwise non-linearities; the odd ones commute with sign flips (pseudoscalars).
ACTIVATIONS = {
    "relu": False,
    "silu": False,
    "swish": False,
    "gelu": False,
    "sigmoid": False,
    "softplus": False,
    "elu": False,
    "leaky_relu": False,
    "tanh": True,
    "identity": True,
}

#: Arithmetic made from syntax: entry by entry on fields, coefficients and weight spaces.
_ARITH = Traits(
    elementwise=True,
    fields=True,
    spectra=True,
    weights=True,
    euclidean=ARITH,
    ambient=True,
    channel_first=False,
    channel_last_when=None,
    learned=False,
    linear_in=("a", "b"),
    commutes_gather=True,
    commutes_scatter=True,
    bias=False,
)
_UNARY = dataclasses.replace(_ARITH, linear_in=("a",))
_POINT_MAP_DOC = "same type; negating or scaling a point: `GEO404`"
_NORM_DOC = (
    "one {} per copy, `c(x) x scalar`; of a point: `GEO404`; of `Lorentz(n)` / `Sp(n)` vectors "
    "and tensors: `GEO420` (use `mdot`)"
)
#: Learned maps on the channels of each element (1x1 maps on fields).
_LAYER = Traits(
    elementwise=False,
    fields=True,
    spectra=False,
    weights=True,
    euclidean=LAYER,
    ambient=False,
    channel_first=True,
    channel_last_when=None,
    learned=True,
    linear_in=("x",),
    commutes_gather=True,
    commutes_scatter=True,
    bias=True,
)
#: Invariants of each element's copies: norms and inner products.
_INVARIANT = Traits(
    elementwise=False,
    fields=False,
    spectra=False,
    weights=False,
    euclidean=INVARIANT,
    ambient=False,
    channel_first=False,
    channel_last_when=None,
    learned=False,
    linear_in=(),
    commutes_gather=True,
    commutes_scatter=False,
    bias=False,
)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def joint_axes(ctx: OpContext, types: Sequence[FeatureType]) -> tuple[str, ...]:
    """The axes of a combination: all equal, or global values broadcast along the others."""
    placed = [(i, t.axes) for i, t in enumerate(types) if t.axes]
    if not placed:
        return ()
    first = placed[0][1]
    for index, axes in placed[1:]:
        if axes != first:
            raise ctx.error(
                "GEO305",
                f"`{ctx.op}` combines a value over {_axes(first)} with one over {_axes(axes)}",
                arg=index,
                label=f"over {_axes(axes)}",
                help="gather node values onto edges with `x[src]` / `x[dst]`, or reduce edge "
                "values with `sum(..., over=edges, into=nodes)`",
            )
    return first


def _axes(axes: tuple[str, ...]) -> str:
    return ", ".join(axes) if axes else "no axis"


def copies(ftype: FeatureType) -> list[Atom]:
    """The atoms copy by copy: ``2 x vector + scalar`` -> [vector, vector, scalar]."""
    return [t.atom for t in ftype.terms for _ in range(t.mul)]


def from_copies(atoms: Sequence[Atom], axes: tuple[str, ...]) -> FeatureType:
    return FeatureType(simplify(tuple(Term(1, a) for a in atoms)), axes)


def is_scalar_like(ftype: FeatureType) -> bool:
    """Every channel a scalar or pseudoscalar: such a value may scale any other."""
    return all(a.kind in (AtomKind.SCALAR, AtomKind.PSEUDOSCALAR) for a in ftype.atoms)


def point_violation(
    ctx: OpContext, ftype: FeatureType, arg: int, what: str, fix: str
) -> list[Diagnostic]:
    if not (ftype.has_points and ctx.group.translations):
        return []
    return [
        ctx.diagnostic(
            "GEO404",
            f"{what} is not translation-equivariant under {ctx.group}",
            arg=arg,
            label=str(ftype),
            help=fix,
        )
    ]


def not_invariant(ctx: OpContext, ftype: FeatureType) -> list[Atom]:
    return [a for a in ftype.atoms if not ctx.group.is_invariant(a)]


def norm_violation(ctx: OpContext, ftype: FeatureType, arg: int) -> list[Diagnostic]:
    """GEO420: a Euclidean norm or dot product of Lorentz(n) / Sp(n) vectors (not invariant)."""
    atom = next((a for a in ftype.atoms if not ctx.group.keeps_norm(a)), None)
    if atom is None:
        return []
    return [
        ctx.diagnostic(
            "GEO420",
            f"`{ctx.op}` of `{atom}` is not invariant under {ctx.group}: the group does not "
            "preserve the Euclidean inner product",
            arg=arg,
            label=str(ftype.with_axes(())),
            help="use the group's invariant form `mdot(x, x)` (Minkowski under Lorentz)",
        )
    ]


# ---------------------------------------------------------------------------------------------
# Arithmetic made from syntax: a + b, a - b, a * b, -a

_BINARY = (tensor("a"), tensor("b"))
ADD = define(
    "add",
    "core",
    _BINARY,
    _ARITH,
    "the same representation on both sides (`GEO307`); a point plus a vector is a point; "
    "`p + q` of points is `GEO404`",
    syntax="+",
)
SUB = define(
    "sub",
    "core",
    _BINARY,
    _ARITH,
    "the same representation on both sides (`GEO307`); `p - q` of points is a `vector`, "
    "`p - v` a point",
    syntax="-",
)


@typing_rule(ADD, SUB)
def _infer_add(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    subtract = ctx.op == "sub"
    result = _affine_sum(a, b, subtract, ctx)
    if result is not None:
        return (result.with_axes(axes),)
    if not a.same_rep(b):
        op = "-" if subtract else "+"
        raise ctx.error(
            "GEO307",
            f"`{op}` needs the same representation on both sides: `{a.with_axes(())}` "
            f"{op} `{b.with_axes(())}`",
            arg=1,
            label=str(b.with_axes(())),
            help="map one side with `linear(x, T)` so both have type T",
        )
    return (a.with_axes(axes),)


def _affine_sum(
    a: FeatureType, b: FeatureType, subtract: bool, ctx: OpContext
) -> FeatureType | None:
    """Point arithmetic: p - p is a vector, p ± v and v + p are points (per copy)."""
    if not (a.has_points or b.has_points):
        return None
    ca, cb = copies(a), copies(b)
    if len(ca) != len(cb):
        return None
    out: list[Atom] = []
    for x, y in zip(ca, cb, strict=True):
        atom = _affine_pair(x, y, subtract, ctx)
        if atom is None:
            return None
        out.append(atom)
    return from_copies(out, ())


def _affine_pair(x: Atom, y: Atom, subtract: bool, ctx: OpContext) -> Atom | None:
    dim = ctx.group.space_dim
    if x.is_point and y.is_point:
        if subtract and x == y and (dim is None or dim == x.args[0]):
            return VECTOR
        # p + q types as a point; its contract rejects it where translations act.
        return x if not subtract and x == y else None
    point, other = (x, y) if x.is_point else (y, x)
    if other.kind is AtomKind.VECTOR and (not subtract or x.is_point):
        return point
    return None


MUL = define(
    "mul",
    "core",
    _BINARY,
    dataclasses.replace(_ARITH, spectra=False, commutes_scatter=False),
    "one side scalars, one per copy of the other side or a single one; a pseudoscalar flips "
    "parity (`pseudoscalar * vector` is a `pseudovector`); both sides transforming: `GEO407` "
    "(allowed without rotations if the reps match); scaling a point: `GEO404`",
    syntax="*",
)


@typing_rule(MUL)
def _infer_mul(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    if is_scalar_like(b) and not is_scalar_like(a):
        a, b = b, a
        swapped = True
    else:
        swapped = False
    if not is_scalar_like(a):
        unmoved = ctx.group.rotations is Rotations.NONE and ctx.group.matrix is None
        if unmoved and a.same_rep(b):
            return (a.with_axes(axes),)
        raise ctx.error(
            "GEO407",
            f"`*` of two transforming values (`{a.with_axes(())}` and `{b.with_axes(())}`) "
            f"is not equivariant under {ctx.group}",
            arg=1,
            label=str(b.with_axes(())),
            help="one side must be scalars; for two vectors use `dot(a, b)`",
        )
    return (_scale_copies(ctx, a, b, arg=1 if swapped else 0).with_axes(axes),)


def _scale_copies(ctx: OpContext, scale: FeatureType, value: FeatureType, arg: int) -> FeatureType:
    """One scalar per copy of ``value`` (or one for all); pseudoscalars flip parity."""
    signs = [-1 if a.kind is AtomKind.PSEUDOSCALAR else 1 for a in copies(scale)]
    atoms = copies(value)
    if len(signs) == 1:
        signs = signs * len(atoms)
    if len(signs) != len(atoms):
        raise ctx.error(
            "GEO300",
            f"`*` needs one scalar per copy ({len(atoms)}) or a single scalar, got {len(signs)}",
            arg=arg,
            label=f"{len(signs)} scalars",
            help=f"produce {len(atoms)} x scalar (e.g. `mlp(m, [hidden, {len(atoms)}])`) or 1",
        )
    if any(atom.is_point and s == -1 for atom, s in zip(atoms, signs, strict=True)):
        raise ctx.error(
            "GEO300",
            "a pseudoscalar times a point has no feature type",
            arg=arg,
            label="pseudoscalar",
            help="scale the vector `p - q` instead",
        )
    return from_copies([atom.with_sign(s) for atom, s in zip(atoms, signs, strict=True)], ())


NEG = define("neg", "core", (tensor("a"),), _UNARY, _POINT_MAP_DOC, syntax="-")
SCALE = define(
    "scale", "core", (tensor("a"), attr("factor", AttrKind.FLOAT)), _UNARY, _POINT_MAP_DOC, "*"
)


@typing_rule(NEG, SCALE)
def _infer_same(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    return (types[0],)


@contract(ADD, SUB)
def _add_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    a, b = types
    pairs = zip(copies(a), copies(b), strict=False)
    if ctx.op != "add" or not any(x.is_point and y.is_point for x, y in pairs):
        return []
    fix = "take the difference `p - q` (a vector) or the mean of the points"
    return point_violation(ctx, b, 1, "the sum of two points", fix)


@contract(MUL)
def _mul_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    fix = "scale the vector `p - q` instead, then add it to a point"
    return [
        d for i, t in enumerate(types) for d in point_violation(ctx, t, i, "scaling a point", fix)
    ]


#: What a constant map does to a point, and the fix, for the contracts of `-p` and `c * p`.
_POINT_MAPS = {
    "neg": ("negating a point", "negate a difference of points (a vector) instead"),
    "scale": ("scaling a point", "scale a difference of points (a vector) instead"),
}


@contract(NEG, SCALE)
def _neg_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    what, fix = _POINT_MAPS[ctx.op]
    return point_violation(ctx, types[0], 0, what, fix)


# ---------------------------------------------------------------------------------------------
# linear: the equivariant linear map (Schur)


def _solver_linear(group: Group, types: Sequence[FeatureType], out: FeatureType) -> bool:
    """A `linear` built from the solver's basis (e.g. on `regular` group feature maps) maps
    the last axis: it sees fields channels-last."""
    from geoc.ops import solver_ops

    return solver_ops.uses_solver(group, *types, out)


LINEAR = define(
    "linear",
    "core",
    (tensor("x"), attr("out", AttrKind.TYPE), attr("bias", AttrKind.BOOL, True)),
    dataclasses.replace(_LAYER, channel_last_when=_solver_linear),
    "`out` on the axes of `x`; Schur: one weight per pair of copies of the same irrep; an output "
    "irrep absent from the input is `GEO403` (e.g. scalars to vectors under O(3)); points under "
    "translations: `GEO404`; a bias only on invariant outputs",
)


@typing_rule(LINEAR)
def _infer_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (a,) = types
    out: FeatureType = attrs["out"]
    if out.axes and out.axes != a.axes:
        raise ctx.error(
            "GEO305",
            f"`linear` keeps the axes of its input ({_axes(a.axes)}), not {_axes(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    from geoc.ops import solver_ops  # the solver's groups build `linear` from their basis

    if solver_ops.uses_solver(ctx.group, a, out):
        solver_ops.check_solver_linear(ctx, a, out)
    return (out.with_axes(a.axes),)


@contract(LINEAR)
def _linear_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    found = point_violation(
        ctx, a, 0, "a linear map of points", "map differences of points (vectors) instead"
    )
    if found:
        return found
    from geoc.ops import solver_ops

    if solver_ops.uses_solver(ctx.group, a, attrs["out"]):
        return solver_ops.solver_linear_contract(ctx, types, attrs)
    have = {key for atom in a.atoms for key, _ in ctx.group.irreps(atom)}
    for atom in attrs["out"].atoms:
        missing = [key for key, _ in ctx.group.irreps(atom) if key not in have]
        if missing:
            return [
                ctx.diagnostic(
                    "GEO403",
                    f"no equivariant linear map from `{a.with_axes(())}` to `{atom}` under "
                    f"{ctx.group}: it must be zero (Schur's lemma)",
                    arg=0,
                    label=str(a.with_axes(())),
                    help=f"the input has no `{atom}` part; make one first, e.g. `s * v`",
                )
            ]
    return []


# ---------------------------------------------------------------------------------------------
# mlp, act


MLP = define(
    "mlp",
    "core",
    (
        tensor("x"),
        attr("widths", AttrKind.INT_LIST),
        attr("act", AttrKind.SYMBOL, "silu"),
        attr("last_act", AttrKind.BOOL, False),
        attr("bias", AttrKind.BOOL, True),
    ),
    dataclasses.replace(_LAYER, linear_in=(), commutes_scatter=False),
    "multi-layer perceptron: `widths[-1] x scalar`; its input must be invariant (`GEO401`)",
)


@typing_rule(MLP)
def _infer_mlp(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (a,) = types
    widths = attrs["widths"]
    if not widths or any(w < 1 for w in widths):
        raise ctx.error(
            "GEO302",
            "`mlp` needs a non-empty list of positive widths",
            label=str(list(widths)),
            help="e.g. `mlp(h, [64, 64])`",
        )
    check_activation(ctx, attrs["act"])
    return (FeatureType((Term(widths[-1], SCALAR),), a.axes),)


@contract(MLP)
def _mlp_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    moving = not_invariant(ctx, a)
    if not moving:
        return []
    help_text = "feed `norm(x)` or `sqnorm(x)` (invariant) instead, or use `linear(x, ...)`"
    if a.has_points:
        help_text = "feed invariants such as `sqnorm(x[dst] - x[src])` instead"
    return [
        ctx.diagnostic(
            "GEO401",
            f"`mlp` needs an invariant input, but it is `{a}` under {ctx.group}",
            arg=0,
            label=str(a),
            help=help_text,
        )
    ]


def check_activation(ctx: OpContext, name: str) -> None:
    if name not in ACTIVATIONS:
        raise ctx.error(
            "GEO302",
            f"`{name}` is not a known activation",
            label="unknown activation",
            help="activations: " + ", ".join(f"`{n}`" for n in ACTIVATIONS),
        )


ACT_OP = define(
    "act",
    "core",
    (tensor("x"), attr("fn", AttrKind.SYMBOL)),
    dataclasses.replace(_ARITH, spectra=False, euclidean=ACT, linear_in=(), commutes_scatter=False),
    "pointwise non-linearity, same type: only on invariant channels, on coordinates the group "
    "permutes (`regular`; `vector`, `tensor(k)` of `S(n)`, `A(n)`), or odd `fn` (`tanh`, "
    "`identity`) on sign representations (pseudoscalars under O(n)): `GEO402`",
)


@typing_rule(ACT_OP)
def _infer_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    check_activation(ctx, attrs["fn"])
    return (types[0],)


@contract(ACT_OP)
def _act_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    odd = ACTIVATIONS[attrs["fn"]]
    moved = [x for x in not_invariant(ctx, a) if not ctx.group.permutes(x)]
    bad = [x for x in moved if not (odd and ctx.group.is_sign(x))]
    if not bad:
        return []
    atom = bad[0]
    fix = "apply it to invariants, or use `gate(...)` to scale vectors by activated scalars"
    if ctx.group.is_sign(atom):
        fix = "use an odd activation such as `tanh`, or apply it to `norm(x)`"
    return [
        ctx.diagnostic(
            "GEO402",
            f"`{attrs['fn']}` applied pointwise to `{atom}` breaks {ctx.group}",
            arg=0,
            label=str(a),
            help=fix,
        )
    ]


# ---------------------------------------------------------------------------------------------
# concat and the invariants norm, sqnorm, dot


CONCAT = define(
    "concat",
    "core",
    (tensors("xs"),),
    Traits(
        elementwise=False,
        fields=True,
        spectra=False,
        weights=True,
        euclidean=None,
        ambient=False,
        channel_first=True,
        channel_last_when=None,
        learned=False,
        linear_in=("xs",),
        commutes_gather=True,
        commutes_scatter=True,
        bias=False,
    ),
    "direct sum of values, in order",
)


@typing_rule(CONCAT)
def _infer_concat(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    if not types:
        raise ctx.error("GEO304", "`concat` needs at least one value", help="`concat(a, b)`")
    axes = joint_axes(ctx, types)
    terms = tuple(term for t in types for term in t.terms)
    return (FeatureType(terms, axes),)


NORM = define("norm", "core", (tensor("x"),), _INVARIANT, _NORM_DOC.format("norm"))
SQNORM = define("sqnorm", "core", (tensor("x"),), _INVARIANT, _NORM_DOC.format("squared norm"))


@typing_rule(NORM, SQNORM)
def _infer_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (a,) = types
    return (FeatureType((Term(a.copies, SCALAR),), a.axes),)


@contract(NORM, SQNORM)
def _norm_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    fix = "take the norm of a difference of points, e.g. `norm(x[dst] - x[src])`"
    found = point_violation(ctx, types[0], 0, f"`{ctx.op}` of a point", fix)
    return found or norm_violation(ctx, types[0], 0)


DOT = define(
    "dot",
    "core",
    (tensor("a"), tensor("b")),
    dataclasses.replace(_INVARIANT, linear_in=("a", "b")),
    "one inner product per copy (a pseudoscalar where parities differ); of points: `GEO404`; "
    "under `Lorentz(n)` / `Sp(n)`: `GEO420` (use `mdot`)",
)


@typing_rule(DOT)
def _infer_dot(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    ca, cb = copies(a), copies(b)
    # Copies must match up to parity: vector . pseudovector is a pseudoscalar.
    same = len(ca) == len(cb) and all(_even(x) == _even(y) for x, y in zip(ca, cb, strict=True))
    if not same:
        raise ctx.error(
            "GEO300",
            f"`dot` needs the same representation on both sides: `{a.with_axes(())}` and "
            f"`{b.with_axes(())}`",
            arg=1,
            label=str(b.with_axes(())),
            help="map one side with `linear(x, T)` first",
        )
    atoms = [SCALAR if x.sign * y.sign == 1 else PSEUDOSCALAR for x, y in zip(ca, cb, strict=True)]
    return (from_copies(atoms, axes),)


def _even(atom: Atom) -> Atom:
    """The atom with its reflection sign removed (pseudovector -> vector)."""
    return atom.with_sign(atom.sign)


@contract(DOT)
def _dot_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    fix = "take dot products of differences of points (vectors)"
    found = [
        d for i, t in enumerate(types) for d in point_violation(ctx, t, i, "`dot` of a point", fix)
    ]
    return found or norm_violation(ctx, types[0], 0)
