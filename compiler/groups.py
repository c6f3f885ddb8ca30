"""Symmetry groups: factors, sampling, and how each atom transforms.

A :class:`Group` is a product of factors: at most one factor acting on channels, either
*geometric* (``O(n)``, ``SO(n)``, ``E(n)``, ``SE(n)``, ``T(n)``) or a *matrix group* of the
equivariant-basis solver (``Lorentz(n)``, ``Sp(n)``, ``C(n)``, ``D(n)``, ``S(n)``, ``A(n)`` with
an integer n; docs/solver.md), and any number of permutation factors ``S(axis)`` acting on index
axes. Everything here is numpy and float64; the backend turns the matrices into tensors.

    >>> g = Group.parse("E(3) x S(nodes)")
    >>> str(g), g.space_dim, g.permuted_axes
    ('E(3) x S(nodes)', 3, ('nodes',))
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoc import solver
from geoc.diagnostics import Diagnostic, GeoError
from geoc.elaborate.constants import evaluate
from geoc.grammar import ast
from geoc.o3 import irrep_matrix
from geoc.types import Atom, AtomKind, FeatureType


class Rotations(str, enum.Enum):
    NONE = "none"
    SO = "SO"  # proper rotations only
    O = "O"  # noqa: E741 - rotations and reflections


@dataclass(frozen=True, slots=True)
class Geometric:
    """Rotations (maybe with reflections) and maybe translations of R^n."""

    n: int
    rotations: Rotations
    translations: bool

    def __str__(self) -> str:
        return _GEOMETRIC_NAMES[(self.rotations, self.translations)] + f"({self.n})"


@dataclass(frozen=True, slots=True)
class Permutation:
    """Permutations of one index axis (``S(nodes)``)."""

    axis: str

    def __str__(self) -> str:
        return f"S({self.axis})"


@dataclass(frozen=True, slots=True)
class MatrixFactor:
    """A matrix group of :mod:`geoc.solver` acting on channels: ``Lorentz(3)``, ``S(5)``, ...

    ``vector`` is its defining representation (``Lorentz(n)`` on R^(1+n), time first;
    ``Sp(n)`` on R^2n; ``C(n)``, ``D(n)`` on R^2; ``S(n)``, ``A(n)`` permuting R^n).
    """

    family: str  # a name of MATRIX_GROUPS
    n: int

    def __str__(self) -> str:
        return f"{self.family}({self.n})"

    @property
    def solver(self) -> solver.MatrixGroup:
        return _solver_group(self.family, self.n)

    @property
    def permutes(self) -> bool:
        """Whether ``vector`` (hence ``tensor(k)``) moves by permutation matrices."""
        return self.family in PERMUTING_GROUPS


Factor = Geometric | Permutation | MatrixFactor
#: `.geo` names of the solver's groups (an integer argument); `S(axis)` permutes an axis instead.
MATRIX_GROUPS = ("Lorentz", "Sp", "C", "D", "S", "A")
PERMUTING_GROUPS = frozenset({"S", "A"})
#: Atoms whose action the solver defines (the channel group's representations).
SOLVER_ATOMS = frozenset({AtomKind.TENSOR, AtomKind.REGULAR})
MATRIX_ATOMS = frozenset({AtomKind.SCALAR, AtomKind.VECTOR, *SOLVER_ATOMS})


@functools.cache
def _solver_group(family: str, n: int) -> solver.MatrixGroup:
    """One solver group per (family, n): its element table (regular) is built once."""
    return getattr(solver, family)(n)


class UnsupportedAtom(ValueError):
    """An atom the model's group cannot act on (GEO330); ``help`` says what to write."""

    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.help = help


_GEOMETRIC_NAMES = {
    (Rotations.O, False): "O",
    (Rotations.SO, False): "SO",
    (Rotations.O, True): "E",
    (Rotations.SO, True): "SE",
    (Rotations.NONE, True): "T",
}
GEOMETRIC_GROUPS = {name: key for key, name in _GEOMETRIC_NAMES.items()}


