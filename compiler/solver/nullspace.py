"""The invariants of a tensor product of atoms: the nullspace of stacked linear constraints.

A vector w of R = R_1 (x) ... (x) R_m is invariant iff d R(A) w = 0 for every Lie-algebra
generator A and R(h) w = w for every discrete generator h (Finzi, Welling & Wilson, ICML 2021,
eqs. 3-5). For a tensor product d R(A) is the Kronecker sum of the factors' d R_a(A) and R(h) the
Kronecker product of the R_a(h); both are applied matrix-free, one tensor axis at a time, so the
D x D matrices are never formed. The invariants are the nullspace of the PSD Gram operator
M = sum_i C_i^T C_i, found by one of three methods:

* `orbit_nullspace`: no Lie algebra and permutation matrices only (S(n), A(n), `regular`): the
  invariants are the indicators of the orbits on the index tuples, exact and O(D).
* `dense_nullspace`: M applied to the identity, then `eigh` (D up to a few thousand).
* `iterative_nullspace`: LOBPCG (Knyazev, SIAM J. Sci. Comput. 2001) on M, block by block with
  the null vectors found locked, for larger D; EMLP uses a Krylov-type iterative solver on the
  same operator for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geoc.solver.groups import MatrixGroup, SolverError
from geoc.solver.reps import Atom

NULL_RTOL = 1e-9  # eigenvalue of M / largest eigenvalue below which a direction is invariant


@dataclass(frozen=True, eq=False)
class KroneckerConstraints:
    """The invariance constraints of a tensor product of atoms, as per-factor matrices."""

    lie: tuple[np.ndarray, ...]  # per factor: [m, d_a, d_a]
    discrete: tuple[np.ndarray, ...]  # per factor: [h, d_a, d_a]

    @classmethod
    def of(cls, group: MatrixGroup, atoms: tuple[Atom, ...]) -> KroneckerConstraints:
        lie = tuple(a.lie(group) for a in atoms)
        return cls(lie, tuple(a.discrete(group) for a in atoms))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(d.shape[-1] for d in self.discrete)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @cached_property
    def is_permutation(self) -> bool:
        """No Lie algebra and every discrete factor matrix is a 0/1 permutation matrix."""
        no_lie = all(lie.shape[0] == 0 for lie in self.lie)
        return no_lie and all(_is_permutation(h) for mats in self.discrete for h in mats)

    def gram(self, x: np.ndarray) -> np.ndarray:
        """M x = sum_i C_i^T C_i x for x of shape [D, r]."""
        r = x.shape[1]
        t = np.ascontiguousarray(x).reshape(*self.shape, r)
        out = self._lie_adjoint(self._lie(t)) if self.lie[0].shape[0] else np.zeros_like(t)
        for j in range(self.discrete[0].shape[0]):
            mats = [f[j] for f in self.discrete]
            moved = _kron_prod(mats, t) - t
            out += _kron_prod([m.T for m in mats], moved) - moved
        return out.reshape(self.size, r)

    def _lie(self, t: np.ndarray) -> np.ndarray:
        """[m, *shape, r]: the Kronecker sum of every Lie generator applied to t."""
        out = np.zeros((self.lie[0].shape[0], *t.shape))
        for axis, mats in enumerate(self.lie):
            if np.any(mats):
                before, d = int(np.prod(t.shape[:axis])), t.shape[axis]
                out += np.matmul(mats[:, None], t.reshape(1, before, d, -1)).reshape(out.shape)
        return out

    def _lie_adjoint(self, y: np.ndarray) -> np.ndarray:
        """sum_i (Kronecker sum of generator i)^T y[i]: the adjoint of `_lie`."""
        out = np.zeros(y.shape[1:])
        count = y.shape[0]
        for axis, mats in enumerate(self.lie):
            if np.any(mats):
                before, d = int(np.prod(out.shape[:axis])), out.shape[axis]
                stacked = y.reshape(count, before, d, -1).transpose(1, 0, 2, 3)
                lhs = mats.transpose(2, 0, 1).reshape(d, count * d)  # [i, (g, j)] = A_g[j, i]
                out += np.matmul(lhs, stacked.reshape(before, count * d, -1)).reshape(out.shape)
        return out

    def residual(self, basis: np.ndarray) -> float:
        """The largest |C_i w| over the constraints and the columns w of `basis`."""
        t = np.ascontiguousarray(basis).reshape(*self.shape, basis.shape[1])
        worst = float(np.abs(self._lie(t)).max(initial=0.0))
        for j in range(self.discrete[0].shape[0]):
            moved = _kron_prod([f[j] for f in self.discrete], t) - t
            worst = max(worst, float(np.abs(moved).max(initial=0.0)))
        return worst


def _is_permutation(mat: np.ndarray) -> bool:
    binary = np.all((mat == 0) | (mat == 1))
    return bool(binary and np.all(mat.sum(axis=0) == 1) and np.all(mat.sum(axis=1) == 1))


def _along(mat: np.ndarray, t: np.ndarray, axis: int) -> np.ndarray:
    """Apply `mat` to tensor axis `axis` of `t` (one batched matmul, no transposes)."""
    before = int(np.prod(t.shape[:axis]))
    return np.matmul(mat, t.reshape(before, t.shape[axis], -1)).reshape(t.shape)


def _kron_prod(mats: list[np.ndarray], t: np.ndarray) -> np.ndarray:
    """(A_1 (x) ... (x) A_m) t, one axis at a time (identity factors skipped)."""
    for axis, mat in enumerate(mats):
        if not np.array_equal(mat, np.eye(mat.shape[0])):
            t = _along(mat, t, axis)
    return t


# ------------------------------------------------------------------------------ the methods


def dense_nullspace(cons: KroneckerConstraints, chunk: int = 256) -> np.ndarray:
    """Nullspace of M by a dense symmetric eigendecomposition: an orthonormal [D, k].

    M is built `chunk` columns at a time, which bounds the memory of the Lie-generator images.
    """
    gram = np.empty((cons.size, cons.size))
    for start in range(0, cons.size, chunk):
        stop = min(start + chunk, cons.size)
        unit = np.zeros((cons.size, stop - start))
        unit[np.arange(start, stop), np.arange(stop - start)] = 1.0
        gram[:, start:stop] = cons.gram(unit)
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    return vectors[:, values < NULL_RTOL * max(values[-1], 1.0)]


def orbit_nullspace(cons: KroneckerConstraints) -> np.ndarray:
    """Invariants of a permutation representation: normalised orbit indicators, [D, k]."""
    perms = [_tuple_permutation(cons, j) for j in range(cons.discrete[0].shape[0])]
    labels = _orbit_labels(cons.size, perms)
    _, column, counts = np.unique(labels, return_inverse=True, return_counts=True)
    basis = np.zeros((cons.size, len(counts)))
    basis[np.arange(cons.size), column] = 1.0 / np.sqrt(counts[column])
    return basis


def _tuple_permutation(cons: KroneckerConstraints, j: int) -> np.ndarray:
    """Discrete generator j as a permutation of the flattened index tuples."""
    grid = np.indices(cons.shape).reshape(len(cons.shape), -1)
    images = [np.argmax(f[j], axis=0)[grid[a]] for a, f in enumerate(cons.discrete)]
    return np.ravel_multi_index(images, cons.shape)


def _orbit_labels(size: int, perms: list[np.ndarray]) -> np.ndarray:
    """The smallest index of each element's orbit (vectorised union-find: hook, then jump)."""
    parent = np.arange(size)
    while True:
        for perm in perms:
            a, b = parent, parent[perm]
            np.minimum.at(parent, np.maximum(a, b), np.minimum(a, b))
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
        if all(np.array_equal(parent[perm], parent) for perm in perms):
            return parent


