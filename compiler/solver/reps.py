"""Representations as symbolic values, bound to a group when asked for matrices.

Atoms: `scalar`, `V` (the defining representation, `vector`), `V.dual()` (the dual: covariant
vectors), `regular` (finite groups). Combinators: `a + b` (direct sum, coordinates of `a` then
`b`), `a * b` (tensor product, flattened row-major), `3 * a` (multiplicity), `a ** k` and `T(k)`
(k-th tensor power of `V`). This is the rep algebra of EMLP (Finzi et al., 2021).

Lorentz convention: `V` is contravariant (x^mu, transforms by g), `V.dual()` covariant (by
g^{-T}). The Minkowski inner product `mdot(x, y) = x^T eta y` is an invariant map V * V -> scalar
(g^T eta g = eta), so no dual is needed for it; `V -> V.dual()` is lowering an index (eta).

Every rep expands into a direct sum of *monomials* (tensor products of atoms) together with the
positions of each monomial's coordinates inside the rep: the solver works per monomial pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import ClassVar

import numpy as np

from geoc import clifford
from geoc.solver.groups import MatrixGroup, SolverError


@dataclass(frozen=True, eq=False)
class Monomial:
    """A tensor product of atoms and the coordinates of the rep it occupies (row-major)."""

    atoms: tuple[Atom, ...]
    index: np.ndarray


class Rep:
    """A representation expression; immutable and hashable, `repr` is its canonical key."""

    def dim(self, group: MatrixGroup) -> int:
        raise NotImplementedError

    def monomials(self, group: MatrixGroup) -> list[Monomial]:
        raise NotImplementedError

    def dual(self) -> Rep:
        raise NotImplementedError

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        """rho(g) for a group element `g` (a matrix of the defining representation)."""
        raise NotImplementedError

    def lie(self, group: MatrixGroup) -> np.ndarray:
        """d rho(A) for each Lie-algebra generator A, dense [m, dim, dim]."""
        raise NotImplementedError

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        """rho(h) for each discrete generator h, dense [h, dim, dim]."""
        raise NotImplementedError

    def __add__(self, other: Rep) -> Rep:
        return direct_sum(*_terms(self), *_terms(other))

    def __mul__(self, other: Rep) -> Rep:
        return tensor_product(*_factors(self), *_factors(other))

    def __rmul__(self, multiplicity: int) -> Rep:
        if not isinstance(multiplicity, int) or multiplicity < 1:
            raise SolverError(f"multiplicity must be a positive integer, got {multiplicity!r}")
        return direct_sum(*(_terms(self) * multiplicity))

    def __pow__(self, power: int) -> Rep:
        return tensor_product(*(_factors(self) * power))


class Atom(Rep):
    """An indivisible representation with its own generator matrices."""

    def monomials(self, group: MatrixGroup) -> list[Monomial]:
        return [Monomial((self,), np.arange(self.dim(group)))]


@dataclass(frozen=True)
class Scalar(Atom):
    """The trivial representation."""

    def __str__(self) -> str:
        return "scalar"

    def dim(self, group: MatrixGroup) -> int:
        return 1

    def dual(self) -> Rep:
        return self

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return np.ones((1, 1))

    def lie(self, group: MatrixGroup) -> np.ndarray:
        return np.zeros((group.lie.shape[0], 1, 1))

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        return np.ones((group.discrete.shape[0], 1, 1))

    def monomials(self, group: MatrixGroup) -> list[Monomial]:
        return [Monomial((), np.zeros(1, dtype=np.int64))]


class _Defining(Atom):
    """`V` and its dual `V*`: both as wide as the group's matrices, each the other's dual."""

    symbol: ClassVar[str]

    def __str__(self) -> str:
        return self.symbol

    def dim(self, group: MatrixGroup) -> int:
        return group.dim

    def dual(self) -> Rep:
        return Covector() if isinstance(self, Vector) else Vector()


@dataclass(frozen=True)
class Vector(_Defining):
    """The defining representation (contravariant)."""

    symbol = "V"

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return g

    def lie(self, group: MatrixGroup) -> np.ndarray:
        return group.lie

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        return group.discrete


@dataclass(frozen=True)
class Covector(_Defining):
    """The dual of the defining representation: rho(g) = g^{-T}, d rho(A) = -A^T."""

    symbol = "V*"

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return np.linalg.inv(g).T

    def lie(self, group: MatrixGroup) -> np.ndarray:
        return -np.swapaxes(group.lie, 1, 2)

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        return np.swapaxes(np.linalg.inv(group.discrete), 1, 2)


@dataclass(frozen=True)
class Regular(Atom):
    """The regular representation of a finite group: it permutes the group's elements."""

    def __str__(self) -> str:
        return "regular"

    def dim(self, group: MatrixGroup) -> int:
        return len(_finite(group).elements)

    def dual(self) -> Rep:
        return self  # permutation matrices are orthogonal

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return _finite(group).regular_matrix(g)

    def lie(self, group: MatrixGroup) -> np.ndarray:
        size = self.dim(group)
        return np.zeros((0, size, size))

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        return np.stack([group.regular_matrix(h) for h in _finite(group).discrete])


