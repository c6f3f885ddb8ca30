"""The factors of a :class:`~geoc.groups.Group`; each answers for itself.

A factor acting on channels (:class:`Geometric`, :class:`MatrixFactor`, or
:data:`NO_CHANNEL_ACTION` when there is none) says how each atom splits into irreps, checks which
atoms it acts on, and gives the matrix of an element on an atom. Every factor samples its own part
of a random :class:`~geoc.groups.elements.GroupElement`. A new kind of factor is one class here.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from geoc import clifford, solver
from geoc.groups.elements import GroupElement, random_rotation, sample_matrix
from geoc.groups.manifold import MANIFOLD_BLOCKS, MANIFOLD_DIMS, manifold_matrix
from geoc.o3 import irrep_matrix
from geoc.types import Atom, AtomKind

if TYPE_CHECKING:
    from geoc.groups.group import Group

Blocks = tuple[tuple[str, int], ...]
#: `.geo` names of the solver's groups (an integer argument); `S(axis)` permutes an axis instead.
MATRIX_GROUPS = ("Lorentz", "Sp", "C", "D", "S", "A")
PERMUTING_GROUPS = frozenset({"S", "A"})
#: Atoms whose action the solver defines (the channel group's representations).
SOLVER_ATOMS = frozenset({AtomKind.TENSOR, AtomKind.REGULAR})
#: Atoms every element leaves alone: scalars, and integer labels (classes, not coordinates).
FIXED_ATOMS = frozenset({AtomKind.SCALAR, AtomKind.INDEX})
MATRIX_ATOMS = frozenset({*FIXED_ATOMS, AtomKind.VECTOR, *SOLVER_ATOMS})
# Group.sample draws the factors' parts in this order (geometric, axis permutations, matrix),
# whatever order the spec writes them in, so a seed gives the elements it always gave.
_GEOMETRIC_PHASE, _PERMUTATION_PHASE, _MATRIX_PHASE = range(3)


class Rotations(str, enum.Enum):
    NONE = "none"
    SO = "SO"  # proper rotations only
    O = "O"  # noqa: E741 - rotations and reflections


class UnsupportedAtom(ValueError):
    """An atom the model's group cannot act on (GEO330); ``help`` says what to write."""

    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.help = help


@functools.cache
def _solver_group(family: str, n: int) -> solver.MatrixGroup:
    """One solver group per (family, n): its element table (regular) is built once."""
    return getattr(solver, family)(n)


def _trivial_blocks(dim: int) -> Blocks:
    return (("0e", 1),) * dim


def _solver_blocks(atom: Atom, dim: int) -> Blocks:
    """One block per atom, keyed by the atom: `linear` solves for the maps between them."""
    return (("0e", 1),) if atom.kind in FIXED_ATOMS else ((str(atom), dim),)


def _solver_matrix(
    group: Group, atom: Atom, g: np.ndarray | None, channels: solver.MatrixGroup | None
) -> np.ndarray:
    """rho(g) of the channel group's representations (docs/solver.md conventions)."""
    dim = group.atom_dim(atom)
    if g is None or atom.kind in FIXED_ATOMS:
        return np.eye(dim)
    if atom.factors:  # tensor(a, b, ...): the Kronecker product, row-major
        return functools.reduce(
            np.kron, [_solver_matrix(group, f, g, channels) for f in atom.factors]
        )
    if atom.kind is AtomKind.REGULAR:
        assert channels is not None  # atom_dim checked it
        return channels.regular_matrix(g)
    power = atom.args[0] if atom.kind is AtomKind.TENSOR else 1
    return functools.reduce(np.kron, [g] * power)


def regular_dim(group: Group) -> int:
    """The size of a finite channel group (the dimension of `regular`)."""
    channels = group.channel_group
    if channels is None or not channels.is_finite:
        where = f"{channels} is a Lie group" if channels else f"{group} has no finite channel group"
        raise UnsupportedAtom(
            f"`regular` needs a finite group, but {where}",
            help="declare a finite group such as `C(4)`, `D(4)` or `S(5)`",
        )
    try:
        return len(channels.elements)
    except solver.SolverError as err:
        raise UnsupportedAtom(
            f"`regular` of {channels}: {err}", help="use `vector` or `tensor(k)` instead"
        ) from None


