"""The fuzzer's own action on Cartesian tensors (docs/cartesian.md): a `tensor(k)` copy is a
k-index array of R^n flattened row-major (the last index fastest), moved by g ⊗ … ⊗ g; for
k = 2 that is ``t -> g t gᵀ``. Pseudovectors (``det(g) g``) and pseudoscalars stay in
``group_actions.atom_matrix``; there is no pseudotensor atom."""

from __future__ import annotations

from functools import reduce

import numpy as np


def tensor_order(atom: str) -> int | None:
    """k of ``tensor(k)``; None for any other atom."""
    if not atom.startswith("tensor("):
        return None
    return int(atom[len("tensor(") :].rstrip(")"))


def tensor_matrix(g: np.ndarray, order: int) -> np.ndarray:
    """g ⊗ … ⊗ g (``order`` factors): row-major flattening puts the first index outermost,
    which is numpy's ``kron`` order."""
    return reduce(np.kron, [g] * order, np.eye(1))
