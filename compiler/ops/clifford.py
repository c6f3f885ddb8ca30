"""Clifford-algebra operators on `multivector(p, q)` values (docs/clifford.md): the geometric,
outer (`wedge`) and inner (left contraction) products, grade projection, reverse, the grade-wise
linear layer and weighted geometric product (per grade, CGENN, Ruhe et al., 2023, or per
grade mod 4, GLGENN, Filimoshina & Shirokov, 2025), gated nonlinearity and normalisation, and
the embedding of vectors.

Why they are equivariant: O(p, q) acts on multivectors by the outermorphism of its action on
vectors, an algebra automorphism that preserves every grade and commutes with the reverse
(:mod:`geoc.clifford`). So every product made from the geometric product by keeping grades
commutes with it, and so do grade projections and the reverse; the quadratic form
``<x_k x̃_k>_0`` of each grade is invariant, which is what the gate and the norm read. An
element g moves the pseudoscalar I to det(g) I: multiplying by I (``mv_linear``'s ``dual``)
commutes only with groups of determinant 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geoc import clifford
from geoc.groups import Group, IndefiniteFactor
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    define,
    preset,
    tensor,
    typing_rule,
)
from geoc.ops.core import joint_axes, positive
from geoc.types import VECTOR, Atom, AtomKind, FeatureType, Term, simplify

_BILINEAR = preset(PLAIN, linear_in=("a", "b"))
_LINEAR_MAP = preset(PLAIN, "commutes_scatter", linear_in=("x",))
_LEARNED = preset(PLAIN, "learned")


def multivectors(ctx: OpContext, ftype: FeatureType, arg: int) -> Term:
    """The one term ``c x multivector(p, q)`` of an operand (GEO422 otherwise)."""
    terms = simplify(ftype.terms)
    if len(terms) != 1 or terms[0].atom.kind is not AtomKind.MULTIVECTOR:
        raise ctx.error(
            "GEO422",
            f"`{ctx.op}` takes multivectors `c x multivector(p, q)`, got `{ftype.with_axes(())}`",
            arg=arg,
            label=str(ftype.with_axes(())),
            help="embed vectors with `embed_vector(x)`; a value holds one algebra's multivectors",
        )
    return terms[0]


def _same_algebra(ctx: OpContext, types: Sequence[FeatureType]) -> Term:
    """Both operands' terms: one signature (GEO423), as many copies (GEO424)."""
    a, b = (multivectors(ctx, t, i) for i, t in enumerate(types))
    if a.atom != b.atom:
        raise ctx.error(
            "GEO423",
            f"`{ctx.op}` multiplies within one algebra, but its operands are `{a.atom}` and "
            f"`{b.atom}`",
            arg=1,
            label=str(b.atom),
            help=f"both operands must be `multivector{a.atom.args}`: a product of different "
            "signatures is not defined",
        )
    if a.mul != b.mul:
        raise ctx.error(
            "GEO424",
            f"`{ctx.op}` multiplies copy by copy, but the operands have {a.mul} and {b.mul} copies",
            arg=1,
            label=f"{b.mul} copies",
            help="give both operands the same number of copies, e.g. with `mv_linear(x, c)`",
        )
    return a


# ---------------------------------------------------------------------------------------------
# Products: the geometric product and the two grade-selected ones


_BILINEAR_ATTRS = (tensor("a"), tensor("b"))
GEOMETRIC_PRODUCT = define(
    "geometric_product",
    "clifford",
    _BILINEAR_ATTRS,
    _BILINEAR,
    "same type: the geometric product `a b` copy by copy; operands of one algebra "
    "(`GEO423`) and as many copies (`GEO424`)",
)
WEDGE = define(
    "wedge",
    "clifford",
    _BILINEAR_ATTRS,
    _BILINEAR,
    "same type: the outer product `a ∧ b` (grade r times grade s kept at r + s) copy by copy; "
    "`clifford`'s `a ^ b`",
)
LEFT_CONTRACTION = define(
    "left_contraction",
    "clifford",
    _BILINEAR_ATTRS,
    _BILINEAR,
    "same type: the inner product, the left contraction `a ⌋ b` (grade r times grade s kept "
    "at s - r, none for r > s) copy by copy; `clifford`'s `a.lc(b)`",
)


