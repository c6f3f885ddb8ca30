"""`equivariant_basis`: the equivariant linear maps between two representations of a group.

The maps rep_in -> rep_out are the invariants of rep_out (x) rep_in* (W is equivariant iff
rho_out(g) W rho_in(g)^-1 = W). Both reps expand into direct sums of monomials (tensor products
of atoms); the maps split into one block per (output monomial, input monomial) pair, each the
invariants of a single tensor product, solved once per distinct product (atoms sorted, so
V (x) V* and V* (x) V share a solve) and placed at the block's rows and columns. EMLP does the
same bookkeeping (Finzi, Welling & Wilson, ICML 2021, section 5).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from geoc import budget
from geoc.solver.cache import BasisCache
from geoc.solver.closed_forms import closed_form_invariants
from geoc.solver.groups import MatrixGroup
from geoc.solver.nullspace import (
    KroneckerConstraints,
    canonical_basis,
    dense_nullspace,
    iterative_nullspace,
    orbit_nullspace,
)
from geoc.solver.reps import Atom, Covector, Rep, Scalar, Vector, scalar

DENSE_MAX = 2048  # largest tensor product solved by dense eigh under `auto` / `solve`


class Method(str, enum.Enum):
    """How each block is solved."""

    AUTO = "auto"  # closed forms (partitions, Brauer) where they apply, else as SOLVE
    SOLVE = "solve"  # numeric: orbits for permutation reps, dense eigh, LOBPCG above DENSE_MAX
    DENSE = "dense"  # numeric, always dense eigh
    ITERATIVE = "iterative"  # numeric, always LOBPCG


def equivariant_basis(
    group: MatrixGroup,
    rep_in: Rep,
    rep_out: Rep,
    *,
    cache: bool | BasisCache = True,
    method: Method | str = Method.AUTO,
    dense_max: int = DENSE_MAX,
) -> np.ndarray:
    """An orthonormal basis [dim_out * dim_in, k] (float64) of the equivariant maps.

    Column c reshaped to [dim_out, dim_in] (row-major) is a matrix W with
    rho_out(g) W = W rho_in(g) for every g in `group`.

        >>> from geoc import solver
        >>> solver.equivariant_basis(solver.O(3), solver.T(2), solver.T(2), cache=False).shape
        (81, 3)
    """
    method = Method(method)
    store = BasisCache() if cache is True else (cache or None)
    rows = rep_out.dim(group) * rep_in.dim(group)
    key = f"{group.key}|{rep_in!r}|{rep_out!r}|{method.value}"
    if store is not None and (hit := store.load(key, rows)) is not None:
        return hit
    basis = _assemble(group, rep_in, rep_out, _BlockSolver(group, method, dense_max))
    if store is not None:
        store.store(key, basis)
    return basis


def invariant_basis(group: MatrixGroup, rep: Rep, **options: object) -> np.ndarray:
    """An orthonormal basis [dim, k] of the invariant vectors of `rep`."""
    return equivariant_basis(group, scalar, rep, **options)  # type: ignore[arg-type]


def _assemble(group: MatrixGroup, rep_in: Rep, rep_out: Rep, solve: _BlockSolver) -> np.ndarray:
    """Solve each (output monomial, input monomial) block and place it in the full basis."""
    dim_in = rep_in.dim(group)
    blocks = []
    for out in rep_out.monomials(group):
        for inp in rep_in.monomials(group):
            block = solve(out.atoms + tuple(a.dual() for a in inp.atoms))
            rows = (out.index[:, None] * dim_in + inp.index[None, :]).ravel()
            blocks.append((rows, block))
    total = sum(b.shape[1] for _, b in blocks)
    budget.require_matrix("the equivariant basis", rep_out.dim(group) * dim_in, total)
    basis = np.zeros((rep_out.dim(group) * dim_in, total))
    col = 0
    for rows, block in blocks:
        basis[rows, col : col + block.shape[1]] = block
        col += block.shape[1]
    return basis


@dataclass
class _BlockSolver:
    """Invariants of one tensor product of atoms, memoised for the duration of one call."""

    group: MatrixGroup
    method: Method
    dense_max: int
    memo: dict[tuple[Atom, ...], np.ndarray] = field(default_factory=dict)

    def __call__(self, atoms: tuple[Atom, ...]) -> np.ndarray:
        atoms = self._canonical(atoms)
        order = sorted(range(len(atoms)), key=lambda i: repr(atoms[i]))
        ordered = tuple(atoms[i] for i in order)
        if ordered not in self.memo:
            self.memo[ordered] = self._solve(ordered)
        basis = self.memo[ordered]
        if order == sorted(order):
            return basis
        dims = [a.dim(self.group) for a in ordered]
        axes = [*np.argsort(order), len(order)]  # sorted axis j holds original axis order[j]
        return basis.reshape(*dims, -1).transpose(axes).reshape(basis.shape[0], -1)

    def _canonical(self, atoms: tuple[Atom, ...]) -> tuple[Atom, ...]:
        """Drop scalars; a covector is a vector when the group is orthogonal."""
        kept = tuple(a for a in atoms if not isinstance(a, Scalar))
        if self.group.orthogonal:
            kept = tuple(Vector() if isinstance(a, Covector) else a for a in kept)
        return kept

    def _solve(self, atoms: tuple[Atom, ...]) -> np.ndarray:
        """The invariants; each method is sized against the budget before it allocates."""
        if not atoms:
            return np.ones((1, 1))
        size = int(np.prod([a.dim(self.group) for a in atoms]))
        product = f"a tensor product of {len(atoms)} factors"
        if self.method is Method.AUTO:
            closed = closed_form_invariants(self.group, atoms)
            if closed is not None:
                return closed
        cons = KroneckerConstraints.of(self.group, atoms)
        if self.method in (Method.AUTO, Method.SOLVE) and cons.is_permutation:
            budget.require_matrix(f"the orbits of {product}", size, 2 + len(atoms))
            return orbit_nullspace(cons)
        budget.require_dim(f"the numeric solve for the invariants of {product}", size)
        large = cons.size > self.dense_max and self.method is not Method.DENSE
        if self.method is Method.ITERATIVE or large:
            return canonical_basis(iterative_nullspace(cons))
        budget.require_matrix(f"the Gram matrix of {product}", size, size)
        return canonical_basis(dense_nullspace(cons))