@dataclass(frozen=True)
class GroupElement:
    """One sampled element: a rotation (or None), a translation (or None), axis permutations."""

    rotation: np.ndarray | None = None
    translation: np.ndarray | None = None
    permutations: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = "identity"
    # How the element moves the points of a grid domain (torus shifts, sphere rotations): a
    # ``geoc.backends.torch_fx.verify_fields.GridMove``; None elsewhere.
    grid_move: Any = None
    # The element of a matrix-group factor (Lorentz(n), S(5), ...), a matrix of its defining
    # representation, and what kind of element it is ("boost+rotation", "reflection", ...).
    matrix: np.ndarray | None = None
    matrix_kind: str = ""

    @property
    def det(self) -> float:
        return 1.0 if self.rotation is None else float(round(np.linalg.det(self.rotation)))


@dataclass(frozen=True, slots=True)
class Group:
    factors: tuple[Factor, ...] = ()
    # The size of `vector` when no factor acts on R^n (e.g. `S(nodes)` on a 3-D point cloud).
    default_dim: int | None = None

    def __str__(self) -> str:
        return " x ".join(str(f) for f in self.factors) if self.factors else "trivial"

    @classmethod
    def parse(cls, text: str) -> Group:
        from geoc.grammar.parser import parse

        module = parse(f"model G() {{ symmetry {text} }}", "<group>")
        return group_from_ast(module.models[0].body[0].factors, {})

    @property
    def geometric(self) -> Geometric | None:
        return next((f for f in self.factors if isinstance(f, Geometric)), None)

    @property
    def matrix(self) -> MatrixFactor | None:
        return next((f for f in self.factors if isinstance(f, MatrixFactor)), None)

    @property
    def channel_group(self) -> solver.MatrixGroup | None:
        """The solver's group acting on channels: a matrix factor, or the O(n) / SO(n) of a
        geometric factor with rotations (translations do not act on tensors)."""
        if self.matrix is not None:
            return self.matrix.solver
        geo = self.geometric
        if geo is None or geo.rotations is Rotations.NONE:
            return None
        return _solver_group(geo.rotations.value, geo.n)

    @property
    def space_dim(self) -> int | None:
        if self.geometric:
            return self.geometric.n
        return self.matrix.solver.dim if self.matrix else self.default_dim

    def with_default_dim(self, dim: int | None) -> Group:
        return Group(self.factors, dim if self.geometric is None else None)

    @property
    def rotations(self) -> Rotations:
        return self.geometric.rotations if self.geometric else Rotations.NONE

    @property
    def translations(self) -> bool:
        return bool(self.geometric and self.geometric.translations)

    @property
    def permuted_axes(self) -> tuple[str, ...]:
        return tuple(f.axis for f in self.factors if isinstance(f, Permutation))

    # --- how atoms transform ---

    def irreps(self, atom: Atom) -> tuple[tuple[str, int], ...]:
        """The atom's components as (irrep key, dimension) blocks under the channel group.

        Equal keys are isomorphic irreps: Schur's lemma allows linear maps only between
        them. Without rotations every component is its own trivial irrep.
        """
        dim = self.atom_dim(atom)
        rot = self.rotations
        if self.matrix is not None or (atom.kind in SOLVER_ATOMS and rot is not Rotations.NONE):
            # One block per atom, keyed by the atom: `linear` solves for the maps between them.
            return (("0e", 1),) if atom.kind is AtomKind.SCALAR else ((str(atom), dim),)
        if rot is Rotations.NONE:
            return (("0e", 1),) * dim
        if atom.kind in _MANIFOLD_BLOCKS:
            return _MANIFOLD_BLOCKS[atom.kind](self, atom)
        if atom.kind is AtomKind.IRREP:
            return ((str(atom) if rot is Rotations.O else f"{atom.args[0]}", dim),)
        degree = 0 if dim == 1 else 1
        if rot is Rotations.SO:
            return ((str(degree), dim),)
        parity = atom.sign * (-1) ** degree
        return ((f"{degree}{'e' if parity == 1 else 'o'}", dim),)

    def is_invariant(self, atom: Atom) -> bool:
        """Whether every group element acts on this atom as the identity."""
        if atom.is_point and self.translations:
            return False
        trivial = {"0e", "0"}
        return all(key in trivial for key, _ in self.irreps(atom))

    def is_sign(self, atom: Atom) -> bool:
        """A one-dimensional atom on which reflections act by -1 (pseudoscalars under O(n))."""
        return self.irreps(atom) == (("0o", 1),)

    def permutes(self, atom: Atom) -> bool:
        """Whether a matrix factor moves this atom's coordinates by permutation matrices (the
        regular representation; `vector` and `tensor(k)` of S(n) and A(n)): pointwise maps
        commute with it."""
        factor = self.matrix
        if factor is None or atom.kind not in MATRIX_ATOMS:
            return False
        if atom.factors:  # a product of permutation matrices is one
            return all(self.permutes(f) for f in atom.factors)
        if atom.kind in (AtomKind.VECTOR, AtomKind.TENSOR):
            return factor.permutes
        return True  # scalars stay, `regular` permutes the group's elements

    def keeps_norm(self, atom: Atom) -> bool:
        """Whether the Euclidean norm of the atom's coordinates is invariant: not for vectors
        and tensors of Lorentz(n) or Sp(n), whose invariant forms are η and J."""
        group = self.channel_group
        moved = atom.kind in (AtomKind.VECTOR, AtomKind.TENSOR)
        return not (
            moved and self.matrix is not None and group is not None and not group.orthogonal
        )

    def atom_dim(self, atom: Atom) -> int:
        if self.matrix is not None and atom.kind not in MATRIX_ATOMS:
            raise UnsupportedAtom(
                f"{self.matrix} acts on `scalar`, `vector`, `tensor(k)` and `regular`, "
                f"not on `{atom}`",
                help="write the features as vectors or tensors of the group",
            )
        if atom.kind is AtomKind.REGULAR:
            return self._order()
        if atom.factors:
            return int(np.prod([self.atom_dim(f) for f in atom.factors]))
        if atom.kind is AtomKind.TENSOR and self.space_dim is not None:
            return self.space_dim ** atom.args[0]
        if atom.kind in (AtomKind.SCALAR, AtomKind.PSEUDOSCALAR):
            return 1
        if atom.kind in MANIFOLD_DIMS:
            return MANIFOLD_DIMS[atom.kind](atom.args[0])
        if atom.kind is AtomKind.IRREP:
            return 2 * atom.args[0] + 1
        if atom.kind is AtomKind.POINT:
            return atom.args[0]
        if self.space_dim is None:
            raise ValueError(f"`{atom}` needs a group acting on R^n")
        return self.space_dim

    def type_dim(self, ftype: FeatureType) -> int:
        return sum(t.mul * self.atom_dim(t.atom) for t in ftype.terms)

    def _order(self) -> int:
        """The size of a finite channel group (the dimension of `regular`)."""
        group = self.channel_group
        if group is None or not group.is_finite:
            where = f"{group} is a Lie group" if group else f"{self} has no finite channel group"
            raise UnsupportedAtom(
                f"`regular` needs a finite group, but {where}",
                help="declare a finite group such as `C(4)`, `D(4)` or `S(5)`",
            )
        try:
            return len(group.elements)
        except solver.SolverError as err:
            raise UnsupportedAtom(
                f"`regular` of {group}: {err}", help="use `vector` or `tensor(k)` instead"
            ) from None

    # --- sampling ---

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> GroupElement:
        """A random element: Haar rotation (a reflection for O(n) half of the time), a
        Gaussian translation, and uniform permutations of the permuted axes."""
        geo = self.geometric
        rotation = translation = None
        if geo is not None and geo.rotations is not Rotations.NONE:
            rotation = random_rotation(
                rng, geo.n, reflect=geo.rotations is Rotations.O and rng.random() < 0.5
            )
        if geo is not None and geo.translations:
            translation = rng.normal(size=geo.n) * 3.0
        perms = {a: rng.permutation(axis_sizes[a]) for a in self.permuted_axes if a in axis_sizes}
        matrix, kind = sample_matrix(self.matrix, rng) if self.matrix else (None, "")
        return GroupElement(
            rotation, translation, perms, label="random", matrix=matrix, matrix_kind=kind
        )

    def atom_matrix(self, atom: Atom, element: GroupElement) -> np.ndarray:
        """The matrix by which ``element`` acts on one copy of ``atom`` (the linear part)."""
        if self.matrix is not None or atom.kind in SOLVER_ATOMS:
            return self._solver_matrix(atom, element)
        dim = self.atom_dim(atom)
        rot = element.rotation
        if rot is None:
            return np.eye(dim)
        det = element.det
        kind = atom.kind
        if kind is AtomKind.SCALAR:
            return np.eye(1)
        if kind is AtomKind.PSEUDOSCALAR:
            return np.eye(1) * (det if self.rotations is Rotations.O else 1.0)
        if kind in (AtomKind.VECTOR, AtomKind.POINT):
            return rot
        if kind is AtomKind.PSEUDOVECTOR:
            return rot * (det if self.rotations is Rotations.O else 1.0)
        if kind in MANIFOLD_DIMS:
            return manifold_matrix(atom, rot)
        return self._irrep_matrix(atom, rot)

    def _solver_matrix(self, atom: Atom, element: GroupElement) -> np.ndarray:
        """rho(g) of the channel group's representations (docs/solver.md conventions)."""
        g = element.matrix if self.matrix is not None else element.rotation
        dim = self.atom_dim(atom)
        if g is None or atom.kind is AtomKind.SCALAR:
            return np.eye(dim)
        if atom.factors:  # tensor(a, b, ...): the Kronecker product, row-major
            return functools.reduce(
                np.kron, [self._solver_matrix(f, element) for f in atom.factors]
            )
        if atom.kind is AtomKind.REGULAR:
            group = self.channel_group
            assert group is not None  # atom_dim checked it
            return group.regular_matrix(g)
        power = atom.args[0] if atom.kind is AtomKind.TENSOR else 1
        return functools.reduce(np.kron, [g] * power)

    def _irrep_matrix(self, atom: Atom, rot: np.ndarray) -> np.ndarray:
        """O(3) irreps (Wigner D with parity); without reflections in the group the parity is
        dropped, as for pseudovectors: ``lp`` acts as ``l`` with its natural parity."""
        if rot.shape != (3, 3):
            raise ValueError(f"`{atom}` is an O(3) irrep; it needs a group acting on R^3")
        (degree,) = atom.args
        parity = atom.parity if self.rotations is Rotations.O else (-1) ** degree
        return irrep_matrix(degree, parity, rot)

    def channel_action(
        self, ftype: FeatureType, element: GroupElement
    ) -> tuple[np.ndarray, np.ndarray]:
        """The affine action on the flattened channels: ``x -> x @ M.T + b``."""
        blocks, shift = [], []
        for term in ftype.terms:
            mat = self.atom_matrix(term.atom, element)
            blocks.extend([mat] * term.mul)
            offset = (
                element.translation
                if (term.atom.is_point and element.translation is not None)
                else np.zeros(len(mat))
            )
            shift.extend([offset] * term.mul)
        if not blocks:
            return np.zeros((0, 0)), np.zeros(0)
        return _block_diag(blocks), np.concatenate(shift)