@typing_rule(GEOMETRIC_PRODUCT, WEDGE, LEFT_CONTRACTION)
def _infer_product(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: g acts by an algebra automorphism that keeps grades, so it commutes with the
    product and with keeping the product's grades r + s or s - r."""
    term = _same_algebra(ctx, types)
    return (FeatureType((term,), joint_axes(ctx, types)),)


# ---------------------------------------------------------------------------------------------
# Grade projection and reverse

GRADE = define(
    "grade",
    "clifford",
    (tensor("x"), attr("k", AttrKind.INT)),
    _LINEAR_MAP,
    "same type: the grade-`k` part `<x>_k` (other blades zero), `0 <= k <= p + q` (`GEO426`)",
)


@typing_rule(GRADE)
def _infer_grade(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: the outermorphism is block-diagonal by grade, so projecting commutes."""
    (x,) = types
    term = multivectors(ctx, x, 0)
    n, k = sum(term.atom.args), attrs["k"]
    if not 0 <= k <= n:
        raise ctx.error(
            "GEO426",
            f"`{term.atom}` has grades 0 to {n}, not {k}",
            attr="k",
            label=str(k),
            help=f"choose `k` between 0 and {n}",
        )
    return (x,)


REVERSE = define(
    "reverse",
    "clifford",
    (tensor("x"),),
    _LINEAR_MAP,
    "same type: the reverse `x̃` (grade k times (-1)^(k(k-1)/2)); `clifford`'s `~x`",
)


@typing_rule(REVERSE)
def _infer_reverse(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: a sign per grade, and the group keeps every grade."""
    (x,) = types
    multivectors(ctx, x, 0)
    return (x,)


# ---------------------------------------------------------------------------------------------
# CGENN / GLGENN layers

_SHARE = attr("share", AttrKind.SYMBOL, "grade", choices=clifford.SHARINGS, written_only=True)
MV_LINEAR = define(
    "mv_linear",
    "clifford",
    (
        tensor("x"),
        attr("out", AttrKind.INT),
        attr("bias", AttrKind.BOOL, True),
        _SHARE,
        attr("dual", AttrKind.BOOL, False, written_only=True),
    ),
    preset(_LEARNED, "commutes_scatter", "bias", linear_in=("x",)),
    "`out x multivector(p, q)`: `y_o = sum_i sum_k w[o, i, k] <x_i>_k` (+ a bias on the scalar "
    "part), one weight per output copy, input copy and grade (CGENN); `share=mod4`: one per "
    "class of grades k mod 4 (GLGENN); `dual=true`: `+ sum_i sum_k u[o, i, k] <x_i>_k I` (and a "
    "bias on the pseudoscalar), only under groups of determinant 1 (`GEO429`); `out >= 1` "
    "(`GEO428`)",
)


@typing_rule(MV_LINEAR)
def _infer_mv_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """`out` copies of the same algebra: a sum of grade projections with scalar weights (tied
    by class under `share`), each commuting with the group, and a bias on the invariant scalar
    part; with `dual`, those times the pseudoscalar I, which g moves to det(g) I = I when every
    element has determinant 1 (checked here, GEO429)."""
    (x,) = types
    term = multivectors(ctx, x, 0)
    positive(ctx, "GEO428", "out", attrs["out"], "e.g. `mv_linear(x, 16)`")
    if attrs.get("dual", False) and not keeps_orientation(ctx.group):
        raise ctx.error(
            "GEO429",
            f"`dual=true` multiplies by the pseudoscalar of `{term.atom}`, which the "
            f"reflections of {ctx.group} flip: the dual weights are not equivariant under it",
            attr="dual",
            label="dual=true",
            help="drop `dual=true`, or declare a group of determinant 1 (`SO(p, q)`, "
            "`SO+(p, q)`, `SE(n)`, `SO(n)`) if the model need not commute with reflections",
        )
    return (FeatureType((Term(attrs["out"], term.atom),), x.axes),)


def keeps_orientation(group: Group) -> bool:
    """Whether every element of the group's channel action has determinant 1 (so fixes the
    pseudoscalar): its identity component does, so the discrete generators decide."""
    channels = group.channel_group
    return channels is None or all(np.linalg.det(g) > 0 for g in channels.discrete)


MV_PRODUCT = define(
    "mv_product",
    "clifford",
    (*_BILINEAR_ATTRS, _SHARE),
    preset(_LEARNED, linear_in=("a", "b")),
    "same type: the weighted geometric product, `(a b)_k` summed over the paths (class of a's "
    "grade, of b's, of the result's) with one weight per copy and path: per grade triple "
    "(CGENN's steerable product) or, `share=mod4`, per triple of grades mod 4 (GLGENN); "
    "operands as `geometric_product` (`GEO423`, `GEO424`)",
)


@typing_rule(MV_PRODUCT)
def _infer_mv_product(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: a weighted sum of grade-projected geometric products of grade-projected
    operands, each commuting with the grade-keeping automorphism g acts by."""
    term = _same_algebra(ctx, types)
    return (FeatureType((term,), joint_axes(ctx, types)),)


MV_GATE = define(
    "mv_gate",
    "clifford",
    (tensor("x"),),
    _LEARNED,
    "same type: CGENN's gated nonlinearity, grade k of copy c times "
    "`sigmoid(a[c, k] s_k + b[c, k])`, `s_0` the scalar part, `s_k` the invariant "
    "`<x_k x̃_k>_0` for k > 0",
)


@typing_rule(MV_GATE)
def _infer_mv_gate(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: each grade is scaled by a function of invariants (the scalar part and the
    quadratic forms `<x_k x̃_k>_0`, which an automorphism commuting with the reverse keeps)."""
    (x,) = types
    multivectors(ctx, x, 0)
    return (x,)


MV_NORM = define(
    "mv_norm",
    "clifford",
    (tensor("x"), attr("eps", AttrKind.FLOAT, 1e-6)),
    _LEARNED,
    "same type: CGENN's normalisation, grade k of copy c divided by `1 + sigmoid(a[c, k]) "
    "(|x_k| - 1)` with `|x_k| = (<x_k x̃_k>_0^2 + eps^2)^(1/4)` (the metric's absolute value, "
    "smooth at zero); `eps > 0` (`GEO427`)",
)


@typing_rule(MV_NORM)
def _infer_mv_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: each grade is divided by a positive function of its invariant quadratic
    form."""
    (x,) = types
    multivectors(ctx, x, 0)
    if not attrs["eps"] > 0:
        raise ctx.error(
            "GEO427",
            f"`eps` smooths |x_k| at zero and must be positive, got {attrs['eps']!r}",
            attr="eps",
            label=repr(attrs["eps"]),
            help="e.g. `mv_norm(x, eps=1e-6)`",
        )
    return (x,)


# ---------------------------------------------------------------------------------------------
# Vectors in and out


def vector_algebra(ctx: OpContext) -> Atom:
    """The algebra whose grade 1 the group's `vector` is: Cl(p, q) under O(p, q) and its
    subgroups, Cl(n, 0) under rotations of R^n or without a channel group (GEO425 otherwise)."""
    group = ctx.group
    factor, n = group.matrix, group.space_dim
    if isinstance(factor, IndefiniteFactor):
        return Atom(AtomKind.MULTIVECTOR, factor.signature)
    if factor is None and n is not None:
        return Atom(AtomKind.MULTIVECTOR, (n, 0))
    raise ctx.error(
        "GEO425",
        f"`{ctx.op}` needs a group whose vectors span a Clifford algebra (O(n), E(n), O(p, q) "
        f"and their subgroups), but the symmetry is {group}",
        help="declare `E(3)` (points and vectors in Cl(3, 0)) or `O(p, q)`",
    )


EMBED_VECTOR = define(
    "embed_vector",
    "clifford",
    (tensor("x"),),
    _LINEAR_MAP,
    "`c x multivector(p, q)` from `c x vector`: the grade-1 part, Cl(n, 0) under O(n) / E(n), "
    "Cl(p, q) under O(p, q); points under translations: subtract one first (`GEO425`)",
)


@typing_rule(EMBED_VECTOR)
def _infer_embed_vector(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Multivectors of the group's algebra: the outermorphism's grade-1 block is the group's
    matrix on vectors itself, so placing a vector at grade 1 commutes with it."""
    (x,) = types
    algebra = vector_algebra(ctx)
    terms = simplify(x.terms)
    if len(terms) != 1 or not ctx.group.same_atom(terms[0].atom, VECTOR):
        raise ctx.error(
            "GEO425",
            f"`embed_vector` takes vectors `c x vector`, got `{x.with_axes(())}`",
            arg=0,
            label=str(x.with_axes(())),
            help="a point moves under translations: embed `x - mean(x, over=...)`, a vector",
        )
    return (FeatureType((Term(terms[0].mul, algebra),), x.axes),)


EMBED_SCALAR = define(
    "embed_scalar",
    "clifford",
    (tensor("x"),),
    _LINEAR_MAP,
    "`c x multivector(p, q)` from `c x scalar`: the scalar part, in the algebra of the group's "
    "vectors (as `embed_vector`)",
)


@typing_rule(EMBED_SCALAR)
def _infer_embed_scalar(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Multivectors: the scalar blade is invariant (its outermorphism block is 1), as the
    scalars are."""
    (x,) = types
    algebra = vector_algebra(ctx)
    if not all(ctx.group.is_invariant(t.atom) and not t.atom.is_label for t in x.terms):
        raise ctx.error(
            "GEO425",
            f"`embed_scalar` takes invariant scalars `c x scalar`, got `{x.with_axes(())}`",
            arg=0,
            label=str(x.with_axes(())),
            help="embed vectors with `embed_vector(x)`; a pseudoscalar is no scalar part",
        )
    return (FeatureType((Term(ctx.group.type_dim(x), algebra),), x.axes),)


VECTOR_PART = define(
    "vector_part",
    "clifford",
    (tensor("x"),),
    _LINEAR_MAP,
    "`c x vector` from `c x multivector(p, q)`: the grade-1 coefficients, where the group's "
    "vectors are that grade (`GEO425`)",
)


@typing_rule(VECTOR_PART)
def _infer_vector_part(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Vectors: grade 1 transforms by the group's own matrix on vectors."""
    (x,) = types
    term = multivectors(ctx, x, 0)
    algebra = vector_algebra(ctx)
    if term.atom != algebra:
        raise ctx.error(
            "GEO425",
            f"the vectors of {ctx.group} are grade 1 of `{algebra}`, not of `{term.atom}`",
            arg=0,
            label=str(term.atom),
            help="take the grade-1 part with `grade(x, 1)`, which stays a multivector",
        )
    return (FeatureType((Term(term.mul, VECTOR),), x.axes),)
