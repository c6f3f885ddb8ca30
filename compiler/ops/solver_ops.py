"""Operators on the representations of the solver's matrix groups: `linear` by the equivariant
basis, and `mdot`, the invariant bilinear form.

Under a channel group of :mod:`geoc.solver` (``Lorentz(n)``, ``Sp(n)``, ``C(n)``, ``D(n)``,
``S(n)``, ``A(n)``, or ``O(n)`` / ``SO(n)`` when a value holds ``tensor(k)`` or ``regular``),
the equivariant linear maps between two direct sums are found per pair of terms: the solver's
orthonormal basis ``B_1 .. B_k`` of the maps ``atom_in -> atom_out`` (Finzi, Welling & Wilson,
*A Practical Method for Constructing Equivariant Multilayer Perceptrons for Arbitrary Matrix
Groups*, ICML 2021), and one learned coefficient per (output copy, input copy, basis element).
A pair without maps is zero; an output term that no input term reaches is a GEO403 (Schur).
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

from geoc import solver
from geoc.diagnostics import Diagnostic
from geoc.groups import MATRIX_ATOMS, SOLVER_ATOMS, Group
from geoc.ops import PLAIN, OpContext, define, preset, tensor, typing_rule
from geoc.ops.core import copies, different_reps, joint_axes
from geoc.types import SCALAR, Atom, AtomKind, FeatureType, Term

#: A pair of terms whose dense maps would hold more entries (d_out * d_in) uses a closed form.
DENSE_ENTRIES_MAX = 1 << 18
#: The most diagrams a closed-form layer applies (each is one einsum per call).
DIAGRAMS_MAX = 256


class BasisTooLarge(ValueError):
    """Neither a dense basis nor a closed form fits (GEO331)."""


# ---------------------------------------------------------------------------------------------
# Atoms as solver representations, and the basis between two atoms


def uses_solver(group: Group, *types: FeatureType) -> bool:
    """Whether `linear` between these types is built from the solver's basis: under a matrix
    factor, or when a value holds `tensor(k)` / `regular` under a rotation group. Maps between
    scalars alone stay plain matrices."""
    atoms = [a for t in types for a in t.atoms]
    if group.channel_group is None or all(a.kind is AtomKind.SCALAR for a in atoms):
        return False
    return group.matrix is not None or any(a.kind in SOLVER_ATOMS for a in atoms)


def solver_rep(atom: Atom) -> solver.Rep:
    """`scalar`, `vector`, `tensor(k)`, `regular`, `tensor(a, b, ...)` as the solver's
    representations (a product of atoms is the product of their reps, row-major)."""
    if atom.factors:
        return functools.reduce(operator.mul, [solver_rep(f) for f in atom.factors])
    if atom.kind is AtomKind.TENSOR:
        return solver.T(atom.args[0])
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
    basis = solver.equivariant_basis(group, rep_in, rep_out)
    return PairBasis(basis.shape[1], basis.T.reshape(-1, d_out, d_in))


def _closed_pair(group: solver.MatrixGroup, atom_in: Atom, atom_out: Atom, size: int) -> PairBasis:
    k, l = tensor_order(atom_in), tensor_order(atom_out)  # noqa: E741
    closed = solver.closed_form(group, k, l) if k is not None and l is not None else None
    if closed is None or len(closed) > DIAGRAMS_MAX:
        why = "no closed form applies" if closed is None else f"{len(closed)} diagrams"
        raise BasisTooLarge(
            f"the maps `{atom_in}` -> `{atom_out}` under {group} have {size} entries each and {why}"
        )
    return PairBasis(len(closed), closed=closed)


def invariant_form(group: Group, atom: Atom) -> np.ndarray:
    """The matrix M of `mdot` on one copy (x^T M y): the Minkowski metric η of Lorentz(n), the
    symplectic form J of Sp(n), the identity for orthogonal groups; its k-th Kronecker power on
    `tensor(k)`."""
    dim = group.atom_dim(atom)
    order = tensor_order(atom)
    factor = group.matrix
    if not order or factor is None or factor.family not in ("Lorentz", "Sp"):
        return np.eye(dim)
    base = {"Lorentz": solver.minkowski_metric, "Sp": solver.symplectic_form}[factor.family]
    return functools.reduce(np.kron, [base(factor.n)] * order)


# ---------------------------------------------------------------------------------------------
# linear under a solver group: typing (atoms) and contract (Schur: a reachable output)


def check_solver_linear(ctx: OpContext, source: FeatureType, target: FeatureType) -> None:
    """GEO330 for an atom the solver has no representation for."""
    for arg, ftype in ((0, source), (None, target)):
        bad = next((a for a in ftype.atoms if a.kind not in MATRIX_ATOMS), None)
        if bad is not None:
            raise ctx.error(
                "GEO330",
                f"`linear` under {ctx.group} builds its maps with the equivariant-basis solver, "
                f"which has no representation `{bad}`",
                arg=arg,
                label=str(ftype.with_axes(())),
                help="the solver's atoms are `scalar`, `vector`, `tensor(k)` and `regular`",
            )


def solver_linear_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """GEO403 for an output term that no input term maps to; GEO331 for a huge basis."""
    (source,) = types
    target: FeatureType = attrs["out"]
    group = ctx.group.channel_group
    assert group is not None
    for out in target.terms:
        try:
            reached = sum(pair_basis(group, t.atom, out.atom).size for t in source.terms)
        except BasisTooLarge as err:
            return [ctx.diagnostic("GEO331", str(err), label=str(out), help=_TOO_LARGE_HELP)]
        if not reached:
            return [_no_map(ctx, source, out.atom)]
    return []


_TOO_LARGE_HELP = "use a smaller tensor order or group; closed forms cover S(n) and O(n) tensors"


def _no_map(ctx: OpContext, source: FeatureType, atom: Atom) -> Diagnostic:
    bare = source.with_axes(())
    return ctx.diagnostic(
        "GEO403",
        f"no equivariant linear map from `{bare}` to `{atom}` under {ctx.group}: the "
        "equivariant-basis solver finds only zero (Schur's lemma)",
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
    if copies(a) != copies(b):
        fix = "map one side with `linear(x, T)` first"
        raise different_reps(ctx, "GEO300", (a, b), ("mdot", "and"), fix)
    return (FeatureType((Term(a.copies, SCALAR),), axes),)
