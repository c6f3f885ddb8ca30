"""Operators on the representations of the solver's matrix groups: `linear` by the equivariant
basis, and `mdot`, the invariant bilinear form.

Under a channel group of :mod:`geoc.solver` (``Lorentz(n)``, ``Sp(n)``, ``C(n)``, ``D(n)``,
``S(n)``, ``A(n)``, or ``O(n)`` / ``SO(n)`` when a value holds ``tensor(k)`` or ``regular``),
the equivariant linear maps between two direct sums are found per pair of terms: the solver's
orthonormal basis ``B_1 .. B_k`` of the maps ``atom_in -> atom_out`` (Finzi, Welling & Wilson,
*A Practical Method for Constructing Equivariant Multilayer Perceptrons for Arbitrary Matrix
Groups*, ICML 2021), and one learned coefficient per (output copy, input copy, basis element).
A pair without maps is zero; an output term that no input term reaches is a GEO403 (Schur).
`sym(n)` is `tensor(2)` restricted to symmetric matrices (its maps are projected), and under a
rotation group the pairs with atoms the solver has no representation for (`1e`, `2e`) are
solved from sampled rotations; without a channel group every map (projected) is allowed.
Where a dense basis would be huge, S(n) and O(n)-type groups apply their closed forms
(partition and Brauer diagrams) instead.

    >>> from geoc.groups import Group
    >>> from geoc.types import Atom, AtomKind
    >>> g, t2 = Group.parse("O(5)"), Atom(AtomKind.TENSOR, (2,))
    >>> pair_basis(g.channel_group, t2, t2).size
    3
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geoc import budget, solver
from geoc.diagnostics import Diagnostic
from geoc.groups import MATRIX_ATOMS, SOLVER_ATOMS, Group, GroupElement, Rotations, random_rotation
from geoc.ops import PLAIN, OpContext, define, preset, tensor, typing_rule
from geoc.ops.core import different_reps, joint_axes, paired_runs
from geoc.types import SCALAR, VECTOR, Atom, AtomKind, FeatureType, Term

#: A pair of terms whose dense maps would hold more entries (d_out * d_in) uses a closed form.
DENSE_ENTRIES_MAX = 1 << 18
#: The most diagrams a closed-form layer applies (each is one einsum per call).
DIAGRAMS_MAX = 256


class BasisTooLarge(ValueError):
    """Neither a dense basis nor a closed form fits (GEO331)."""


# ---------------------------------------------------------------------------------------------
# Atoms as solver representations, and the basis between two atoms


#: Atoms `linear` maps by a basis of equivariant maps beside the solver's own: `sym(n)` is
#: `tensor(2)` restricted to symmetric matrices (so `sym(3)` under O(3) is `0e + 2e`, and the
#: trace is its map to `scalar`).
SUBSPACE_ATOMS = frozenset({AtomKind.SYM})
#: Atoms whose maps come from the solver under a rotation group too (not one irrep each).
_SOLVED_ATOMS = SOLVER_ATOMS | {AtomKind.MULTIVECTOR}
#: The atoms a basis of maps covers (the solver's, the subspaces of its tensors, and
#: multivectors: the exterior algebra of `vector`, docs/clifford.md).
BASIS_ATOMS = MATRIX_ATOMS | SUBSPACE_ATOMS | {AtomKind.MULTIVECTOR}


def uses_solver(group: Group, *types: FeatureType) -> bool:
    """Whether `linear` between these types is built from a basis of equivariant maps: under a
    matrix factor, when a value holds `tensor(k)` / `regular` / `multivector(n, 0)` under a
    rotation group, or holds
    `sym(n)` (a reducible atom in its own basis) under any group. Maps between scalars alone
    stay plain matrices."""
    atoms = [a for t in types for a in t.atoms]
    if any(a.kind in SUBSPACE_ATOMS for a in atoms):
        return True
    if group.channel_group is None or all(a.kind is AtomKind.SCALAR for a in atoms):
        return False
    return group.matrix is not None or any(a.kind in _SOLVED_ATOMS for a in atoms)


def basis_atom(group: Group, atom: Atom) -> Atom:
    """The atom as the basis knows it: an atom the group acts on as on `scalar` or `vector` is
    that (`0e`, `1o` under O(3); `pseudovector` under SO(3)); others are themselves."""
    if atom.kind in BASIS_ATOMS:
        return atom
    named = (SCALAR, VECTOR) if group.space_dim is not None else (SCALAR,)
    return next((n for n in named if group.same_atom(atom, n)), atom)


def linear_pair(group: Group, atom_in: Atom, atom_out: Atom) -> PairBasis:
    """The equivariant maps from one copy of ``atom_in`` to one of ``atom_out`` under the
    model's group: the solver's basis under a channel group, every map without one (each
    component is invariant), restricted to the subspace atoms on either side."""
    a, b = basis_atom(group, atom_in), basis_atom(group, atom_out)
    channels = group.channel_group
    if channels is None:
        return _free_pair(group.atom_dim(a), group.atom_dim(b), _subspace(a), _subspace(b))
    if group.matrix is None and not {a.kind, b.kind} <= BASIS_ATOMS:
        return _rotation_pair(group, a, b)
    return pair_basis(channels, a, b)


#: The largest map (d_out * d_in entries) whose basis is solved from sampled rotations.
SAMPLED_ENTRIES_MAX = 1 << 12


@functools.cache
def _rotation_pair(group: Group, atom_in: Atom, atom_out: Atom) -> PairBasis:
    """The maps between atoms of a rotation group that the solver has no representation for
    (O(3) irreps such as `1e`, `2e` beside `tensor(k)` or `sym(n)`): the common null space of
    rho_out(g) W - W rho_in(g) over three random rotations (which generate a dense subgroup of
    SO(n)) and, under O(n), a reflection; so each map commutes with every element."""
    d_in, d_out = group.atom_dim(atom_in), group.atom_dim(atom_out)
    if d_in * d_out > SAMPLED_ENTRIES_MAX:
        raise BasisTooLarge(
            f"the maps `{atom_in}` -> `{atom_out}` under {group} have {d_in * d_out} entries each"
        )
    geometric = group.geometric
    assert geometric is not None  # a channel group without a matrix factor
    rng = np.random.default_rng(0)
    reflect = [False] * 3 + ([True] if geometric.rotations is Rotations.O else [])
    rows = []
    for flip in reflect:
        g = GroupElement(rotation=random_rotation(rng, geometric.n, reflect=flip))
        rho_in, rho_out = group.atom_matrix(atom_in, g), group.atom_matrix(atom_out, g)
        rows.append(np.kron(rho_out, np.eye(d_in)) - np.kron(np.eye(d_out), rho_in.T))
    _, sigma, vt = np.linalg.svd(np.vstack(rows))
    rank = int(np.sum(sigma > 1e-9 * max(1.0, sigma.max(initial=0.0))))
    basis = vt[rank:].reshape(-1, d_out, d_in)
    return _restricted(basis, _subspace(atom_in), _subspace(atom_out))


def solver_rep(atom: Atom) -> solver.Rep:
    """`scalar`, `vector`, `tensor(k)`, `regular`, `tensor(a, b, ...)` as the solver's
    representations (a product of atoms is the product of their reps, row-major); `sym(n)`
    lives in `tensor(2)`."""
    if atom.factors:
        return functools.reduce(operator.mul, [solver_rep(f) for f in atom.factors])
    if atom.kind is AtomKind.SYM:
        return solver.T(2)
    if atom.kind is AtomKind.TENSOR:
        return solver.T(atom.args[0])
    if atom.kind is AtomKind.MULTIVECTOR:
        return solver.Multivector()
    reps = {AtomKind.SCALAR: solver.scalar, AtomKind.VECTOR: solver.V}
    return reps.get(atom.kind, solver.regular)


def tensor_order(atom: Atom) -> int | None:
    """k for `tensor(k)` (1 for `vector`, 0 for `scalar`); None for `regular` and products
    holding it."""
    if atom.factors:
        orders_of = [tensor_order(f) for f in atom.factors]
        return None if None in orders_of else sum(orders_of)
    orders = {AtomKind.SCALAR: 0, AtomKind.VECTOR: 1}
    return atom.args[0] if atom.kind is AtomKind.TENSOR else orders.get(atom.kind)


@dataclass(frozen=True, eq=False)
class PairBasis:
    """The equivariant maps ``atom_in -> atom_out``: ``size`` of them, either dense
    (``dense [size, d_out, d_in]``, orthonormal in the Frobenius inner product, from
    :func:`geoc.solver.equivariant_basis`) or as the diagrams of a ``closed`` form."""

    size: int
    dense: np.ndarray | None = None
    closed: solver.PartitionBasis | solver.BrauerBasis | None = None


@functools.cache
def pair_basis(group: solver.MatrixGroup, atom_in: Atom, atom_out: Atom) -> PairBasis:
    """The basis of one pair of atoms (memoised here; the solver caches it on disk)."""
    rep_in, rep_out = solver_rep(atom_in), solver_rep(atom_out)
    d_in, d_out = rep_in.dim(group), rep_out.dim(group)
    if d_in * d_out > DENSE_ENTRIES_MAX:
        return _closed_pair(group, atom_in, atom_out, d_in * d_out)
    basis = solver.equivariant_basis(group, rep_in, rep_out).T.reshape(-1, d_out, d_in)
    return _restricted(basis, _subspace(atom_in), _subspace(atom_out))


@functools.cache
def _free_pair(d_in: int, d_out: int, p_in: _Projector, p_out: _Projector) -> PairBasis:
    """Every map (no group acts on the channels), restricted to the subspaces."""
    return _restricted(np.eye(d_out * d_in).reshape(-1, d_out, d_in), p_in, p_out)


#: A projector onto an atom's subspace of its solver representation, as a hashable key: the
#: `n` of `sym(n)`, or None for the whole space.
_Projector = int | None


def _subspace(atom: Atom) -> _Projector:
    return atom.args[0] if atom.kind is AtomKind.SYM else None


def _projector(key: _Projector, dim: int) -> np.ndarray:
    """The orthogonal projector onto symmetric n x n matrices (row-major), which commutes with
    congruence X -> Q X Qᵀ, hence with every group acting on `sym(n)`."""
    if key is None:
        return np.eye(dim)
    swap = np.eye(dim).reshape(key, key, dim).transpose(1, 0, 2).reshape(dim, dim)
    return (np.eye(dim) + swap) / 2


def _restricted(basis: np.ndarray, p_in: _Projector, p_out: _Projector) -> PairBasis:
    """``P_out B P_in`` for each map B of ``basis`` [K, d_out, d_in], orthonormalised: the
    equivariant maps between the subspaces (P commutes with the group, so each stays
    equivariant, and every map between the subspaces is one of them)."""
    if (p_in is None and p_out is None) or not len(basis):
        return PairBasis(len(basis), basis)
    k, d_out, d_in = basis.shape
    maps = _projector(p_out, d_out) @ basis @ _projector(p_in, d_in)
    u, sigma, _ = np.linalg.svd(maps.reshape(k, -1).T, full_matrices=False)
    kept = u[:, sigma > 1e-9 * max(1.0, sigma.max(initial=0.0))]
    return PairBasis(kept.shape[1], np.ascontiguousarray(kept.T.reshape(-1, d_out, d_in)))


def _closed_pair(group: solver.MatrixGroup, atom_in: Atom, atom_out: Atom, size: int) -> PairBasis:
    k, l = tensor_order(atom_in), tensor_order(atom_out)  # noqa: E741
    if _subspace(atom_in) is not None or _subspace(atom_out) is not None:
        k = None  # closed forms span the whole tensor spaces, not their subspaces
    closed = solver.closed_form(group, k, l) if k is not None and l is not None else None
    if closed is None or len(closed) > DIAGRAMS_MAX:
        why = "no closed form applies" if closed is None else f"{len(closed)} diagrams"
        raise BasisTooLarge(
            f"the maps `{atom_in}` -> `{atom_out}` under {group} have {size} entries each and {why}"
        )
    return PairBasis(len(closed), closed=closed)


def invariant_form(group: Group, atom: Atom) -> np.ndarray:
    """The matrix M of `mdot` on one copy (x^T M y): the Minkowski metric η of Lorentz(n), η of
    O(p, q), the symplectic form J of Sp(n), the identity for orthogonal groups; its k-th
    Kronecker power on `tensor(k)`."""
    dim = group.atom_dim(atom)
    order = tensor_order(atom)
    factor = group.matrix
    form = factor.invariant_form if factor is not None else None
    if not order or form is None:
        return np.eye(dim)
    budget.require_matrix(f"the invariant form of `{atom}`", dim, dim)
    return functools.reduce(np.kron, [form] * order)


# ---------------------------------------------------------------------------------------------
# linear under a solver group: typing (atoms) and contract (Schur: a reachable output)


def check_solver_linear(ctx: OpContext, source: FeatureType, target: FeatureType) -> None:
    """GEO330 for an atom the solver has no representation for."""
    if ctx.group.channel_group is None or ctx.group.matrix is None:
        return  # every component invariant, or a rotation group: every atom has matrices
    for arg, ftype in ((0, source), (None, target)):
        atoms = (basis_atom(ctx.group, a) for a in ftype.atoms)
        bad = next((a for a in atoms if a.kind not in BASIS_ATOMS), None)
        if bad is not None:
            raise ctx.error(
                "GEO330",
                f"`linear` under {ctx.group} builds its maps with the equivariant-basis solver, "
                f"which has no representation `{bad}`",
                arg=arg,
                label=str(ftype.with_axes(())),
                help="the solver's atoms are `scalar`, `vector`, `tensor(k)`, `regular`, "
                "`sym(n)` and `multivector(p, q)`",
            )


def solver_linear_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """GEO403 for an output term that no input term maps to; GEO331 for a huge basis; GEO520
    for a basis (or its solve) over the resource budget, refused before it is built."""
    (source,) = types
    target: FeatureType = attrs["out"]
    for out in target.terms:
        try:
            reached = sum(linear_pair(ctx.group, t.atom, out.atom).size for t in source.terms)
        except BasisTooLarge as err:
            return [ctx.diagnostic("GEO331", str(err), label=str(out), help=_TOO_LARGE_HELP)]
        except budget.BudgetExceeded as err:
            message = f"`linear` to `{out}` under {ctx.group}: {err}"
            return [ctx.diagnostic("GEO520", message, label=str(out), help=budget.RAISE_HELP)]
        if not reached:
            return [_no_map(ctx, source, out.atom)]
    return []


_TOO_LARGE_HELP = "use a smaller tensor order or group; closed forms cover S(n) and O(n) tensors"


def _no_map(ctx: OpContext, source: FeatureType, atom: Atom) -> Diagnostic:
    bare = source.with_axes(())
    return ctx.diagnostic(
        "GEO403",
        f"no equivariant linear map from `{bare}` to `{atom}` under {ctx.group}: the "
        "equivariant maps between their irreducible parts are all zero (Schur's lemma)",
        arg=0,
        label=str(bare),
        help=f"give the input a part that maps to `{atom}` (e.g. `{atom}` itself, or invariants "
        f"for `scalar`); `geoc explain GEO403`",
    )


# ---------------------------------------------------------------------------------------------
# mdot: the group's invariant bilinear form, one scalar per copy


MDOT = define(
    "mdot",
    "solver",
    (tensor("a"), tensor("b")),
    preset(PLAIN, linear_in=("a", "b")),
    "one scalar per copy: `a^T M b` with the group's invariant form M (the Minkowski metric η of "
    "`Lorentz(n)`, J of `Sp(n)`, the identity for orthogonal groups; its k-th Kronecker power on "
    "`tensor(k)`); the same representation on both sides, of `scalar`, `vector`, `tensor(k)`, "
    "`regular` (`GEO300`); always invariant",
)


@typing_rule(MDOT)
def _infer_mdot(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    for arg, ftype in enumerate(types):
        bad = next((x for x in ftype.atoms if x.kind not in MATRIX_ATOMS), None)
        if bad is not None:
            raise ctx.error(
                "GEO300",
                f"`mdot` pairs `scalar`, `vector`, `tensor(k)` and `regular` copies, not `{bad}`",
                arg=arg,
                label=str(ftype.with_axes(())),
                help="for O(3) irreps or pseudovectors use `dot(a, b)`",
            )
    runs = paired_runs(a, b)
    if runs is None or not all(ctx.group.same_atom(x, y) for _, x, y in runs):
        fix = "map one side with `linear(x, T)` first"
        raise different_reps(ctx, "GEO300", (a, b), ("mdot", "and"), fix, per_copy=True)
    return (FeatureType((Term(a.copies, SCALAR),), axes),)
