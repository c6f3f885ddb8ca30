"""Cartesian tensors: outer products of vectors into `tensor(k)`, the parts of a `tensor(2)`,
contractions back, and the Levi-Civita maps of R^3 (docs/cartesian.md).

A `tensor(k)` copy is a k-index array of R^n flattened row-major, on which a group element g
acts by g ⊗ … ⊗ g. Every operator here works copy by copy (the i-th copy of one operand meets
the i-th copy of the other):

* `outer(u, v)`: u_{i..} v_{j..}, `tensor(a)` and `tensor(b)` into `tensor(a + b)`; any group
  whose tensors are tensor powers of its `vector` (orthogonal or not).
* `contract(t, v)`: t_{..j} v_j, the last index of `tensor(k)` with a vector, into
  `tensor(k - 1)`; `trace(t)`: t_ii; `sym_part`, `antisym_part`, `trace_part`: the
  symmetric traceless, antisymmetric and isotropic parts of a `tensor(2)` (each a
  `tensor(2)`, summing to t). Contractions with δ need g^T g = 1: orthogonal groups only
  (`GEO420` under `Lorentz(n)`, `Sp(n)`, `O(p, q)`), except `antisym_part`.
* `axial(t)` (the vector a with t's antisymmetric part equal to `skew(a)`) and `skew(v)` (the
  matrix of w -> v × w): ε_ijk is invariant under det g = +1 only, so they need proper
  rotations of R^3 (`SO(3)`, `SE(3)`): under O(3) the axial vector is a pseudovector
  (`GEO494`; `linear(t, pseudovector)` is that map there).

    >>> from geoc.ops import lookup
    >>> lookup("outer").family, lookup("skew").family
    ('cartesian', 'cartesian')
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError
from geoc.groups import Group, Rotations
from geoc.ops import PLAIN, OpContext, contract, define, preset, tensor, typing_rule
from geoc.ops.core import joint_axes
from geoc.ops.euclidean import FRAME_FIX
from geoc.ops.traits import EuclideanOnly
from geoc.types import MAX_TENSOR_ORDER, SCALAR, VECTOR, Atom, AtomKind, FeatureType, Term

FAMILY = "cartesian"
FLOAT64_BYTES = 8
#: Cartesian tensors live in R^n: unit vectors rotate as vectors and count as `vector`
#: (`outer(n, n)` of unit normals is a nematic order tensor), other manifold points are GEO321.
EUCLIDEAN = EuclideanOnly(
    "GEO321",
    (FRAME_FIX,),
    "Cartesian tensors are Euclidean: map to the tangent space with `logmap0(x)` (`logeig(x)` "
    "for SPD) first",
)
CARTESIAN = preset(PLAIN, euclidean=EUCLIDEAN)
#: A map of each copy on its own, linear in its one tensor input: it commutes with sums over
#: edges into nodes and with gathers.
LINEAR_MAP = preset(CARTESIAN, "commutes_scatter", linear_in=("t",))


def tensor_atom(order: int) -> Atom:
    """`vector` for order 1, else `tensor(order)` (the canonical spelling of each)."""
    return VECTOR if order == 1 else Atom(AtomKind.TENSOR, (order,))


def cartesian_order(group: Group, atom: Atom) -> int | None:
    """k when every element acts on the atom as on `tensor(k)` (k >= 1): `tensor(k)`, and the
    atoms that transform as `vector` (`1o` under O(3), `pseudovector` under SO(3), `unit(n)`
    under rotations of R^n, read as its coordinates); None for
    any other atom (scalars, pseudovectors under O(3), irreps, products, manifolds)."""
    if atom.kind is AtomKind.TENSOR and not atom.factors:
        return atom.args[0]
    if atom.kind is AtomKind.UNIT and group.matrix is None and atom.args[0] == group.space_dim:
        return 1  # a unit vector of R^n rotates (and reflects) as a vector of R^n
    return 1 if group.same_atom(atom, VECTOR) else None


def copy_order(ctx: OpContext, ftype: FeatureType, arg: int, need: int | None = None) -> int:
    """The one tensor order of every copy of an operand (``need``: the order required);
    GEO224 for a copy that is no Cartesian tensor, GEO226 for a mixed or wrong order."""
    orders = set()
    for term in ftype.terms:
        order = cartesian_order(ctx.group, term.atom)
        if order is None:
            raise not_cartesian(ctx, ftype, term.atom, arg)
        orders.add(order)
    wanted = {need} if need is not None else orders
    if len(orders) != 1 or orders != wanted:
        shown = "`vector`" if need == 1 else f"`tensor({need})`" if need else "one tensor order"
        raise ctx.error(
            "GEO226",
            f"`{ctx.op}` needs copies of {shown}, not `{ftype.with_axes(())}`",
            arg=arg,
            label=str(ftype.with_axes(())),
            help="split the value by order with `linear(x, n x tensor(k))`",
        )
    return orders.pop()


def not_cartesian(ctx: OpContext, ftype: FeatureType, atom: Atom, arg: int) -> GeoError:
    """GEO404 for a point under translations (a shift moves it), GEO224 for any other atom
    that is no Cartesian tensor."""
    if atom.is_point and ctx.group.translations:
        return ctx.error(
            "GEO404",
            f"`{ctx.op}` of points is not translation-equivariant: a shift moves `{atom}`",
            arg=arg,
            label=str(ftype.with_axes(())),
            help="use differences of points, which are vectors: `x[dst] - x[src]`",
        )
    flips = (
        " (a pseudovector flips under reflections)" if atom.kind is AtomKind.PSEUDOVECTOR else ""
    )
    return ctx.error(
        "GEO224",
        f"`{ctx.op}` takes Cartesian tensors (`vector`, `tensor(k)`), not `{atom}` under "
        f"{ctx.group}{flips}",
        arg=arg,
        label=str(ftype.with_axes(())),
        help="project onto vectors or tensors first: `linear(x, n x vector)`",
    )


def same_copies(ctx: OpContext, a: FeatureType, b: FeatureType) -> None:
    """GEO225 unless both operands hold the same number of copies (they pair copy by copy)."""
    if a.copies != b.copies:
        raise ctx.error(
            "GEO225",
            f"`{ctx.op}` pairs copies, but `{a.with_axes(())}` has {a.copies} and "
            f"`{b.with_axes(())}` has {b.copies}",
            arg=1,
            label=str(b.with_axes(())),
            help="give both sides as many copies: `linear(v, n x vector)`",
        )


# ---------------------------------------------------------------------------------------------
# outer and contract: between orders


OUTER = define(
    "outer",
    FAMILY,
    (tensor("u"), tensor("v")),
    preset(CARTESIAN, linear_in=("u", "v")),
    "copy by copy, the outer product u_{i..} v_{j..} of `tensor(a)` and `tensor(b)` copies "
    "(`vector` is `tensor(1)`) into `tensor(a + b)`, row-major; the same number of copies "
    "(`GEO225`), Cartesian tensors only (`GEO224`)",
)


@typing_rule(OUTER)
def _infer_outer(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant: (g^⊗a u) ⊗ (g^⊗b v) = g^⊗(a+b) (u ⊗ v), the action on `tensor(a + b)`."""
    u, v = types
    order = copy_order(ctx, u, 0) + copy_order(ctx, v, 1)
    same_copies(ctx, u, v)
    if order > MAX_TENSOR_ORDER:
        raise ctx.error(
            "GEO226",
            f"`outer` would give `tensor({order})`; tensors go up to order {MAX_TENSOR_ORDER}",
            label=f"tensor({order})",
            help="contract an index first: `contract(t, v)`",
        )
    n = ctx.group.space_dim
    if n is not None:  # refused before anything is built: n^order numbers per copy
        budget.require_bytes(f"one `tensor({order})` copy of R^{n}", n**order * FLOAT64_BYTES)
    return (FeatureType((Term(u.copies, tensor_atom(order)),), joint_axes(ctx, types)),)