#: The irrep keys of one-dimensional characters, and the sign each multiplies by under a
#: reflection: trivial (with or without reflections in the group), or the determinant.
CHARACTERS = {"0e": 1, "0": 1, "0o": -1}


def _is_signed_permutation(matrix: np.ndarray) -> bool:
    """One entry ±1 in every row and column, zeros elsewhere (to rounding)."""
    size = np.abs(matrix)
    units = np.isclose(size, 1.0, atol=1e-9)
    zeros = np.isclose(size, 0.0, atol=1e-9)
    return bool((units | zeros).all() and (units.sum(0) == 1).all() and (units.sum(1) == 1).all())


# How a rotation acts on an atom outside the solver's, given the sign reflections give it.
_ROTATION_ACTIONS: dict[AtomKind, Callable[[Atom, np.ndarray, float], np.ndarray]] = {
    AtomKind.SCALAR: lambda atom, rot, sign: np.eye(1),
    AtomKind.INDEX: lambda atom, rot, sign: np.eye(1),
    AtomKind.PSEUDOSCALAR: lambda atom, rot, sign: np.eye(1) * sign,
    AtomKind.VECTOR: lambda atom, rot, sign: rot,
    AtomKind.POINT: lambda atom, rot, sign: rot,
    AtomKind.PSEUDOVECTOR: lambda atom, rot, sign: rot * sign,
    **{kind: lambda atom, rot, sign: manifold_matrix(atom, rot) for kind in MANIFOLD_DIMS},
    # The outermorphism: its top grade already carries det(rot) (docs/clifford.md).
    AtomKind.MULTIVECTOR: lambda atom, rot, sign: clifford.outermorphism(rot),
}


#: Atoms that rotate (and reflect) as vectors of R^n: degree 1, odd parity times their sign.
_VECTOR_LIKE = frozenset({AtomKind.VECTOR, AtomKind.POINT, AtomKind.PSEUDOVECTOR})


class _ActsByRotation:
    """The channel action of rotations of R^n: a geometric factor, or none at all (then every
    component is its own trivial irrep; an element given a rotation still moves vectors)."""

    rotations: Rotations

    @property
    def solver_group(self) -> solver.MatrixGroup | None:
        return None

    def check_atom(self, atom: Atom) -> None:
        """Rotations act on every atom (whether its dimension fits is the caller's check)."""

    def permutes_atom(self, atom: Atom) -> bool:
        return False

    def signed_permutes_atom(self, group: Group, atom: Atom) -> bool:
        """Every component its own character (+1, or the sign of reflections): pseudoscalars,
        vectors of O(1)."""
        return all(dim == 1 and key in CHARACTERS for key, dim in group.irreps(atom))

    def keeps_norm(self, atom: Atom) -> bool:
        return True

    def irreps(self, group: Group, atom: Atom, dim: int) -> Blocks:
        rot = self.rotations
        if rot is Rotations.NONE:
            return _trivial_blocks(dim)
        if atom.kind in SOLVER_ATOMS:
            return _solver_blocks(atom, dim)
        if atom.kind in MANIFOLD_BLOCKS:
            return MANIFOLD_BLOCKS[atom.kind](group, atom)
        if atom.kind is AtomKind.MULTIVECTOR:  # its own block: grades are not e3nn's bases
            return ((str(atom), dim),)
        if atom.kind is AtomKind.IRREP:
            return ((str(atom) if rot is Rotations.O else f"{atom.args[0]}", dim),)
        # A vector of R^n is degree 1 with odd parity; on R^1 it is the sign representation of
        # O(1) (degree 0, odd) and trivial under SO(1), and a pseudovector there is invariant.
        vector_like = atom.kind in _VECTOR_LIKE
        degree = 1 if vector_like and dim > 1 else 0
        if rot is Rotations.SO:
            return ((str(degree), dim),)
        parity = atom.sign * (-1 if vector_like else 1)
        return ((f"{degree}{'e' if parity == 1 else 'o'}", dim),)

    def atom_matrix(self, group: Group, atom: Atom, element: GroupElement, dim: int) -> np.ndarray:
        if atom.kind in SOLVER_ATOMS:
            return _solver_matrix(group, atom, element.rotation, self.solver_group)
        rot = element.rotation
        if rot is None:
            return np.eye(dim)
        sign = element.det if self.rotations is Rotations.O else 1.0
        action = _ROTATION_ACTIONS.get(atom.kind)
        return action(atom, rot, sign) if action else self._irrep_matrix(atom, rot)

    def _irrep_matrix(self, atom: Atom, rot: np.ndarray) -> np.ndarray:
        """O(3) irreps (Wigner D with parity); without reflections in the group the parity is
        dropped, as for pseudovectors: ``lp`` acts as ``l`` with its natural parity."""
        if rot.shape != (3, 3):
            raise ValueError(f"`{atom}` is an O(3) irrep; it needs a group acting on R^3")
        (degree,) = atom.args
        parity = atom.parity if self.rotations is Rotations.O else (-1) ** degree
        return irrep_matrix(degree, parity, rot)


