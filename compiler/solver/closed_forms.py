"""Closed-form equivariant bases on tensor powers, which scale to large n.

* S(n) maps T(k) -> T(l): one basis element per set partition of the l + k indices with at most
  n blocks (the partition algebra; Maron, Ben-Hamu, Shamir & Lipman, "Invariant and Equivariant
  Graph Networks", ICLR 2019; Pearce-Crump, "Connecting Permutation Equivariant Neural Networks
  and Partition Diagrams", 2022). The *diagram* element of a partition is 1 where indices in one
  block are equal; the *orbit* element is 1 where, in addition, different blocks differ. Orbit
  elements have disjoint supports, so normalised they are an orthonormal basis.
* O(n), Sp(n), and SO(n) / Lorentz(n) where no epsilon term can appear: one element per perfect
  matching of the indices (Brauer diagrams), a product of invariant 2-tensors (Brauer, "On
  Algebras Which are Connected with the Semisimple Continuous Groups", Ann. Math. 1937;
  Pearce-Crump, "Brauer's Group Equivariant Neural Networks", ICML 2023). A pair of two output
  (upper) indices carries the inverse metric, two input (lower) indices the metric, one of each
  the identity: delta for O(n), eta = diag(1, -1, ..., -1) for Lorentz, J for Sp.

Layout as in the solver: a basis element is W [n^l, n^k] flattened row-major, output indices
first. `apply` runs a map without materialising it (einsum), in O(n^max(k, l)) per element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geoc import budget
from geoc.solver.groups import (
    INDEFINITE_NAMES,
    Family,
    MatrixGroup,
    indefinite_metric,
    minkowski_metric,
    symplectic_form,
)
from geoc.solver.reps import Atom, Covector, Vector

RANK_RTOL = 1e-10


def set_partitions(m: int, max_blocks: int) -> list[tuple[int, ...]]:
    """Set partitions of m points with at most `max_blocks` blocks, as restricted growth strings."""
    return list(_growth_strings(m, max_blocks, ()))


def _growth_strings(m: int, max_blocks: int, head: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    if len(head) == m:
        yield head
        return
    blocks = max(head, default=-1) + 1
    for label in range(min(blocks + 1, max_blocks)):
        yield from _growth_strings(m, max_blocks, (*head, label))


def perfect_matchings(points: tuple[int, ...]) -> list[tuple[tuple[int, int], ...]]:
    """All perfect matchings of `points` (none for an odd count), pairs in increasing order."""
    if not points:
        return [()]
    first, rest = points[0], points[1:]
    return [
        ((first, partner), *tail)
        for i, partner in enumerate(rest)
        for tail in perfect_matchings(rest[:i] + rest[i + 1 :])
    ]


def orthonormalize(columns: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column span (rank by singular values)."""
    if columns.shape[1] == 0:
        return columns
    u, sing, _ = np.linalg.svd(columns, full_matrices=False)
    return u[:, sing > RANK_RTOL * max(sing[0], 1e-300)]


# ------------------------------------------------------------------------ S(n): partitions