CONTRACT = define(
    "contract",
    FAMILY,
    (tensor("t"), tensor("v")),
    preset(CARTESIAN, "euclidean_norm", linear_in=("t", "v")),
    "copy by copy, t_{i..j} v_j: the last index of a `tensor(k)` copy (k >= 2) with a `vector` "
    "copy, into `tensor(k - 1)` (`vector` for k = 2); orthogonal groups (`GEO420`)",
)


@typing_rule(CONTRACT)
def _infer_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant where g^T g = 1 (GEO420 otherwise): Σ_j (g^⊗k t)_{..j} (g v)_j contracts
    g^T g = δ, leaving g^⊗(k-1) applied to t_{..j} v_j."""
    t, v = types
    order = copy_order(ctx, t, 0)
    if order < 2:
        raise ctx.error(
            "GEO226",
            f"`contract` needs copies of `tensor(k)` with k >= 2 as its first operand, not "
            f"`{t.with_axes(())}`",
            arg=0,
            label=str(t.with_axes(())),
            help="the dot product of two vectors is `dot(u, v)`",
        )
    copy_order(ctx, v, 1, need=1)
    same_copies(ctx, t, v)
    return (FeatureType((Term(t.copies, tensor_atom(order - 1)),), joint_axes(ctx, types)),)


# ---------------------------------------------------------------------------------------------
# trace and the parts of a tensor(2)


TRACE = define(
    "trace",
    FAMILY,
    (tensor("t"),),
    preset(LINEAR_MAP, "euclidean_norm"),
    "one scalar per `tensor(2)` copy: t_ii; orthogonal groups (`GEO420`)",
)


@typing_rule(TRACE)
def _infer_trace(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Invariant where g^T g = 1 (GEO420 otherwise): tr(g t g^T) = tr(g^T g t) = tr(t)."""
    (t,) = types
    copy_order(ctx, t, 0, need=2)
    return (FeatureType((Term(t.copies, SCALAR),), t.axes),)


