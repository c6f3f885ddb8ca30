"""Symmetry groups: a :class:`Group` is a product of factors.

At most one factor acts on channels, either *geometric* (``O(n)``, ``SO(n)``, ``E(n)``,
``SE(n)``, ``T(n)``) or a *matrix group* of the equivariant-basis solver (``Lorentz(n)``,
``Sp(n)``, ``C(n)``, ``D(n)``, ``S(n)``, ``A(n)`` with an integer n; docs/solver.md), and any
number of permutation factors ``S(axis)`` act on index axes. The group asks its channel factor
how atoms split into irreps and how elements act on them (``factors.py``), and each factor for
its part of a sampled element. Everything here is numpy and float64; the backend turns the
matrices into tensors. A model that declares a break (`breaks T(3) by x`) is typed under
:meth:`Group.remainder`, the one place that says what remains.

    >>> g = Group.parse("E(3) x S(nodes)")
    >>> str(g), g.space_dim, g.permuted_axes
    ('E(3) x S(nodes)', 3, ('nodes',))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geoc import budget, solver
from geoc.groups.elements import GroupElement
from geoc.groups.factors import (
    CHARACTERS,
    NO_CHANNEL_ACTION,
    ChannelAction,
    Factor,
    Geometric,
    MatrixFactor,
    Permutation,
    Rotations,
    regular_dim,
)
from geoc.groups.manifold import MANIFOLD_DIMS
from geoc.solver.reps import block_diag
from geoc.types import VECTOR, Atom, AtomKind, FeatureType

#: Atoms that are one irrep each in their standard basis (a degree-0 or degree-1 irrep, or an O(3)
#: irrep in e3nn's basis, whose D^1 is the rotation itself): equal irreps mean equal matrices.
_IRREP_ATOMS = frozenset(
    {AtomKind.SCALAR, AtomKind.PSEUDOSCALAR, AtomKind.VECTOR, AtomKind.PSEUDOVECTOR, AtomKind.IRREP}
)
#: A block of :meth:`Group.action_blocks`: an irrep key, or an atom compared as itself.
ActionBlock = tuple[str | Atom, int]


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
        from geoc.groups.from_ast import group_from_ast

        module = parse(f"model G() {{ symmetry {text} }}", "<group>")
        return group_from_ast(module.models[0].body[0].factors, {})

    @property
    def geometric(self) -> Geometric | None:
        return next((f for f in self.factors if isinstance(f, Geometric)), None)

    @property
    def matrix(self) -> MatrixFactor | None:
        return next((f for f in self.factors if isinstance(f, MatrixFactor)), None)

    @property
    def channel_factor(self) -> ChannelAction:
        """The factor acting on channels: a matrix factor (with `T(2)` beside it, the shifts of
        a wallpaper group act on the grid only), else the geometric one, else none."""
        return self.matrix or self.geometric or NO_CHANNEL_ACTION

    @property
    def channel_group(self) -> solver.MatrixGroup | None:
        """The solver's group acting on channels: a matrix factor, or the O(n) / SO(n) of a
        geometric factor with rotations (translations do not act on tensors)."""
        return self.channel_factor.solver_group

    @property
    def space_dim(self) -> int | None:
        if self.geometric:
            return self.geometric.n
        return self.matrix.solver.dim if self.matrix else self.default_dim

    def with_default_dim(self, dim: int | None) -> Group:
        return Group(self.factors, dim if self.geometric is None else None)

    # --- declared symmetry breaking (docs/language.md "Declared symmetry breaking") ---

    def contains(self, part: Geometric) -> bool:
        """Whether ``part`` (a geometric group) is a subgroup of this group's geometric factor:
        the same R^n, no rotations or reflections it lacks, translations only if it has them."""
        geo = self.geometric
        order = {Rotations.NONE: 0, Rotations.SO: 1, Rotations.O: 2}
        return (
            geo is not None
            and part.n == geo.n
            and order[part.rotations] <= order[geo.rotations]
            and (geo.translations or not part.translations)
        )

    def remainder(self, part: Geometric | Permutation, to: Geometric | None = None) -> Group:
        """The subgroup that remains when values break ``part`` (one of :meth:`contains`):
        breaking translations keeps the rotations (E(3) -> O(3), SE(3) -> SO(3)); breaking
        rotations (SO(n) or O(n), with or without translations) keeps none of them (a
        subgroup of O(n) missing SO(n) acts on R^n through no more than ±1, which no factor
        here describes), and the translations unless those are broken too. Permutations and
        every other factor stay; without a geometric factor left, `vector` keeps R^n.

        ``to``: the rotations of R^3 reduced to ``SO(2)``, which only the sphere domain gives a
        meaning (the rotations about its polar axis; the elaborator checks the domain).

        A permutation factor (``S(tokens)``, broken by positions along a sequence) is dropped;
        every other factor stays."""
        if isinstance(part, Permutation):
            if part not in self.factors or to is not None:
                raise ValueError(f"{part} is not a part of {self}")
            return Group(tuple(f for f in self.factors if f != part), self.default_dim)
        geo = self.geometric
        if geo is None or not self.contains(part):
            raise ValueError(f"{part} is not a part of {self}")
        if to is not None:
            if not (to == POLAR and part.rotations is not Rotations.NONE and geo.n == 3):
                raise ValueError(f"{part} of {self} does not reduce to {to}")
            return Group(tuple(POLAR if f is geo else f for f in self.factors))
        rotations = Rotations.NONE if part.rotations is not Rotations.NONE else geo.rotations
        kept = Geometric(
            geo.n, rotations, geo.translations and not part.translations, step=geo.step
        )
        acts = kept.rotations is not Rotations.NONE or kept.translations
        factors = tuple((kept if f is geo else f) for f in self.factors if f is not geo or acts)
        return Group(factors, None if acts else (self.default_dim or geo.n))

    def breaks_help(self, translations: bool = False) -> str:
        """The help line's suggestion for a model that reads absolute coordinates on purpose:
        declare what they break (translations alone, or the whole geometric factor)."""
        geo = self.geometric
        if geo is None:
            return ""
        part = f"T({geo.n})" if translations and geo.translations else str(geo)
        return f"; if the model reads absolute coordinates on purpose: `breaks {part} by <value>`"

    @property
    def rotations(self) -> Rotations:
        return (self.geometric or NO_CHANNEL_ACTION).rotations

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
        return self.channel_factor.irreps(self, atom, self.atom_dim(atom))

    def is_invariant(self, atom: Atom) -> bool:
        """Whether every group element acts on this atom as the identity."""
        if atom.is_point and self.translations:
            return False
        trivial = {"0e", "0"}
        return all(key in trivial for key, _ in self.irreps(atom))

    def is_sign(self, atom: Atom) -> bool:
        """A one-dimensional atom on which reflections act by -1 (pseudoscalars under O(n))."""
        return self.irreps(atom) == (("0o", 1),)

    # --- representation equality: the one rule every typing rule uses ---

    def action_blocks(self, atom: Atom) -> tuple[ActionBlock, ...]:
        """How the group acts on one copy of ``atom``, as blocks equal exactly when the
        matrices are: the irreps of an atom that is one irrep in its standard basis (`scalar`
        is `0e`, `vector` is `1o` under O(3), `pseudovector` is `1e`, a vector of O(1) is its
        sign representation, every component is trivial without rotations; `tensor(1)` is
        `vector`; so is a point of R^n where no translation acts), else the atom itself (a
        point under translations, a manifold atom, `sym(n)`, `tensor(k)`,
        `regular`: their values or bases are their own)."""
        if atom.kind is AtomKind.TENSOR and atom.args == (1,):
            atom = VECTOR
        if atom.is_point and not self.translations and atom.args[0] == self.space_dim:
            atom = VECTOR  # no translation moves it: a point is its vector from the origin
        try:
            if atom.kind in _IRREP_ATOMS:
                return self.irreps(atom)
            return ((atom, self.atom_dim(atom)),)
        except ValueError:  # the group cannot act on it (GEO309, GEO330 say so): only itself
            return ((atom, 0),)

    def character(self, atom: Atom) -> int | None:
        """For a one-channel atom the group only multiplies by a sign: +1 if reflections leave
        it alone (`scalar`, `0e`, a pseudovector of O(1)), -1 if they flip it (`pseudoscalar`,
        `0o`, a vector of O(1)); None for any other atom. Without reflections in the group the
        atom's own sign is kept (a pseudoscalar stays one)."""
        blocks = self.action_blocks(atom)
        if len(blocks) != 1 or blocks[0][1] != 1 or blocks[0][0] not in CHARACTERS:
            return None
        return atom.sign if blocks[0][0] == "0" else CHARACTERS[str(blocks[0][0])]

    def same_atom(self, a: Atom, b: Atom) -> bool:
        """Whether every group element acts on ``a`` and ``b`` by the same matrix."""
        return a == b or self.action_blocks(a) == self.action_blocks(b)

    def same_rep(self, a: FeatureType, b: FeatureType) -> bool:
        """Whether two values' channels transform alike, component by component (the axes are
        the caller's business): ``4 x scalar`` is ``2 x 0e + 2 x scalar``; ``scalar + vector``
        is not ``vector + scalar`` (another layout)."""
        return a.terms == b.terms or self._blocks(a) == self._blocks(b)

    def _blocks(self, ftype: FeatureType) -> list[tuple[int, ActionBlock]]:
        """The blocks of every copy, run-length encoded: O(terms) for atoms of one irrep kind
        (``10**9 x scalar`` is one run); an atom of several distinct blocks repeats per copy."""
        runs: list[tuple[int, ActionBlock]] = []
        for term in ftype.terms:
            blocks = self.action_blocks(term.atom)
            if len(set(blocks)) == 1:
                pieces = [(term.mul * len(blocks), blocks[0])]
            else:
                pieces = [(1, b) for _ in range(term.mul) for b in blocks]
            for count, block in pieces:
                if runs and runs[-1][1] == block:
                    runs[-1] = (runs[-1][0] + count, block)
                else:
                    runs.append((count, block))
        return runs

    def permutes(self, atom: Atom) -> bool:
        """Whether a matrix factor moves this atom's coordinates by permutation matrices (the
        regular representation; `vector` and `tensor(k)` of S(n) and A(n)): pointwise maps
        commute with it."""
        return self.channel_factor.permutes_atom(atom)

    def signed_permutes(self, atom: Atom) -> bool:
        """Whether the group moves the atom's coordinates by signed permutation matrices (sign
        representations, permutations, `vector` of C(4) and D(4)): odd pointwise maps commute
        with it. Not points under translations (a shift is no matrix)."""
        if atom.is_point and self.translations:
            return False
        return self.channel_factor.signed_permutes_atom(self, atom)

    def keeps_norm(self, atom: Atom) -> bool:
        """Whether the Euclidean norm of the atom's coordinates is invariant: not for vectors
        and tensors of Lorentz(n) or Sp(n), whose invariant forms are η and J."""
        return self.channel_factor.keeps_norm(atom)

    def atom_dim(self, atom: Atom) -> int:
        self.channel_factor.check_atom(atom)
        if atom.factors:
            return int(np.prod([self.atom_dim(f) for f in atom.factors]))
        return _ATOM_DIMS.get(atom.kind, _space_dim_of)(self, atom)

    def require_irrep_fits(self, atom: Atom) -> None:
        """BudgetExceeded for an irrep over ``max_dim`` dimensions: maps between irreps are
        dense in them (Clebsch-Gordan blocks, Wigner matrices) and selection rules loop over
        their degrees, so a degree of 10**9 would stall the proof itself."""
        if atom.kind is AtomKind.IRREP:
            budget.require_dim(f"the irrep `{atom}`", self.atom_dim(atom))

    def type_dim(self, ftype: FeatureType) -> int:
        return sum(t.mul * self.atom_dim(t.atom) for t in ftype.terms)

    # --- sampling and actions ---

    def sample(self, rng: np.random.Generator, axis_sizes: dict[str, int]) -> GroupElement:
        """A random element: each factor samples its part (Haar rotation, Gaussian translation,
        uniform permutations of the permuted axes, a matrix-group element)."""
        parts: dict[str, Any] = {"permutations": {}}
        for factor in sorted(self.factors, key=lambda f: f.SAMPLE_PHASE):
            part = factor.sample(rng, axis_sizes)
            parts["permutations"].update(part.pop("permutations", {}))
            parts.update(part)
        return GroupElement(label="random", **parts)

    def atom_matrix(self, atom: Atom, element: GroupElement) -> np.ndarray:
        """The matrix by which ``element`` acts on one copy of ``atom`` (the linear part);
        sized against the resource budget first (``tensor(k)`` is a Kronecker power)."""
        dim = self.atom_dim(atom)
        budget.require_matrix(f"the action of {self} on one `{atom}`", dim, dim)
        return self.channel_factor.atom_matrix(self, atom, element, dim)

    def term_actions(
        self, ftype: FeatureType, element: GroupElement
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Per term: ``(copies, M, b)``, each copy moving by ``x -> x @ M.T + b``: one matrix
        per term, whatever its multiplicity."""
        actions = []
        for term in ftype.terms:
            mat = self.atom_matrix(term.atom, element)
            moves = term.atom.is_point and element.translation is not None
            actions.append((term.mul, mat, element.translation if moves else np.zeros(len(mat))))
        return actions

    def channel_action(
        self, ftype: FeatureType, element: GroupElement
    ) -> tuple[np.ndarray, np.ndarray]:
        """The affine action on the flattened channels as one dense matrix: ``x -> x @ M.T + b``
        (sized against the budget first; :meth:`term_actions` is the compact form)."""
        dim = self.type_dim(ftype)
        budget.require_matrix(f"the action of {self} on `{ftype.with_axes(())}`", dim, dim)
        blocks, shift = [], []
        for count, mat, offset in self.term_actions(ftype, element):
            blocks.extend([mat] * count)
            shift.extend([offset] * count)
        if not blocks:
            return np.zeros((0, 0)), np.zeros(0)
        return block_diag(blocks), np.concatenate(shift)


def _space_dim_of(group: Group, atom: Atom) -> int:
    """The dimension n of R^n that the group acts on, which ``atom`` needs."""
    if group.space_dim is None:
        raise ValueError(f"`{atom}` needs a group acting on R^n")
    return group.space_dim


# The dimension of an atom: `regular` is the group's order, `tensor(k)` lives on (R^n)^⊗k, an
# O(3) irrep of degree l has 2l+1 components; kinds not listed are vectors of R^n.
_ATOM_DIMS: dict[AtomKind, Callable[[Group, Atom], int]] = {
    AtomKind.REGULAR: lambda group, atom: regular_dim(group),
    AtomKind.TENSOR: lambda group, atom: _space_dim_of(group, atom) ** atom.args[0],
    AtomKind.SCALAR: lambda group, atom: 1,
    AtomKind.PSEUDOSCALAR: lambda group, atom: 1,
    AtomKind.INDEX: lambda group, atom: 1,  # one label per element (`[N]` at run time)
    AtomKind.IRREP: lambda group, atom: 2 * atom.args[0] + 1,
    AtomKind.POINT: lambda group, atom: atom.args[0],
    AtomKind.MULTIVECTOR: lambda group, atom: 2 ** sum(atom.args),
    **{kind: lambda group, atom: MANIFOLD_DIMS[atom.kind](atom.args[0]) for kind in MANIFOLD_DIMS},
}


#: The rotations about the sphere's polar axis: what `breaks SO(3) to SO(2)` keeps.
POLAR = Geometric(2, Rotations.SO, False)


@dataclass(frozen=True, slots=True)
class Broken:
    """One `breaks` statement, checked: the part of the group it breaks and the values `by`
    names (docs/language.md "Declared symmetry breaking")."""

    part: Geometric | Permutation
    by: tuple[str, ...]
    to: Geometric | None = None  # the subgroup of `part` that remains (`to SO(2)`)

    @classmethod
    def parse(cls, part: str, by: list[str], to: str | None = None) -> Broken:
        parsed = Group.parse(part)
        geo = parsed.geometric or next(iter(parsed.factors), None)
        kept = Group.parse(to).geometric if to else None
        assert isinstance(geo, Geometric | Permutation) and (to is None or kept is not None)
        return cls(geo, tuple(by), kept)

    def __str__(self) -> str:
        reduced = f" to {self.to}" if self.to else ""
        return f"{self.part} broken{reduced} by " + ", ".join(f"`{n}`" for n in self.by)

    def to_json(self) -> dict[str, object]:
        return {
            "part": str(self.part),
            "by": list(self.by),
            **({"to": str(self.to)} if self.to else {}),
        }