@dataclass(frozen=True)
class PartitionBasis:
    """The S(n)-equivariant maps T(k) -> T(l), one per set partition of the l + k indices."""

    n: int
    k: int
    l: int  # noqa: E741 (the paper's name)

    @cached_property
    def diagrams(self) -> tuple[tuple[int, ...], ...]:
        """Block label of each index (outputs first), for partitions with at most n blocks."""
        return tuple(set_partitions(self.k + self.l, self.n))

    def __len__(self) -> int:
        return len(self.diagrams)

    def dense(self, orthonormal: bool = True) -> np.ndarray:
        """[n^(l+k), K]: normalised orbit elements (orthonormal) or the 0/1 diagram elements."""
        labels = _growth_labels(self.n, self.k + self.l)
        if orthonormal:
            column = _diagram_column(labels, self.diagrams)
            counts = np.bincount(column, minlength=len(self))
            out = np.zeros((labels.shape[1], len(self)))
            out[np.arange(labels.shape[1]), column] = 1.0 / np.sqrt(counts[column])
            return out
        columns = [_equal_within_blocks(labels, d) for d in self.diagrams]
        return np.stack(columns, axis=1).astype(float)

    def orbit_to_diagram(self) -> np.ndarray:
        """[K, K]: diagram-basis coefficients of each normalised orbit element (Moebius)."""
        out = np.zeros((len(self), len(self)))
        for i, finer in enumerate(self.diagrams):
            size = math.prod(self.n - b for b in range(max(finer) + 1)) if finer else 1
            for j, coarser in enumerate(self.diagrams):
                out[j, i] = _moebius(finer, coarser) / math.sqrt(size)
        return out

    def apply(self, coeffs: np.ndarray, x: np.ndarray, orthonormal: bool = False) -> np.ndarray:
        """sum_c coeffs[c] * (element c) x, for x [..., n (k times)] -> [..., n (l times)].

        `coeffs` are in the diagram basis, or in the basis of `dense()` when `orthonormal`.
        """
        if orthonormal:
            coeffs = self.orbit_to_diagram() @ coeffs
        terms = zip(coeffs, self.diagrams, strict=True)
        return sum(c * self._apply_diagram(d, x) for c, d in terms)

    def _apply_diagram(self, diagram: tuple[int, ...], x: np.ndarray) -> np.ndarray:
        outs, ins = list(diagram[: self.l]), list(diagram[self.l :])
        out_blocks = list(dict.fromkeys(outs))
        kept = [b for b in out_blocks if b in ins]
        z = np.einsum(x, [..., *ins], [..., *kept])  # diagonals, then sum the input-only blocks
        if not outs:
            return z
        z = z[(..., *[slice(None) if b in kept else None for b in out_blocks])]
        y = np.zeros((*x.shape[: x.ndim - self.k], *(self.n,) * self.l))
        np.einsum(y, [..., *outs], [..., *out_blocks])[...] = z  # write onto the diagonal
        return y


def _growth_labels(n: int, m: int) -> np.ndarray:
    """[m, n^m]: the restricted growth string (equality pattern) of every index tuple."""
    idx = np.indices((n,) * m).reshape(m, n**m)
    labels = np.zeros_like(idx)
    count = np.zeros(idx.shape[1], dtype=idx.dtype)
    for p in range(m):
        label = np.full(idx.shape[1], -1)
        for q in range(p - 1, -1, -1):
            label = np.where(idx[q] == idx[p], labels[q], label)
        fresh = label < 0
        label[fresh] = count[fresh]
        count += fresh
        labels[p] = label
    return labels


