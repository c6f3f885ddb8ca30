"""Symmetry groups: a :class:`Group` is a product of factors; each factor answers its irreps,
dimensions, matrices and sampling (``factors.py``), so a new group factor is one class there.

``group.py`` holds :class:`Group`, ``elements.py`` sampled elements, ``manifold.py`` how rotations
move manifold atoms, ``indefinite.py`` the groups O(p, q), SO(p, q), SO+(p, q) (and how they move
multivectors), ``from_ast.py`` the ``symmetry`` clause to a group.
"""

from geoc.groups.elements import GroupElement, random_rotation, sample_matrix
from geoc.groups.factors import (
    GEOMETRIC_GROUPS,
    MATRIX_ATOMS,
    MATRIX_GROUPS,
    PERMUTING_GROUPS,
    SOLVER_ATOMS,
    Factor,
    Geometric,
    MatrixFactor,
    Permutation,
    Rotations,
    UnsupportedAtom,
)
from geoc.groups.from_ast import group_from_ast
from geoc.groups.group import Broken, Group
from geoc.groups.indefinite import INDEFINITE_GROUPS, IndefiniteFactor
from geoc.groups.manifold import MANIFOLD_DIMS, manifold_matrix

__all__ = [
    "GEOMETRIC_GROUPS",
    "INDEFINITE_GROUPS",
    "MANIFOLD_DIMS",
    "MATRIX_ATOMS",
    "MATRIX_GROUPS",
    "PERMUTING_GROUPS",
    "SOLVER_ATOMS",
    "Broken",
    "Factor",
    "Geometric",
    "Group",
    "GroupElement",
    "IndefiniteFactor",
    "MatrixFactor",
    "Permutation",
    "Rotations",
    "UnsupportedAtom",
    "group_from_ast",
    "manifold_matrix",
    "random_rotation",
    "sample_matrix",
]