class _NoChannelAction(_ActsByRotation):
    rotations = Rotations.NONE


#: The channel action of a group without a geometric or matrix factor.
NO_CHANNEL_ACTION = _NoChannelAction()


@dataclass(frozen=True, slots=True)
class Geometric(_ActsByRotation):
    """Rotations (maybe with reflections) and maybe translations of R^n."""

    SAMPLE_PHASE: ClassVar[int] = _GEOMETRIC_PHASE
    n: int
    rotations: Rotations
    translations: bool
    #: Translations by multiples of ``step`` grid points only (``T(d, step=k)`` on a torus:
    #: the shifts a restriction by ``k`` commutes with); 1 for every translation.
    step: int = 1

    def __str__(self) -> str:
        name = _GEOMETRIC_NAMES[(self.rotations, self.translations)]
        return f"{name}({self.n}" + (f", step={self.step})" if self.step > 1 else ")")

    def check_atom(self, atom: Atom) -> None:
        """Rotations of R^n act on multivectors of Cl(n, 0) only, and on O(3) irreps only when
        n = 3 (translations act on neither): an irrep's Wigner matrices need a rotation of R^3,
        and its Schur key (``1o``) must not meet another dimension's ``vector``."""
        rotated = self.rotations is not Rotations.NONE
        if atom.kind is AtomKind.IRREP and rotated and self.n != 3:
            raise UnsupportedAtom(
                f"`{atom}` is an irrep of O(3), but {self} rotates R^{self.n}",
                help=f"use `vector`, `tensor(k)` or `scalar` under {self}, or declare a group "
                "of R^3 (`O(3)`, `SO(3)`, `E(3)`, `SE(3)`)",
            )
        if atom.kind is AtomKind.MULTIVECTOR and rotated and atom.args != (self.n, 0):
            raise UnsupportedAtom(
                f"{self} rotates R^{self.n}, whose algebra is Cl({self.n}, 0), not `{atom}`",
                help=f"write `multivector({self.n}, 0)`, or declare `O{atom.args}`",
            )

    @property
    def solver_group(self) -> solver.MatrixGroup | None:
        """O(n) or SO(n) (translations do not act on tensors)."""
        if self.rotations is Rotations.NONE:
            return None
        return _solver_group(self.rotations.value, self.n)

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> dict[str, Any]:
        """A Haar rotation (a reflection for O(n) half of the time), a Gaussian translation."""
        out: dict[str, Any] = {}
        if self.rotations is not Rotations.NONE:
            reflect = self.rotations is Rotations.O and rng.random() < 0.5
            out["rotation"] = random_rotation(rng, self.n, reflect=reflect)
        if self.translations:
            out["translation"] = rng.normal(size=self.n) * 3.0
        return out


@dataclass(frozen=True, slots=True)
class Permutation:
    """Permutations of one index axis (``S(nodes)``); they do not act on channels."""

    SAMPLE_PHASE: ClassVar[int] = _PERMUTATION_PHASE
    axis: str

    def __str__(self) -> str:
        return f"S({self.axis})"

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> dict[str, Any]:
        """A uniform permutation of the axis, when the inputs have it."""
        if self.axis not in axis_sizes:
            return {}
        return {"permutations": {self.axis: rng.permutation(axis_sizes[self.axis])}}