@dataclass(frozen=True)
class Multivector(Atom):
    """The exterior algebra of `V` on the blades of :mod:`geoc.clifford` (grade by grade): g
    acts by its outermorphism, block-diagonal Λ^k g, whatever the metric (docs/clifford.md).
    ``dual``: the dual representation, ρ(g)^-T (the same under an orthogonal group)."""

    dual_: bool = False

    def __str__(self) -> str:
        return "Λ(V)*" if self.dual_ else "Λ(V)"

    def dim(self, group: MatrixGroup) -> int:
        return 2**group.dim

    def dual(self) -> Rep:
        return Multivector(not self.dual_)

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        out = clifford.outermorphism(g)
        return np.linalg.inv(out).T if self.dual_ else out

    def lie(self, group: MatrixGroup) -> np.ndarray:
        size = self.dim(group)
        mats = [clifford.derivation(a) for a in group.lie]
        return np.stack([-m.T if self.dual_ else m for m in mats]) if mats else _empty(size)

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        mats = [self.matrix(group, h) for h in group.discrete]
        return np.stack(mats) if mats else _empty(self.dim(group))


def _empty(size: int) -> np.ndarray:
    return np.zeros((0, size, size))


def _finite(group: MatrixGroup) -> MatrixGroup:
    if not group.is_finite:
        raise SolverError(f"`regular` needs a finite group, but {group.name} is a Lie group")
    return group


@dataclass(frozen=True)
class Sum(Rep):
    """A direct sum: the coordinates of each term in turn."""

    terms: tuple[Rep, ...]

    def __str__(self) -> str:
        return " + ".join(str(t) for t in self.terms)

    def dim(self, group: MatrixGroup) -> int:
        return sum(t.dim(group) for t in self.terms)

    def dual(self) -> Rep:
        return direct_sum(*(t.dual() for t in self.terms))

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return block_diag([t.matrix(group, g) for t in self.terms])

    def lie(self, group: MatrixGroup) -> np.ndarray:
        return _per_generator(self.dim(group), [t.lie(group) for t in self.terms], block_diag)

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        parts = [t.discrete(group) for t in self.terms]
        return _per_generator(self.dim(group), parts, block_diag)

    def monomials(self, group: MatrixGroup) -> list[Monomial]:
        out, offset = [], 0
        for term in self.terms:
            out += [Monomial(m.atoms, m.index + offset) for m in term.monomials(group)]
            offset += term.dim(group)
        return out


@dataclass(frozen=True)
class Tensor(Rep):
    """A tensor product, flattened row-major (the last factor's index varies fastest)."""

    factors: tuple[Rep, ...]

    def __str__(self) -> str:
        return "⊗".join(f"({f})" if isinstance(f, Sum) else str(f) for f in self.factors)

    def dim(self, group: MatrixGroup) -> int:
        return int(np.prod([f.dim(group) for f in self.factors]))

    def dual(self) -> Rep:
        return tensor_product(*(f.dual() for f in self.factors))

    def matrix(self, group: MatrixGroup, g: np.ndarray) -> np.ndarray:
        return reduce(np.kron, [f.matrix(group, g) for f in self.factors], np.ones((1, 1)))

    def lie(self, group: MatrixGroup) -> np.ndarray:
        """The Kronecker sum A (x) I + I (x) A of the factors' actions."""
        parts = [f.lie(group) for f in self.factors]
        return _per_generator(self.dim(group), parts, lambda mats: reduce(_kron_sum, mats))

    def discrete(self, group: MatrixGroup) -> np.ndarray:
        parts = [f.discrete(group) for f in self.factors]
        return _per_generator(self.dim(group), parts, lambda mats: reduce(np.kron, mats))

    def monomials(self, group: MatrixGroup) -> list[Monomial]:
        out = [Monomial((), np.zeros(1, dtype=np.int64))]
        for factor in self.factors:
            size = factor.dim(group)
            out = [
                Monomial(a.atoms + b.atoms, (a.index[:, None] * size + b.index).ravel())
                for a, b in itertools.product(out, factor.monomials(group))
            ]
        return out


def direct_sum(*terms: Rep) -> Rep:
    """The direct sum of the terms (one term: itself)."""
    return terms[0] if len(terms) == 1 else Sum(terms)


def tensor_product(*factors: Rep) -> Rep:
    """The tensor product of the factors (none: `scalar`; one: itself)."""
    if not factors:
        return scalar
    return factors[0] if len(factors) == 1 else Tensor(factors)


def _terms(rep: Rep) -> tuple[Rep, ...]:
    return rep.terms if isinstance(rep, Sum) else (rep,)


def _factors(rep: Rep) -> tuple[Rep, ...]:
    return rep.factors if isinstance(rep, Tensor) else (rep,)


def _per_generator(
    dim: int, parts: list[np.ndarray], combine: Callable[[list[np.ndarray]], np.ndarray]
) -> np.ndarray:
    """Combine the parts' matrices generator by generator into [count, dim, dim]."""
    count = parts[0].shape[0]
    if count == 0:
        return np.zeros((0, dim, dim))
    return np.stack([combine([p[i] for p in parts]) for i in range(count)])


def _kron_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.kron(a, np.eye(len(b))) + np.kron(np.eye(len(a)), b)


def block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    """The block-diagonal matrix of ``blocks`` (each may be rectangular), in order."""
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols))
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


scalar = Scalar()
V = Vector()
regular = Regular()


def T(k: int) -> Rep:
    """The k-th tensor power of the defining representation, flattened row-major."""
    if not isinstance(k, int) or k < 0:
        raise SolverError(f"tensor order must be a non-negative integer, got {k!r}")
    return V**k
