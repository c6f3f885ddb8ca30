# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Symmetric couplings: a basis of the equivariant polynomials of degree ν of one vector.

MACE's symmetric contraction (Batatia et al. 2022, eq. 10) maps each channel ``A`` of a value
``⊕_s V_{l_s}`` (one *slot* ``s`` per irrep) to ``B_η(A) = Σ T_η[m_1..m_ν, M] A_{s_1}[m_1] ..
A_{s_ν}[m_ν]``, one feature of degree ``L`` per *coupling path* ``η``. A path couples its
factors from left to right: ``T_η`` is the generalised Clebsch–Gordan tensor of the tree
``(((s_1 s_2) L_2 s_3) L_3 ... s_ν) L``, each step ``(L_{k-1}, l_{s_k}) -> L_k`` weighted by
e3nn's component normalisation ``sqrt(2 L_k + 1) · 3j(L_{k-1}, l_{s_k}, L_k)``.

Since ``A^{⊗ν}`` is symmetric, two paths over the same multiset of slots can give linearly
dependent (or zero) features, e.g. ``(1o 1o) -> 1e``. :func:`symmetric_paths` keeps a basis:
per multiset (slots in canonical order: most repeated first, then by slot) it tries every
tree, intermediates ascending, and keeps one whose tensor, averaged over the permutations of
equal slots, is independent of those kept (Gram–Schmidt, float64). Distinct slots need no test
(the recoupling trees of ``V_1 ⊗ .. ⊗ V_ν`` are orthonormal). The number kept per ``L`` is the
multiplicity of ``L`` in ``Sym^ν(⊕ V_{l_s})``, and the result is cached with the 3j symbols.

    >>> [p.intermediates for p in symmetric_paths(((1, -1),), (1, -1), 3) if p.order == 3]
    [(0,)]
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from geoc import budget
from geoc.o3.cache import CoefficientCache, CoefficientKind, resolve_cache
from geoc.o3.clebsch_gordan import wigner_3j

#: A slot's irrep ``(l, p)``.
Irrep = tuple[int, int]
_INDEPENDENT = 1e-8  # relative residual under which a tree is a combination of those kept