SYM_PART = define(
    "sym_part",
    FAMILY,
    (tensor("t"),),
    preset(LINEAR_MAP, "euclidean_norm"),
    "per `tensor(2)` copy, its symmetric traceless part (t + tᵀ)/2 - tr(t) I/n, a `tensor(2)` "
    "(`2e` under O(3)); orthogonal groups (`GEO420`)",
)
ANTISYM_PART = define(
    "antisym_part",
    FAMILY,
    (tensor("t"),),
    LINEAR_MAP,
    "per `tensor(2)` copy, its antisymmetric part (t - tᵀ)/2, a `tensor(2)` (`1e` under O(3)); "
    "any group",
)
TRACE_PART = define(
    "trace_part",
    FAMILY,
    (tensor("t"),),
    preset(LINEAR_MAP, "euclidean_norm"),
    "per `tensor(2)` copy, its isotropic part tr(t) I/n, a `tensor(2)` (`0e` under O(3)); "
    "orthogonal groups (`GEO420`)",
)


@typing_rule(SYM_PART, ANTISYM_PART, TRACE_PART)
def _infer_part(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant: transposition commutes with t -> g t g^T, and so does t -> tr(t) I where
    g^T g = 1 (GEO420 otherwise), so each projection does; its result is again a `tensor(2)`."""
    (t,) = types
    copy_order(ctx, t, 0, need=2)
    return (FeatureType((Term(t.copies, tensor_atom(2)),), t.axes),)


# ---------------------------------------------------------------------------------------------
# The Levi-Civita maps of R^3: proper rotations only


AXIAL = define(
    "axial",
    FAMILY,
    (tensor("t"),),
    LINEAR_MAP,
    "per `tensor(2)` copy of R^3, its axial vector a_i = -ε_ijk t_jk / 2 (the inverse of "
    "`skew` on antisymmetric tensors); proper rotations only (`SO(3)`, `SE(3)`; `GEO494`)",
)
SKEW = define(
    "skew",
    FAMILY,
    (tensor("v"),),
    preset(LINEAR_MAP, linear_in=("v",)),
    "per `vector` copy v of R^3, the antisymmetric `tensor(2)` [v]× = -ε_ijk v_i with "
    "[v]× w = v × w; proper rotations only (`SO(3)`, `SE(3)`; `GEO494`)",
)


def needs_r3(ctx: OpContext, ftype: FeatureType) -> None:
    """GEO227 where the model's vectors do not live in R^3 (ε_ijk has three indices)."""
    if ctx.group.space_dim != 3:
        raise ctx.error(
            "GEO227",
            f"`{ctx.op}` uses the Levi-Civita symbol of R^3, but the vectors of {ctx.group} "
            f"have {ctx.group.space_dim} components",
            arg=0,
            label=str(ftype.with_axes(())),
            help="the Levi-Civita maps exist on R^3 only; in R^n use `antisym_part(t)`",
        )


@typing_rule(AXIAL)
def _infer_axial(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant under proper rotations (the contract rejects the rest, GEO494):
    ε_ijk g_jl g_km = det(g) g_in ε_nlm, and det g = 1."""
    (t,) = types
    copy_order(ctx, t, 0, need=2)
    needs_r3(ctx, t)
    return (FeatureType((Term(t.copies, VECTOR),), t.axes),)


@typing_rule(SKEW)
def _infer_skew(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Equivariant under proper rotations (the contract rejects the rest, GEO494):
    g [v]× g^T = det(g) [g v]×, and det g = 1."""
    (v,) = types
    copy_order(ctx, v, 0, need=1)
    needs_r3(ctx, v)
    return (FeatureType((Term(v.copies, tensor_atom(2)),), v.axes),)


#: What `axial` and `skew` give, and what their results would be under reflections.
LEVI_CIVITA_RESULTS = {AXIAL: ("vector", "pseudovector"), SKEW: ("tensor(2)", "pseudotensor")}


def proper_rotations_only(group: Group) -> bool:
    """Whether every element acts on R^3 with det +1: a geometric factor of proper rotations
    (`SO(3)`, `SE(3)`), or none that acts on channels (translations, permutations only)."""
    return group.matrix is None and group.rotations is not Rotations.O


@contract(AXIAL, SKEW)
def _levi_civita_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """GEO494 under a group with reflections (or a matrix factor): ε_ijk flips sign with
    det g = -1, so the result would be a pseudovector (a pseudotensor), not as typed."""
    if proper_rotations_only(ctx.group):
        return []
    result, pseudo = LEVI_CIVITA_RESULTS[ctx.op]
    return [
        ctx.diagnostic(
            "GEO494",
            f"`{ctx.op}` is not equivariant under {ctx.group}: the Levi-Civita symbol changes "
            f"sign under reflections, so the result is a {pseudo}, not a `{result}`",
            arg=0,
            label=str(types[0].with_axes(())),
            help="declare proper rotations (`symmetry SO(3)` or `SE(3)`); under O(3) map "
            "into the pseudovector with `linear(t, pseudovector)`, or keep the antisymmetric "
            "part as a tensor: `antisym_part(t)`",
        )
    ]


__all__ = [
    "ANTISYM_PART",
    "AXIAL",
    "CONTRACT",
    "OUTER",
    "SKEW",
    "SYM_PART",
    "TRACE",
    "TRACE_PART",
    "cartesian_order",
    "proper_rotations_only",
    "tensor_atom",
]
