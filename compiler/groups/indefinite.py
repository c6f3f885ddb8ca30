"""The indefinite orthogonal groups ``O(p, q)``, ``SO(p, q)``, ``SO+(p, q)`` as a channel factor.

They act on R^(p, q) (the first p coordinates square to +1, the last q to -1: ``vector``,
``tensor(k)``) and on ``multivector(p, q)`` by the outermorphism (docs/clifford.md). Their
elements are sampled per component of the group: boosts of rapidity up to 2 between a random
+1 and a random -1 direction, rotations within each sign block, and for O(p, q) a reflection in
a space-like or a time-like direction (or both), cycling through the components trial by trial
so that every `geoc check` meets each of them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geoc import clifford, solver
from geoc.groups.elements import GroupElement, random_rotation
from geoc.groups.factors import MATRIX_ATOMS, MatrixFactor, UnsupportedAtom
from geoc.types import Atom, AtomKind

if TYPE_CHECKING:
    from geoc.groups.group import Group

#: The `.geo` name of each family and the solver's family.
INDEFINITE_GROUPS = {
    "O": solver.Family.O_PQ,
    "SO": solver.Family.SO_PQ,
    "SO+": solver.Family.SO_PLUS,
}
#: The largest rapidity a sampled boost has (cosh 2 ≈ 3.8: grade-k entries stay below 3.8^k).
MAX_RAPIDITY = 2.0


@functools.cache
def _solver_group(family: str, p: int, q: int) -> solver.MatrixGroup:
    return solver.indefinite_orthogonal(p, q, INDEFINITE_GROUPS[family])


@dataclass(frozen=True, slots=True)
class IndefiniteFactor(MatrixFactor):
    """``O(p, q)`` (``family`` "O"), ``SO(p, q)`` ("SO") or ``SO+(p, q)`` ("SO+"); ``n`` is p."""

    q: int = 0

    def __str__(self) -> str:
        return f"{self.family}({self.n}, {self.q})"

    @property
    def solver(self) -> solver.MatrixGroup:
        return _solver_group(self.family, self.n, self.q)

    @property
    def signature(self) -> tuple[int, int]:
        return self.n, self.q

    def check_atom(self, atom: Atom) -> None:
        if atom.kind is AtomKind.MULTIVECTOR and atom.args != self.signature:
            raise UnsupportedAtom(
                f"{self} acts on multivectors of Cl{self.signature}, not on `{atom}`",
                help=f"write `multivector({self.n}, {self.q})`, or declare the group of "
                f"`{atom}`: `O{atom.args}`",
            )
        if atom.kind is not AtomKind.MULTIVECTOR and atom.kind not in MATRIX_ATOMS:
            raise UnsupportedAtom(
                f"{self} acts on `scalar`, `vector`, `tensor(k)` and "
                f"`multivector({self.n}, {self.q})`, not on `{atom}`",
                help="write the features as vectors, tensors or multivectors of the group",
            )

    @property
    def invariant_form(self) -> np.ndarray | None:
        """η = diag(+1 (p times), -1 (q times)), the form `mdot` takes."""
        return solver.indefinite_metric(self.n, self.q)

    def keeps_norm(self, atom: Atom) -> bool:
        """Only where the metric is definite (q = 0 or p = 0): boosts change |x|."""
        moved = atom.kind in (AtomKind.VECTOR, AtomKind.TENSOR, AtomKind.MULTIVECTOR)
        return not (moved and not self.solver.orthogonal)

    def atom_matrix(self, group: Group, atom: Atom, element: GroupElement, dim: int) -> np.ndarray:
        if atom.kind is AtomKind.MULTIVECTOR:
            g = element.matrix
            return np.eye(dim) if g is None else clifford.outermorphism(g)
        return MatrixFactor.atom_matrix(self, group, atom, element, dim)

    @property
    def components(self) -> tuple[tuple[bool, bool], ...]:
        """The connected components as (reflect a +1 direction, reflect a -1 direction); the
        first three of O(p, q) generate it, so three trials already cover the group."""
        both = self.n > 0 and self.q > 0
        reflections = {
            "O": [(True, False)] * (self.n > 0)
            + [(False, True)] * (self.q > 0)
            + [(True, True)] * both,
            "SO": [(True, True)] * both,
            "SO+": [],
        }[self.family]
        return ((False, False), *reflections)

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> dict[str, Any]:
        component = self.components[rng.integers(len(self.components))]
        return _element_parts(self.n, self.q, component, rng)

    def for_trial(
        self, element: GroupElement, rng: np.random.Generator, trial: int
    ) -> GroupElement:
        """Trial t draws from component t mod (their number): each check meets every one."""
        component = self.components[trial % len(self.components)]
        return dataclasses.replace(element, **_element_parts(self.n, self.q, component, rng))


def _element_parts(
    p: int, q: int, component: tuple[bool, bool], rng: np.random.Generator
) -> dict[str, Any]:
    """reflections · boost · rotations: an element of the component, and what it is."""
    d = p + q
    rotations = np.eye(d)
    if p:
        rotations[:p, :p] = random_rotation(rng, p, reflect=False)
    if q:
        rotations[p:, p:] = random_rotation(rng, q, reflect=False)
    g, kind = rotations, ["rotation"]
    if p and q:
        u, w = _unit_in(rng, d, 0, p), _unit_in(rng, d, p, d)
        rapidity = rng.uniform(0.5, MAX_RAPIDITY)
        boost = np.eye(d) + (np.cosh(rapidity) - 1.0) * (np.outer(u, u) + np.outer(w, w))
        boost += np.sinh(rapidity) * (np.outer(u, w) + np.outer(w, u))
        g, kind = boost @ g, ["boost", *kind]
    for reflect, (lo, hi), sign in zip(component, ((0, p), (p, d)), "+-", strict=True):
        if reflect:  # x -> x - 2 <x, v> / <v, v> v for a unit v of one sign block is I - 2 v vᵀ
            v = _unit_in(rng, d, lo, hi)
            g = (np.eye(d) - 2.0 * np.outer(v, v)) @ g
            kind.append(f"reflection in a {sign}1 direction")
    return {"matrix": g, "matrix_kind": "+".join(kind)}


def _unit_in(rng: np.random.Generator, d: int, lo: int, hi: int) -> np.ndarray:
    """A random unit vector of R^d supported on coordinates lo..hi-1."""
    out = np.zeros(d)
    out[lo:hi] = rng.normal(size=hi - lo)
    return out / np.linalg.norm(out)