@dataclass(frozen=True)
class CouplingPath:
    """One feature ``B_η``: the slots it multiplies (canonical order), the degrees after
    coupling its first 2, 3, .. ν - 1 factors, and its degree ``l``."""

    slots: tuple[int, ...]
    intermediates: tuple[int, ...]
    l: int

    @property
    def order(self) -> int:
        """ν, the number of factors (the body order minus one)."""
        return len(self.slots)

    def degrees(self, slot_irreps: Sequence[Irrep]) -> tuple[int, ...]:
        """``L_1 = l_{s_1}, L_2, .., L_ν = l``: the degree after each coupling step."""
        return (slot_irreps[self.slots[0]][0], *self.intermediates, self.l)[: self.order]

    def prefix(self, k: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The first ``k`` factors and their degrees after coupling: shared by every path that
        starts the same way, so a lowering computes it once."""
        return self.slots[:k], (*self.intermediates, self.l)[: max(k - 1, 0)]


def symmetric_paths(
    slots: Sequence[Irrep],
    target: Irrep,
    correlation: int,
    cache: CoefficientCache | None = None,
) -> tuple[CouplingPath, ...]:
    """A basis of the features of irrep ``target`` of orders 1..``correlation``, by order,
    then multiset of slots, then intermediates (this order is the weights' layout)."""
    found: list[CouplingPath] = []
    for order in range(1, correlation + 1):
        for multiset in itertools.combinations_with_replacement(range(len(slots)), order):
            found.extend(_multiset_paths(slots, _canonical(multiset), target, cache))
    return tuple(found)


def coupling_tensor(path: CouplingPath, slot_irreps: Sequence[Irrep]) -> np.ndarray:
    """``T_η`` of shape ``[2 l_{s_1} + 1, .., 2 l_{s_ν} + 1, 2 l + 1]`` (left-to-right tree)."""
    ls = [slot_irreps[s][0] for s in path.slots]
    degrees = path.degrees(slot_irreps)
    tensor = np.eye(2 * ls[0] + 1)
    for k in range(1, path.order):
        step = math.sqrt(2 * degrees[k] + 1) * wigner_3j(degrees[k - 1], ls[k], degrees[k])
        tensor = np.tensordot(tensor, step, axes=(-1, 0))
    return tensor


def _canonical(multiset: tuple[int, ...]) -> tuple[int, ...]:
    """Most repeated slot first (equal factors couple first), then by slot."""
    counts = Counter(multiset)
    return tuple(sorted(multiset, key=lambda s: (-counts[s], s)))


def _multiset_paths(
    slots: Sequence[Irrep],
    order: tuple[int, ...],
    target: Irrep,
    cache: CoefficientCache | None,
) -> list[CouplingPath]:
    parity = math.prod(slots[s][1] for s in order)
    if parity != target[1]:
        return []
    ls = [slots[s][0] for s in order]
    candidates = [
        CouplingPath(order, tuple(chain[1:-1]), target[0]) for chain in _chains(ls, target[0])
    ]
    if len(set(order)) == len(order) or len(candidates) == 0:
        return candidates  # distinct factors: the trees are orthonormal
    groups = tuple(order.index(s) for s in order)  # equal slots share a group id
    key = (target[0], *ls, *groups)
    kept = resolve_cache(cache).fetch(
        CoefficientKind.SYMMETRIC_PATHS, key, lambda: _independent(candidates, slots, groups)
    )
    return [candidates[int(i)] for i in kept]


def _chains(ls: Sequence[int], l_out: int) -> Iterator[tuple[int, ...]]:
    """Every ``(L_1, .., L_ν)`` with ``L_1 = l_1``, each step a triangle, ``L_ν = l_out``,
    intermediates ascending."""

    def extend(chain: tuple[int, ...], k: int) -> Iterator[tuple[int, ...]]:
        if k == len(ls):
            if chain[-1] == l_out:
                yield chain
            return
        rest = sum(ls[k + 1 :])
        for l in range(abs(chain[-1] - ls[k]), chain[-1] + ls[k] + 1):
            if abs(l - l_out) <= rest:  # the remaining factors can still reach l_out
                yield from extend((*chain, l), k + 1)

    yield from extend((ls[0],), 1)


def _independent(
    candidates: Sequence[CouplingPath], slots: Sequence[Irrep], groups: tuple[int, ...]
) -> np.ndarray:
    """Indices of the candidates kept by Gram–Schmidt on their symmetrised tensors."""
    size = math.prod(2 * slots[s][0] + 1 for s in candidates[0].slots) * (2 * candidates[0].l + 1)
    budget.require_bytes("the symmetric coupling tensors", 8 * size * (len(candidates) + 1))
    basis = np.empty((len(candidates), size))  # orthonormal rows, the first len(kept) used
    kept: list[int] = []
    for index, path in enumerate(candidates):
        tensor = coupling_tensor(path, slots)
        vector = _symmetrised(tensor, groups).ravel()
        done = basis[: len(kept)]
        residual = vector - done.T @ (done @ vector)  # one matrix product, not one per row
        norm = np.linalg.norm(residual)
        if norm > _INDEPENDENT * np.linalg.norm(tensor):  # the tree's own size, not its
            # symmetric part's: a tree whose symmetric part vanishes is no feature at all
            basis[len(kept)] = residual / norm
            kept.append(index)
    return np.asarray(kept, dtype=np.float64)


def _symmetrised(tensor: np.ndarray, groups: tuple[int, ...]) -> np.ndarray:
    """The average of ``tensor`` over the permutations of factor positions that only exchange
    equal slots. Per group, S_j = (1/j) (1 + Σ_{i<j} (i j)) S_{j-1}: the transpositions are
    coset representatives of S_{j-1} in S_j, so m equal slots cost m(m - 1)/2 transposes, not m!
    (correlation 6 of one 2e slot took minutes)."""
    for group in dict.fromkeys(groups):
        positions = [k for k, g in enumerate(groups) if g == group]
        for j in range(1, len(positions)):
            total = tensor.copy()
            for i in range(j):
                total += np.swapaxes(tensor, positions[i], positions[j])
            tensor = total / (j + 1)
    return tensor


__all__ = ["CouplingPath", "coupling_tensor", "symmetric_paths"]