def iterative_nullspace(
    cons: KroneckerConstraints, seed: int = 0, block: int = 8, guard: int = 4
) -> np.ndarray:
    """Nullspace of M by LOBPCG, an orthonormal [D, k].

    One block at a time runs on the complement of the null vectors found so far (locked),
    until a block also holds `guard` certified non-null vectors, so no null direction is left.
    """
    rng = np.random.default_rng(seed)
    scale = _largest_eigenvalue(cons.gram, cons.size, rng)
    locked = np.zeros((cons.size, 0))
    while locked.shape[1] + block <= cons.size:
        vectors, values = _lobpcg(cons.gram, rng.normal(size=(cons.size, block)), scale, locked)
        null = values < NULL_RTOL * scale
        locked = np.hstack([locked, vectors[:, null]])
        if null.sum() <= block - guard:
            return locked
    return dense_nullspace(cons)  # tiny or nearly all invariant: no room for a block


def _largest_eigenvalue(op: Callable, size: int, rng: np.random.Generator) -> float:
    """An upper estimate of the largest eigenvalue of the PSD operator (power iteration)."""
    x = rng.normal(size=(size, 1))
    value = 1.0
    for _ in range(30):
        y = op(x)
        value = float(np.linalg.norm(y))
        x = y / max(value, 1e-300)
    return max(1.5 * value, 1e-12)