@dataclass(frozen=True, slots=True)
class MatrixFactor:
    """A matrix group of :mod:`geoc.solver` acting on channels: ``Lorentz(3)``, ``S(5)``, ...

    ``vector`` is its defining representation (``Lorentz(n)`` on R^(1+n), time first;
    ``Sp(n)`` on R^2n; ``C(n)``, ``D(n)`` on R^2; ``S(n)``, ``A(n)`` permuting R^n).
    """

    SAMPLE_PHASE: ClassVar[int] = _MATRIX_PHASE
    family: str  # a name of MATRIX_GROUPS
    n: int

    def __str__(self) -> str:
        return f"{self.family}({self.n})"

    @property
    def solver(self) -> solver.MatrixGroup:
        return _solver_group(self.family, self.n)

    @property
    def solver_group(self) -> solver.MatrixGroup:
        return self.solver

    @property
    def permutes(self) -> bool:
        """Whether ``vector`` (hence ``tensor(k)``) moves by permutation matrices."""
        return self.family in PERMUTING_GROUPS

    def check_atom(self, atom: Atom) -> None:
        if atom.kind not in MATRIX_ATOMS:
            raise UnsupportedAtom(
                f"{self} acts on `scalar`, `vector`, `tensor(k)` and `regular` (and leaves "
                f"`index(n)` labels alone), not on `{atom}`",
                help="write the features as vectors or tensors of the group",
            )

    def permutes_atom(self, atom: Atom) -> bool:
        """Whether the atom's coordinates move by permutation matrices (``regular``, and
        ``vector`` and ``tensor(k)`` of S(n) and A(n)): pointwise maps commute with it."""
        if atom.kind not in MATRIX_ATOMS:
            return False
        if atom.factors:  # a product of permutation matrices is one
            return all(self.permutes_atom(f) for f in atom.factors)
        if atom.kind in (AtomKind.VECTOR, AtomKind.TENSOR):
            return self.permutes
        return True  # scalars stay, `regular` permutes the group's elements

    def signed_permutes_atom(self, group: Group, atom: Atom) -> bool:
        """Whether the atom's coordinates move by signed permutation matrices (permutations,
        and `vector` of C(4) or D(4): quarter turns and axis flips). Checking the generators
        suffices: products of signed permutations are signed permutations."""
        if self.permutes_atom(atom):
            return True
        channels = self.solver
        if not channels.is_finite or atom.kind not in MATRIX_ATOMS:
            return False
        return all(
            _is_signed_permutation(_solver_matrix(group, atom, g, channels))
            for g in channels.discrete
        )

    @property
    def invariant_form(self) -> np.ndarray | None:
        """The form `vector` keeps when it is not the identity (`mdot`): η of Lorentz(n), J
        of Sp(n); None for the orthogonal and permutation groups."""
        forms = {"Lorentz": solver.minkowski_metric, "Sp": solver.symplectic_form}
        return forms[self.family](self.n) if self.family in forms else None

    def keeps_norm(self, atom: Atom) -> bool:
        """Not for vectors and tensors of Lorentz(n) or Sp(n), whose invariant forms are η, J."""
        moved = atom.kind in (AtomKind.VECTOR, AtomKind.TENSOR)
        return not (moved and not self.solver.orthogonal)

    def irreps(self, group: Group, atom: Atom, dim: int) -> Blocks:
        return _solver_blocks(atom, dim)

    def atom_matrix(self, group: Group, atom: Atom, element: GroupElement, dim: int) -> np.ndarray:
        return _solver_matrix(group, atom, element.matrix, self.solver)

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> dict[str, Any]:
        matrix, kind = sample_matrix(self, rng)
        return {"matrix": matrix, "matrix_kind": kind}

    def for_trial(
        self, element: GroupElement, rng: np.random.Generator, trial: int
    ) -> GroupElement:
        """The element `geoc check` uses in trial ``trial`` (a group with several components
        draws from each in turn); the sampled one here."""
        return element


Factor = Geometric | Permutation | MatrixFactor
ChannelAction = Geometric | MatrixFactor | _NoChannelAction

_GEOMETRIC_NAMES = {
    (Rotations.O, False): "O",
    (Rotations.SO, False): "SO",
    (Rotations.O, True): "E",
    (Rotations.SO, True): "SE",
    (Rotations.NONE, True): "T",
}
GEOMETRIC_GROUPS = {name: key for key, name in _GEOMETRIC_NAMES.items()}
