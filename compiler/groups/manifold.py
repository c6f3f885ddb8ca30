"""Manifold atoms under rotations (docs/manifolds.md).

Rotations Q of R^n are isometries of each: the spatial part of a Lorentz point, a Poincaré point
and a unit vector rotate like a vector; an SPD (or symmetric) matrix moves by congruence
X -> Q X Qᵀ, i.e. kron(Q, Q) on its row-major flattening. The group acts only where n is its
space's dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from geoc.types import Atom, AtomKind

if TYPE_CHECKING:
    from geoc.groups.group import Group

Blocks = tuple[tuple[str, int], ...]

MANIFOLD_DIMS: dict[AtomKind, Callable[[int], int]] = {
    AtomKind.LORENTZ: lambda n: n + 1,
    AtomKind.POINCARE: lambda n: n,
    AtomKind.UNIT: lambda n: n,
    AtomKind.SPD: lambda n: n * n,
    AtomKind.SYM: lambda n: n * n,
    AtomKind.FRAME: lambda n: n * n,
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
    if atom.kind is AtomKind.FRAME:  # stored column by column, each column a vector
        return np.kron(np.eye(n), rot)
    return rot


def _vector_block(group: Group, atom: Atom) -> Blocks:
    if group.space_dim == atom.args[0]:
        return group.irreps(Atom(AtomKind.VECTOR))
    return ((f"{atom.kind.value}{atom.args[0]}", atom.args[0]),)  # no action: never invariant


def _lorentz_blocks(group: Group, atom: Atom) -> Blocks:
    return (("0e", 1), *_vector_block(group, atom))


def _matrix_block(group: Group, atom: Atom) -> Blocks:
    """Congruence on n x n matrices, one block: Schur maps between copies only."""
    return ((f"{atom.kind.value}{atom.args[0]}", atom.args[0] ** 2),)


def _frame_blocks(group: Group, atom: Atom) -> Blocks:
    """n columns, each a vector: one block per column, compared as the frame itself (no
    linear map may mix a frame with vectors: it would leave the orthonormal matrices)."""
    return ((f"frame{atom.args[0]}", atom.args[0] ** 2),)


MANIFOLD_BLOCKS: dict[AtomKind, Callable[[Group, Atom], Blocks]] = {
    AtomKind.LORENTZ: _lorentz_blocks,
    AtomKind.POINCARE: _vector_block,
    AtomKind.UNIT: _vector_block,
    AtomKind.SPD: _matrix_block,
    AtomKind.SYM: _matrix_block,
    AtomKind.FRAME: _frame_blocks,
}
