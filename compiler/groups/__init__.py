"""Symmetry groups: factors, sampling, and how each atom transforms."""

from geoc.groups.from_ast import group_from_ast
from geoc.groups.group import (
    GEOMETRIC_GROUPS,
    MANIFOLD_DIMS,
    MATRIX_ATOMS,
    MATRIX_GROUPS,
    PERMUTING_GROUPS,
    SOLVER_ATOMS,
    Factor,
    Geometric,
    Group,
    GroupElement,
    MatrixFactor,
    Permutation,
    Rotations,
    UnsupportedAtom,
    manifold_matrix,
    random_rotation,
    sample_matrix,
)

__all__ = [
    "GEOMETRIC_GROUPS",
    "MANIFOLD_DIMS",
    "MATRIX_ATOMS",
    "MATRIX_GROUPS",
    "PERMUTING_GROUPS",
    "SOLVER_ATOMS",
    "Factor",
    "Geometric",
    "Group",
    "GroupElement",
    "MatrixFactor",
    "Permutation",
    "Rotations",
    "UnsupportedAtom",
    "group_from_ast",
    "manifold_matrix",
    "random_rotation",
    "sample_matrix",
]