# ---------------------------------------------------------------------------------------------
# Manifold atoms (docs/manifolds.md). Rotations Q of R^n are isometries of each: the spatial
# part of a Lorentz point, a Poincaré point and a unit vector rotate like a vector; an SPD
# (or symmetric) matrix moves by congruence X -> Q X Qᵀ, i.e. kron(Q, Q) on its row-major
# flattening. The group acts only where n is its space's dimension.

MANIFOLD_DIMS: dict[AtomKind, Callable[[int], int]] = {
    AtomKind.LORENTZ: lambda n: n + 1,
    AtomKind.POINCARE: lambda n: n,
    AtomKind.UNIT: lambda n: n,
    AtomKind.SPD: lambda n: n * n,
    AtomKind.SYM: lambda n: n * n,
}


def manifold_matrix(atom: Atom, rot: np.ndarray) -> np.ndarray:
    """How a rotation moves one copy of a manifold atom (its dimension must match)."""
    n = atom.args[0]
    if rot.shape != (n, n):
        raise ValueError(f"`{atom}` lives on R^{n}; the group rotates R^{len(rot)}")
    if atom.kind is AtomKind.LORENTZ:
        out = np.eye(n + 1)
        out[1:, 1:] = rot
        return out
    if atom.kind in (AtomKind.SPD, AtomKind.SYM):
        return np.kron(rot, rot)
    return rot