def _lobpcg(
    op: Callable, start: np.ndarray, scale: float, locked: np.ndarray, max_iter: int = 5000
) -> tuple[np.ndarray, np.ndarray]:
    """The lowest eigenpairs of the PSD operator `op` on the complement of `locked`.

    The block is as wide as `start`. Stops when each Ritz pair is either null (value below
    NULL_RTOL * scale, residual below 1e-12 * scale) or certified non-null (residual below a
    thousandth of its value).
    """
    width = start.shape[1]
    x = _orthonormal_complement(locked, start)
    ax = op(x)
    values, rotation = np.linalg.eigh(_sym(x.T @ ax))
    x, ax = x @ rotation, ax @ rotation
    p = np.zeros((x.shape[0], 0))
    for _ in range(max_iter):
        residual = ax - x * values
        norms = np.linalg.norm(residual, axis=0)
        null_ok = (values < NULL_RTOL * scale) & (norms < 1e-12 * scale)
        if np.all(null_ok | (norms < 1e-3 * values)):
            return x, values
        against = np.hstack([locked, x])
        fresh = _orthonormal_complement(against, np.hstack([residual[:, ~null_ok], p]))
        q, aq = np.hstack([x, fresh]), np.hstack([ax, op(fresh)])
        ritz, vectors = np.linalg.eigh(_sym(q.T @ aq))
        new_x, new_ax = q @ vectors[:, :width], aq @ vectors[:, :width]
        p = new_x - x @ (x.T @ new_x)  # the step just taken: next search direction
        x, ax, values = new_x, new_ax, ritz[:width]
    raise SolverError("the iterative nullspace solver did not converge")


def _sym(a: np.ndarray) -> np.ndarray:
    return (a + a.T) / 2


def _orthonormal_complement(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """An orthonormal basis of span(S) projected off the orthonormal columns of X."""
    for _ in range(2):  # twice is enough (Kahan-Parlett)
        s = s - x @ (x.T @ s)
    norms = np.linalg.norm(s, axis=0)
    s = s[:, norms > 1e-14] / norms[norms > 1e-14]
    if s.shape[1] == 0:
        return s
    u, sing, _ = np.linalg.svd(s, full_matrices=False)
    return u[:, sing > 1e-8 * sing[0]]


#: A row of the basis whose part outside the rows already chosen is below this stays a non-pivot.
PIVOT_TOL = 1e-3


def canonical_basis(q: np.ndarray) -> np.ndarray:
    """One fixed orthonormal basis of the span of ``q``'s orthonormal columns, whatever basis
    eigh or LOBPCG returned (bases then agree across BLAS builds): the reduced column echelon
    form E = Q Q[p]^-1 on pivot rows p chosen greedily in row order (E depends only on the
    span), orthonormalised column by column, the first non-negligible entry of each positive."""
    k = q.shape[1]
    if k == 0:
        return q
    pivots = _pivot_rows(q, PIVOT_TOL) or _pivot_rows(q, 1e-9)
    if not pivots:
        return q
    echelon = q @ np.linalg.inv(q[pivots])
    basis, _ = np.linalg.qr(echelon)
    lead = np.argmax(np.abs(basis) > 1e-8, axis=0)
    return basis * np.sign(basis[lead, np.arange(k)])


def _pivot_rows(q: np.ndarray, tol: float) -> list[int]:
    """k rows of ``q``, first in row order, each far (> tol) from the span of those before."""
    k = q.shape[1]
    chosen: list[int] = []
    span = np.zeros((0, k))  # orthonormal basis of the chosen rows
    for i, row in enumerate(q):
        residual = row - span.T @ (span @ row)
        norm = np.linalg.norm(residual)
        if norm > tol:
            chosen.append(i)
            span = np.vstack([span, residual / norm])
            if len(chosen) == k:
                return chosen
    return []
