"""The Clifford algebra Cl(p, q) on its blade basis (numpy, float64): blade order, products as
Cayley tables, and how O(p, q) acts on multivectors (docs/clifford.md).

Basis vectors e1 .. en (n = p + q): the first p square to +1, the last q to -1. A multivector
has 2^n coordinates, one per blade, ordered grade by grade and lexicographically within a grade
(the `clifford` package's order): for Cl(3, 0) ``1, e1, e2, e3, e12, e13, e23, e123``.

A matrix g of O(p, q) acts on a multivector by the outermorphism of its action on vectors: on
grade k by the k-th exterior power, ``(Λ^k g)_{IJ} = det g[I, J]`` (the minors). This is the
twisted conjugation ``x -> v α(x) v^-1`` of the Clifford group (Ruhe et al., 2023): a reflection
in a vector v acts as the outermorphism of ``x -> x - 2 <x, v> / <v, v> v``, so an element of
determinant -1 multiplies the pseudoscalar by -1. It is an algebra automorphism: it commutes with
the geometric product, the grade projections, the reverse, the wedge and the left contraction.

    >>> [blade_name(b) for b in blades(3)]
    ['1', 'e1', 'e2', 'e3', 'e12', 'e13', 'e23', 'e123']
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

Blade = tuple[int, ...]
#: The largest n = p + q: a multivector has 2^n coordinates and a Cayley table 8^n entries.
MAX_DIM = 6


@functools.cache
def blades(n: int) -> tuple[Blade, ...]:
    """Every blade as its sorted basis-vector indices (0-based), in the documented order."""
    return tuple(b for k in range(n + 1) for b in itertools.combinations(range(n), k))


def blade_name(blade: Blade) -> str:
    return "e" + "".join(str(i + 1) for i in blade) if blade else "1"


@functools.cache
def grades(n: int) -> np.ndarray:
    """The grade of each blade, [2^n] int."""
    return np.array([len(b) for b in blades(n)])


def signature(p: int, q: int) -> np.ndarray:
    """The squares of e1 .. en: p times +1, then q times -1."""
    return np.array([1.0] * p + [-1.0] * q)


def _blade_product(a: Blade, b: Blade, metric: np.ndarray) -> tuple[float, Blade]:
    """e_a e_b = sign e_c: reorder by adjacent swaps (each a sign), contract equal pairs."""
    sign, out = 1.0, list(a)
    for i in b:
        # e_i moves left past every factor after its place; each swap flips the sign.
        after = sum(1 for j in out if j > i)
        sign *= (-1.0) ** after
        if i in out:
            sign *= metric[i]
            out.remove(i)
        else:
            out.append(i)
            out.sort()
    return sign, tuple(out)


@functools.cache
def cayley(p: int, q: int) -> np.ndarray:
    """The geometric product's table C [D, D, D]: ``(a b)_k = sum_ij a_i b_j C[i, j, k]``."""
    n, metric = p + q, signature(p, q)
    index = {b: k for k, b in enumerate(blades(n))}
    table = np.zeros((2**n,) * 3)
    for (i, a), (j, b) in itertools.product(enumerate(blades(n)), repeat=2):
        sign, c = _blade_product(a, b, metric)
        table[i, j, index[c]] = sign
    table.flags.writeable = False
    return table


def _graded(p: int, q: int, keep: np.ndarray) -> np.ndarray:
    """The Cayley table kept where ``keep[grade a, grade b, grade c]``."""
    g = grades(p + q)
    mask = keep[g[:, None, None], g[None, :, None], g[None, None, :]]
    out = cayley(p, q) * mask
    out.flags.writeable = False
    return out


@functools.cache
def wedge_table(p: int, q: int) -> np.ndarray:
    """The outer product: grade r times grade s kept at grade r + s."""
    r = np.arange(p + q + 1)
    return _graded(p, q, r[:, None, None] + r[None, :, None] == r[None, None, :])


@functools.cache
def left_contraction_table(p: int, q: int) -> np.ndarray:
    """The left contraction a ⌋ b: grade r times grade s kept at grade s - r (none if r > s)."""
    r = np.arange(p + q + 1)
    return _graded(p, q, r[None, :, None] - r[:, None, None] == r[None, None, :])


@functools.cache
def reverse_signs(n: int) -> np.ndarray:
    """The reverse multiplies grade k by (-1)^(k (k - 1) / 2)."""
    k = grades(n)
    return (-1.0) ** (k * (k - 1) // 2)


def exterior_power(g: np.ndarray, k: int) -> np.ndarray:
    """Λ^k g on the grade-k blades (lexicographic): the k x k minors det g[I, J]."""
    combos = list(itertools.combinations(range(len(g)), k))
    if k == 0:
        return np.ones((1, 1))
    rows = np.array(combos)
    sub = g[rows[:, None, :, None], rows[None, :, None, :]]  # [I, J, k, k]
    return np.linalg.det(sub)


def outermorphism(g: np.ndarray) -> np.ndarray:
    """The action of g (a matrix on vectors) on multivectors: block-diagonal Λ^k g."""
    n = len(g)
    out = np.zeros((2**n, 2**n))
    start = 0
    for k in range(n + 1):
        block = exterior_power(g, k)
        out[start : start + len(block), start : start + len(block)] = block
        start += len(block)
    return out


def derivation(a: np.ndarray) -> np.ndarray:
    """d/dt Λ(exp(t a)) at 0: a acts on e_J as the sum over its factors, one replaced by a e_j."""
    n = len(a)
    index = {b: i for i, b in enumerate(blades(n))}
    out = np.zeros((2**n, 2**n))
    for col, blade in enumerate(blades(n)):
        for pos, j in enumerate(blade):
            for i in range(n):
                if a[i, j] == 0 or (i in blade and i != j):
                    continue
                # e_i replaces e_j at position pos; sorting it into place costs a sign.
                rest = blade[:pos] + blade[pos + 1 :]
                moves = sum(1 for m in rest[:pos] if m > i) + sum(1 for m in rest[pos:] if m < i)
                out[index[tuple(sorted((*rest, i)))], col] += a[i, j] * (-1.0) ** moves
    return out


def grade_slices(n: int) -> tuple[slice, ...]:
    """Where each grade's blades sit in a multivector."""
    sizes = [len(list(itertools.combinations(range(n), k))) for k in range(n + 1)]
    ends = np.cumsum([0, *sizes])
    return tuple(slice(int(a), int(b)) for a, b in itertools.pairwise(ends))


def reverse_norms(p: int, q: int) -> np.ndarray:
    """``<e_d ẽ_d>_0`` per blade: the product of its vectors' squares, ±1. The quadratic form
    ``<x x̃>_0`` of a grade is ``sum_d reverse_norms[d] x_d^2``."""
    metric = signature(p, q)
    return np.array([np.prod(metric[list(b)]) for b in blades(p + q)])


def grade_indicator(n: int) -> np.ndarray:
    """[n + 1, 2^n]: row k marks the blades of grade k."""
    return (grades(n)[None, :] == np.arange(n + 1)[:, None]).astype(float)