def _diagram_column(labels: np.ndarray, diagrams: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """The position in `diagrams` of each tuple's equality pattern."""
    m = labels.shape[0]
    weights = m ** np.arange(m)
    codes = weights @ labels
    diagram_codes = np.array([int(weights @ np.array(d)) for d in diagrams], dtype=codes.dtype)
    order = np.argsort(diagram_codes)
    return order[np.searchsorted(diagram_codes[order], codes)]


def _equal_within_blocks(labels: np.ndarray, diagram: tuple[int, ...]) -> np.ndarray:
    """Tuples whose indices are equal within every block of `diagram` (its 0/1 element)."""
    first = {b: diagram.index(b) for b in set(diagram)}
    cols = [np.ones(labels.shape[1], dtype=bool)]
    cols += [labels[p] == labels[first[b]] for p, b in enumerate(diagram)]
    return np.logical_and.reduce(cols)


def _moebius(finer: tuple[int, ...], coarser: tuple[int, ...]) -> float:
    """Moebius function of the partition lattice, 0 unless `finer` refines `coarser`."""
    merged: dict[int, set[int]] = {}
    for f, c in zip(finer, coarser, strict=True):
        merged.setdefault(c, set()).add(f)
    if sum(len(s) for s in merged.values()) != len(set(finer)):
        return 0.0  # some block of `finer` meets two blocks of `coarser`
    sizes = [len(s) for s in merged.values()]
    return float(math.prod((-1) ** (k - 1) * math.factorial(k - 1) for k in sizes))


# ----------------------------------------------------------- O(n), Sp, SO, Lorentz: Brauer

BRAUER_METRIC: dict[Family, Callable[[MatrixGroup], np.ndarray]] = {
    Family.O: lambda g: np.eye(g.dim),
    Family.SO: lambda g: np.eye(g.dim),
    Family.LORENTZ: lambda g: minkowski_metric(g.n),
    Family.SP: lambda g: symplectic_form(g.n),
    **{f: lambda g: indefinite_metric(g.n, g.q) for f in INDEFINITE_NAMES},
}
# det = 1: the Levi-Civita tensor is invariant too
HAS_EPSILON = {Family.SO, Family.LORENTZ, Family.SO_PQ, Family.SO_PLUS}


def brauer_is_complete(group: MatrixGroup, m: int) -> bool:
    """Whether Brauer diagrams span the invariants of m indices (no epsilon term fits)."""
    if group.family not in BRAUER_METRIC:
        return False
    no_epsilon = m < group.dim or (m - group.dim) % 2 == 1
    return group.family not in HAS_EPSILON or no_epsilon


@dataclass(frozen=True, eq=False)
class BrauerBasis:
    """The maps T(k) -> T(l) spanned by Brauer diagrams, for a group with a Brauer metric."""

    group: MatrixGroup
    k: int
    l: int  # noqa: E741

    @cached_property
    def diagrams(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        return tuple(perfect_matchings(tuple(range(self.l + self.k))))

    @property
    def variances(self) -> tuple[bool, ...]:
        """True for an upper (output, contravariant) index."""
        return (True,) * self.l + (False,) * self.k

    def __len__(self) -> int:
        return len(self.diagrams)

    def dense(self, orthonormal: bool = True) -> np.ndarray:
        """[d^(l+k), K]: the diagram tensors, or an orthonormal basis of their span."""
        metric = BRAUER_METRIC[self.group.family](self.group)
        cols = [_pairing_tensor(d, self.variances, metric).ravel() for d in self.diagrams]
        size = self.group.dim ** (self.l + self.k)
        out = np.stack(cols, axis=1) if cols else np.zeros((size, 0))
        return orthonormalize(out) if orthonormal else out

    def apply(self, coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """sum_c coeffs[c] * (diagram c) x, for x [..., d (k times)] -> [..., d (l times)]."""
        metric = BRAUER_METRIC[self.group.family](self.group)
        terms = zip(coeffs, self.diagrams, strict=True)
        return sum(c * self._apply_diagram(d, metric, x) for c, d in terms)

    def _apply_diagram(
        self, diagram: tuple[tuple[int, int], ...], metric: np.ndarray, x: np.ndarray
    ) -> np.ndarray:
        letters = list(range(self.l + self.k))
        operands: list = []
        for a, b in diagram:
            if a < self.l <= b:  # one output, one input index: the identity
                letters[b] = letters[a]
            else:
                operands += [metric, [a, b]]
        ins = letters[self.l :]
        return np.einsum(x, [..., *ins], *operands, [..., *letters[: self.l]], optimize=True)


def _pairing_tensor(
    diagram: tuple[tuple[int, int], ...], variances: tuple[bool, ...], metric: np.ndarray
) -> np.ndarray:
    """The invariant tensor of a perfect matching: a metric or identity on each pair."""
    operands: list = []
    for a, b in diagram:
        mixed = variances[a] != variances[b]
        operands += [np.eye(len(metric)) if mixed else metric, [a, b]]
    if not operands:
        return np.ones(())
    return np.einsum(*operands, list(range(len(variances))))


# ------------------------------------------------------------------ entry points


def closed_form(group: MatrixGroup, k: int, l: int) -> PartitionBasis | BrauerBasis | None:  # noqa: E741
    """The closed-form basis of T(k) -> T(l) for `group`, or None where none applies here."""
    if group.family is Family.S:
        return PartitionBasis(group.n, k, l)
    if brauer_is_complete(group, k + l):
        return BrauerBasis(group, k, l)
    return None


def closed_form_invariants(group: MatrixGroup, atoms: tuple[Atom, ...]) -> np.ndarray | None:
    """Orthonormal invariants of a product of vectors / covectors by a closed form, or None."""
    if not all(isinstance(a, Vector | Covector) for a in atoms):
        return None
    size = group.dim ** len(atoms)
    if group.family is Family.S and all(isinstance(a, Vector) for a in atoms):
        partitions = PartitionBasis(group.n, 0, len(atoms))
        budget.require_matrix("a partition basis", size, len(partitions) + len(atoms))
        return partitions.dense()
    if not brauer_is_complete(group, len(atoms)):
        return None
    metric = BRAUER_METRIC[group.family](group)
    variances = tuple(isinstance(a, Vector) for a in atoms)
    diagrams = perfect_matchings(tuple(range(len(atoms))))
    budget.require_matrix("a Brauer basis", size, 2 * len(diagrams))  # the columns, then Q
    cols = [_pairing_tensor(d, variances, metric).ravel() for d in diagrams]
    if not cols:
        return np.zeros((group.dim ** len(atoms), 0))
    return orthonormalize(np.stack(cols, axis=1))
