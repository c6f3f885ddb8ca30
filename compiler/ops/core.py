"""Core operators: arithmetic, direct sums and the invariants `norm`, `sqnorm`, `dot`, with the
helpers every family shares (joint axes, copies, point checks); `linear`, `mlp` and `act` are in
:mod:`geoc.ops.layers`.

Each operator: its signature, its typing rule, its equivariance contract, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic, GeoError
from geoc.groups import Group, Rotations
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    contract,
    define,
    preset,
    tensor,
    tensors,
    typing_rule,
)
from geoc.ops.euclidean import ARITH, INVARIANT
from geoc.types import PSEUDOSCALAR, SCALAR, VECTOR, Atom, FeatureType, Term, simplify

#: Arithmetic made from syntax: entry by entry on fields, coefficients and weight spaces.
_ARITH = preset(
    PLAIN,
    *("elementwise", "fields", "spectra", "weights", "ambient", "commutes_scatter"),
    euclidean=ARITH,
    linear_in=("a", "b"),
)
_UNARY = preset(_ARITH, linear_in=("a",))
_POINT_MAP_DOC = "same type; negating or scaling a point: `GEO404`"
_NORM_DOC = (
    "one {} per copy, `c(x) x scalar`; of a point: `GEO404`; of `Lorentz(n)` / `Sp(n)` vectors "
    "and tensors: `GEO420` (use `mdot`)"
)
#: Invariants of each element's copies: norms and inner products.
_INVARIANT = preset(PLAIN, "euclidean_norm", euclidean=INVARIANT)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def joint_axes(ctx: OpContext, types: Sequence[FeatureType]) -> tuple[str, ...]:
    """The axes of a combination: all equal, or global values broadcast along the others.

    The one rule for operands over fewer axes: a global value meets values over ``axes`` as
    the value over ``axes`` equal to it everywhere (per graph of a batch, per sample of a grid
    batch), which is equivariant because the symmetry moves only the axis positions of a
    constant, and the domain says whether such a constant exists (``check_broadcast``). The
    lowering places it by the domain's layout (``LowerCtx.align``), never by tensor
    broadcasting."""
    placed = [(i, t.axes) for i, t in enumerate(types) if t.axes]
    if not placed:
        return ()
    for index, ftype in enumerate(types):
        if not ftype.axes:
            ctx.domain.rules.check_broadcast(ctx, ftype, placed[0][1], index)
    first = placed[0][1]
    for index, axes in placed[1:]:
        if axes != first:
            raise ctx.error(
                "GEO305",
                f"`{ctx.op}` combines a value over {axes_text(first)} with one over "
                f"{axes_text(axes)}",
                arg=index,
                label=f"over {axes_text(axes)}",
                help="gather node values onto edges with `x[src]` / `x[dst]`, or reduce edge "
                "values with `sum(..., over=edges, into=nodes)`",
            )
    return first


def axes_text(axes: tuple[str, ...]) -> str:
    return ", ".join(axes) if axes else "no axis"


def copies(ftype: FeatureType) -> list[Atom]:
    """The atoms copy by copy: ``2 x vector + scalar`` -> [vector, vector, scalar]. O(copies):
    for lowerings that emit per-copy code; typing and contracts use :func:`paired_runs`."""
    return [t.atom for t in ftype.terms for _ in range(t.mul)]


def paired_runs(a: FeatureType, b: FeatureType) -> list[tuple[int, Atom, Atom]] | None:
    """The copies of ``a`` and ``b`` paired in order, as runs ``(count, atom_a, atom_b)`` of
    equal pairs: O(terms), whatever the multiplicities (``10**9 x scalar`` is one run). None
    when the two have different numbers of copies."""
    if a.copies != b.copies:
        return None
    runs: list[tuple[int, Atom, Atom]] = []
    left, right = list(a.terms), list(b.terms)
    i = j = 0
    used_a = used_b = 0  # copies of left[i] / right[j] already paired
    while i < len(left) and j < len(right):
        count = min(left[i].mul - used_a, right[j].mul - used_b)
        if count:
            runs.append((count, left[i].atom, right[j].atom))
        used_a, used_b = used_a + count, used_b + count
        if used_a == left[i].mul:
            i, used_a = i + 1, 0
        if used_b == right[j].mul:
            j, used_b = j + 1, 0
    return runs


def from_runs(runs: Sequence[tuple[int, Atom]], axes: tuple[str, ...]) -> FeatureType:
    """The feature type of ``count`` copies of each atom, in order (adjacent runs merged)."""
    return FeatureType(simplify(tuple(Term(n, a) for n, a in runs if n)), axes)


def is_scalar_like(group: Group, ftype: FeatureType) -> bool:
    """Every copy one channel that the group multiplies by a sign: such a value may scale any
    other (copy by copy, or one for all)."""
    return all(group.character(a) is not None for a in ftype.atoms)


def scale_side(group: Group, types: Sequence[FeatureType]) -> int | None:
    """Which operand of ``*`` scales the other (None: neither is scalar-like): the scalar-like
    one; of two scalar-like operands the one with fewer copies, so ``a * s`` is ``s * a``."""
    a, b = types
    a_scales, b_scales = is_scalar_like(group, a), is_scalar_like(group, b)
    if a_scales and b_scales:
        return 1 if b.copies < a.copies else 0
    return 0 if a_scales else 1 if b_scales else None


def scales_per_copy(group: Group, types: Sequence[FeatureType], out: FeatureType) -> bool:
    """Whether ``*`` scales copies wider than one channel (``regular`` blocks, vectors) each by
    its own scalar: that indexes channels, so the rule sees fields channel-last."""
    side = scale_side(group, types)
    if side is None:
        return False
    scale, value = types[side], types[1 - side]
    return scale.copies not in (1, group.type_dim(value))


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
            help=fix + ctx.breaks_help(translations=True),
        )
    ]


def not_invariant(ctx: OpContext, ftype: FeatureType) -> list[Atom]:
    return [a for a in ftype.atoms if not ctx.group.is_invariant(a)]


def invariant_input_violation(
    ctx: OpContext, value: FeatureType, arg: int, help: str
) -> list[Diagnostic]:
    """GEO401: the operator needs an invariant input (an `mlp`, a radial basis, weights)."""
    if not not_invariant(ctx, value):
        return []
    message = f"`{ctx.op}` needs an invariant input, but it is `{value}` under {ctx.group}"
    help += ctx.breaks_help()
    return [ctx.diagnostic("GEO401", message, arg=arg, label=str(value), help=help)]


def different_reps(
    ctx: OpContext,
    code: str,
    operands: tuple[FeatureType, FeatureType],
    written: tuple[str, str],
    fix: str,
    per_copy: bool = False,
) -> GeoError:
    """The two operands need the same representation; ``written`` is how the message names the
    operator and joins the sides (``("+", "+")``, ``("dot", "and")``), labelled at the second.
    ``per_copy``: the operator pairs the copies (``dot``, ``mdot``), and says so."""
    name, joiner = written
    a, b = (t.with_axes(()) for t in operands)
    paired = " copy by copy" if per_copy else ""
    message = f"`{name}` needs the same representation{paired} on both sides: `{a}` {joiner} `{b}`"
    return ctx.error(code, message, arg=1, label=str(b), help=fix)


def positive(ctx: OpContext, code: str, name: str, value: float, example: str) -> None:
    """``code`` unless ``value > 0`` (a size, a cutoff, an epsilon)."""
    if not value > 0:
        raise ctx.error(
            code, f"`{name}` must be positive, got {value!r}", label=repr(value), help=example
        )


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
    if not ctx.group.same_rep(a, b):
        op = "-" if subtract else "+"
        fix = "map one side with `linear(x, T)` so both have type T"
        raise different_reps(ctx, "GEO307", (a, b), (op, op), fix)
    return (a.with_axes(axes),)


def _affine_sum(
    a: FeatureType, b: FeatureType, subtract: bool, ctx: OpContext
) -> FeatureType | None:
    """Point arithmetic: p - p is a vector, p ± v and v + p are points (per copy)."""
    if not (a.has_points or b.has_points):
        return None
    runs = paired_runs(a, b)
    if runs is None:
        return None
    out: list[tuple[int, Atom]] = []
    for count, x, y in runs:
        atom = _affine_pair(x, y, subtract, ctx)
        if atom is None:
            return None
        out.append((count, atom))
    return from_runs(out, ())


def _affine_pair(x: Atom, y: Atom, subtract: bool, ctx: OpContext) -> Atom | None:
    dim = ctx.group.space_dim
    if x.is_point and y.is_point:
        if subtract and x == y and (dim is None or dim == x.args[0]):
            return VECTOR
        # p + q types as a point; its contract rejects it where translations act.
        return x if not subtract and x == y else None
    point, other = (x, y) if x.is_point else (y, x)
    if ctx.group.same_atom(other, VECTOR) and (not subtract or x.is_point):
        return point
    return None


MUL = define(
    "mul",
    "core",
    _BINARY,
    preset(_ARITH, spectra=False, commutes_scatter=False, channel_last_when=scales_per_copy),
    "one side scalars, one per copy of the other side or a single one; a pseudoscalar flips "
    "parity (`pseudoscalar * vector` is a `pseudovector`); both sides transforming: `GEO407` "
    "(allowed without rotations if the reps match); scaling a point: `GEO404`",
    syntax="*",
)


@typing_rule(MUL)
def _infer_mul(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    axes = joint_axes(ctx, types)
    side = scale_side(ctx.group, types)
    swapped = side == 1
    a, b = reversed(types) if swapped else types
    if side is None:
        unmoved = ctx.group.rotations is Rotations.NONE and ctx.group.matrix is None
        if unmoved and ctx.group.same_rep(a, b):
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
    wanted, got = value.copies, scale.copies
    if got == 1:  # one scalar for all copies
        scale = FeatureType((Term(wanted, scale.terms[0].atom),), scale.axes)
    runs = paired_runs(value, scale)
    if runs is None:
        raise ctx.error(
            "GEO300",
            f"`*` needs one scalar per copy ({wanted}) or a single scalar, got {got}",
            arg=arg,
            label=f"{got} scalars",
            help=f"produce {wanted} x scalar (e.g. `mlp(m, [hidden, {wanted}])`) or 1",
        )
    signed = [(n, a, ctx.group.character(s) or 1) for n, a, s in runs]
    unsigned = next((a for _, a, s in signed if s == -1 and not a.signed), None)
    if unsigned is not None:
        raise ctx.error(
            "GEO300",
            f"a pseudoscalar times `{unsigned}` has no feature type",
            arg=arg,
            label="pseudoscalar",
            help="scale the vector `p - q` instead"
            if unsigned.is_point
            else "scale it by invariant scalars, e.g. `norm(...)` or `sqnorm(...)`",
        )
    return from_runs([(n, atom.with_sign(s)) for n, atom, s in signed], ())


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
    runs = paired_runs(a, b) or []
    if ctx.op != "add" or not any(x.is_point and y.is_point for _, x, y in runs):
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
# concat and the invariants norm, sqnorm, dot


CONCAT = define(
    "concat",
    "core",
    (tensors("xs"),),
    preset(
        PLAIN,
        *("fields", "weights", "channel_first", "commutes_scatter", "keeps_manifold"),
        linear_in=("xs",),
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
    return found


DOT = define(
    "dot",
    "core",
    (tensor("a"), tensor("b")),
    preset(_INVARIANT, linear_in=("a", "b")),
    "one inner product per copy (a pseudoscalar where parities differ); of points: `GEO404`; "
    "under `Lorentz(n)` / `Sp(n)`: `GEO420` (use `mdot`)",
)


@typing_rule(DOT)
def _infer_dot(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    # Copies must match up to parity: vector . pseudovector is a pseudoscalar.
    pairs = paired_runs(a, b)
    runs = [(n, _dot_atom(ctx.group, x, y)) for n, x, y in pairs or []]
    if pairs is None or any(atom is None for _, atom in runs):
        fix = "map one side with `linear(x, T)` first"
        raise different_reps(ctx, "GEO300", (a, b), ("dot", "and"), fix, per_copy=True)
    return (from_runs(runs, axes),)  # type: ignore[arg-type]


def _dot_atom(group: Group, x: Atom, y: Atom) -> Atom | None:
    """The inner product of one copy of each: invariant where the group acts alike on both, a
    pseudoscalar where the actions differ by the reflection sign, else None."""
    if x.signed and y.signed and group.same_atom(x.with_sign(x.sign), y.with_sign(y.sign)):
        return SCALAR if x.sign * y.sign == 1 else PSEUDOSCALAR
    return SCALAR if group.same_atom(x, y) else None


@contract(DOT)
def _dot_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    fix = "take dot products of differences of points (vectors)"
    found = [
        d for i, t in enumerate(types) for d in point_violation(ctx, t, i, "`dot` of a point", fix)
    ]
    return found
