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


# --- weight sharing and the pseudoscalar (mv_linear, mv_product) ---------------------------------

#: How the learned Clifford layers share weights across grades: "grade", one weight per grade
#: (CGENN); "mod4", one per class of grades congruent mod 4 (GLGENN: the subspaces Cl^(m),
#: m = 0..3, on which the grade involution is (-1)^m and the reverse (-1)^(m(m-1)/2)).
SHARINGS = ("grade", "mod4")


def weight_classes(n: int, share: str) -> np.ndarray:
    """The weight class of each grade 0..n: the grade itself, or the grade mod 4."""
    k = np.arange(n + 1)
    return {"grade": k, "mod4": k % 4}[share]


def class_count(n: int, share: str) -> int:
    """How many weight classes the grades of Cl(p, q), p + q = n, fall in."""
    return int(weight_classes(n, share).max()) + 1


def blade_classes(n: int, share: str) -> np.ndarray:
    """The weight class of each blade, [2^n] int."""
    return weight_classes(n, share)[grades(n)]


@functools.cache
def pseudoscalar_product(p: int, q: int) -> np.ndarray:
    """Right multiplication by the pseudoscalar I = e1...en as a matrix [out, in]: a signed
    permutation taking grade k to grade n - k (the Hodge dual up to sign)."""
    pseudo = np.zeros(2 ** (p + q))
    pseudo[-1] = 1.0
    out = np.einsum("ijk,j->ki", cayley(p, q), pseudo)
    out.flags.writeable = False
    return out


@functools.cache
def product_paths(p: int, q: int, share: str) -> tuple[np.ndarray, int]:
    """The weighted geometric product's paths: ``(index [D, D, D], count)``, index[i, j, k] the
    path of (class of a's blade i, class of b's blade j, class of the product's blade k) where
    the Cayley table is nonzero, ``count`` (no weight) elsewhere. Only triples of classes that
    the product connects get a weight."""
    table, n = cayley(p, q), p + q
    cls = blade_classes(n, share)
    triples = np.stack(np.broadcast_arrays(*np.ix_(cls, cls, cls)), axis=-1)  # [D, D, D, 3]
    used = table != 0
    keys = sorted({tuple(t) for t in triples[used].tolist()})
    number = {key: i for i, key in enumerate(keys)}
    index = np.full(table.shape, len(keys), dtype=np.int64)
    for at in zip(*np.nonzero(used), strict=True):
        index[at] = number[tuple(triples[at].tolist())]
    index.flags.writeable = False
    return index, len(keys)