def _vector_block(group: Group, atom: Atom) -> tuple[tuple[str, int], ...]:
    if group.space_dim == atom.args[0]:
        return group.irreps(Atom(AtomKind.VECTOR))
    return ((f"{atom.kind.value}{atom.args[0]}", atom.args[0]),)  # no action: never invariant


def _lorentz_blocks(group: Group, atom: Atom) -> tuple[tuple[str, int], ...]:
    return (("0e", 1), *_vector_block(group, atom))


def _matrix_block(group: Group, atom: Atom) -> tuple[tuple[str, int], ...]:
    """Congruence on n x n matrices, one block: Schur maps between copies only."""
    return ((f"{atom.kind.value}{atom.args[0]}", atom.args[0] ** 2),)


_MANIFOLD_BLOCKS: dict[AtomKind, Callable[[Group, Atom], tuple[tuple[str, int], ...]]] = {
    AtomKind.LORENTZ: _lorentz_blocks,
    AtomKind.POINCARE: _vector_block,
    AtomKind.UNIT: _vector_block,
    AtomKind.SPD: _matrix_block,
    AtomKind.SYM: _matrix_block,
}


def sample_matrix(factor: MatrixFactor, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A random element of a matrix factor and its kind. Lorentz: a boost of rapidity 0.3-1.0
    along a random direction times a Haar rotation of space (entries stay below cosh 1, so
    float64 errors stay small); finite groups: a uniform element other than the identity."""
    group = factor.solver
    if factor.family == "Lorentz":
        return _lorentz_element(rng, factor.n), "boost+rotation"
    if factor.family in ("C", "D"):
        others = group.elements[1:] if len(group.elements) > 1 else group.elements
        element = others[rng.integers(len(others))]
        return element, "reflection" if np.linalg.det(element) < 0 else "rotation"
    kind = "channel permutation" if factor.permutes else f"{factor.family}({factor.n}) element"
    return group.sample(rng), kind


def _lorentz_element(rng: np.random.Generator, n: int) -> np.ndarray:
    direction = rng.normal(size=n)
    direction /= np.linalg.norm(direction)
    rapidity = rng.uniform(0.3, 1.0)
    boost = np.eye(n + 1)
    boost[0, 0] = np.cosh(rapidity)
    boost[0, 1:] = boost[1:, 0] = np.sinh(rapidity) * direction
    boost[1:, 1:] += (np.cosh(rapidity) - 1.0) * np.outer(direction, direction)
    rotation = np.eye(n + 1)
    rotation[1:, 1:] = random_rotation(rng, n, reflect=False)
    return boost @ rotation


def random_rotation(rng: np.random.Generator, n: int, reflect: bool) -> np.ndarray:
    """A Haar-random element of SO(n), times a reflection when ``reflect``."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    if reflect:
        q[:, -1] = -q[:, -1]
    return q


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    size = sum(len(b) for b in blocks)
    out = np.zeros((size, size))
    at = 0
    for b in blocks:
        out[at : at + len(b), at : at + len(b)] = b
        at += len(b)
    return out


# ---------------------------------------------------------------------------------------------
# From syntax: `symmetry E(3) x S(nodes)`


def group_from_ast(factors: tuple[ast.Expr, ...], env: dict[str, object]) -> Group:
    parsed = [_factor(f, env) for f in factors]
    out = tuple(f for f in parsed if f is not None)
    geometric = [f for f in out if isinstance(f, Geometric)]
    if len(geometric) > 1:
        raise GeoError(
            Diagnostic(
                "GEO202",
                "a model has at most one geometric group factor",
                factors[-1].span,
                label="second geometric factor",
                help="E(n) already contains O(n) and T(n): write the largest group once",
            )
        )
    channel = [f for f in out if isinstance(f, Geometric | MatrixFactor)]
    if len(channel) > 1 and not _is_wallpaper(channel):
        raise GeoError(
            Diagnostic(
                "GEO202",
                "a model has at most one group acting on channels",
                factors[-1].span,
                label="second channel group",
                help="combine one channel group with permutations of axes, e.g. "
                "`Lorentz(3) x S(particles)`",
            )
        )
    return Group(out)


def _is_wallpaper(factors: list[Factor]) -> bool:
    """``T(2) x C(n)`` / ``T(2) x D(n)``: shifts and rotations of a 2-D grid (docs/gcnn.md); the
    translations do not act on channels, so the rotations are the one channel group."""
    shifts = Geometric(2, Rotations.NONE, True)
    rotations = [f for f in factors if isinstance(f, MatrixFactor) and f.family in ("C", "D")]
    return len(factors) == 2 and shifts in factors and len(rotations) == 1


def _factor(expr: ast.Expr, env: dict[str, object]) -> Factor | None:
    if isinstance(expr, ast.Name) and expr.id == "trivial":
        return None
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.kwargs:
        name, (arg,) = expr.func.id, expr.args
        builder = _FACTOR_BUILDERS.get(name)
        if builder is not None:
            return builder(name, arg, env)
    raise GeoError(_unknown_group(expr))


def _geometric(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    n = evaluate(arg, env)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 64:
        raise GeoError(
            Diagnostic(
                "GEO202",
                f"`{name}(n)` needs a dimension n between 1 and 64",
                arg.span,
                label="not a dimension",
                help=f"e.g. `{name}(3)`",
            )
        )
    rotations, translations = GEOMETRIC_GROUPS[name]
    return Geometric(n, rotations, translations)


def _permutation(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    if _is_int(evaluate(arg, env)):
        return _matrix_group(name, arg, env)  # S(5): permutation matrices on the channels
    if not isinstance(arg, ast.Name):
        raise GeoError(
            Diagnostic(
                "GEO202",
                "`S(...)` permutes a named index axis",
                arg.span,
                label="expected an axis name",
                help="e.g. `S(nodes)` or `S(set)`",
            )
        )
    return Permutation(arg.id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matrix_group(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    """``Lorentz(3)``, ``Sp(2)``, ``C(4)``, ``D(4)``, ``S(5)``, ``A(5)``: a solver group."""
    n = evaluate(arg, env)
    if not _is_int(n) or not 1 <= n <= 64:  # type: ignore[operator]
        raise GeoError(
            Diagnostic(
                "GEO202",
                f"`{name}(n)` needs a size n between 1 and 64",
                arg.span,
                label="not a group size",
                help=f"e.g. `{name}(4)`",
            )
        )
    return MatrixFactor(name, int(n))  # type: ignore[arg-type]


_FACTOR_BUILDERS: dict[str, Callable[[str, ast.Expr, dict[str, object]], Factor]] = {
    **{name: _geometric for name in GEOMETRIC_GROUPS},
    **{name: _matrix_group for name in MATRIX_GROUPS},
    "S": _permutation,
}


def _unknown_group(expr: ast.Expr) -> Diagnostic:
    from geoc.grammar.formatter import format_expr

    return Diagnostic(
        "GEO202",
        f"`{format_expr(expr)}` is not a known group",
        expr.span,
        label="unknown group",
        help="groups: `trivial`, `O(n)`, `SO(n)`, `E(n)`, `SE(n)`, `T(n)`, `Lorentz(n)`, "
        "`Sp(n)`, `C(n)`, `D(n)`, `S(n)`, `A(n)`, `S(axis)`, joined by `x`",
    )
