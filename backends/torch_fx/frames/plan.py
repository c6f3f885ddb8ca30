# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Compile-time tables of the frame kernels (numpy): points on the sphere and the
pseudo-inverse of their harmonics, so that ``D^l(F) = Y^l(F P) Y^l(P)^+`` (kernels.py).

``Y^l(R p) = D^l(R) Y^l(p)`` (docs/o3_conventions.md), so for points P whose ``Y^l(P)`` has
full row rank ``2l+1``, ``D^l(R) = Y^l(R P) Y^l(P)^+`` exactly. Fixed, well-spread points
(a seeded draw, checked for rank and conditioning) make the table the same on every machine.
"""

from __future__ import annotations

import numpy as np

from geoc.o3 import spherical_harmonics

#: Points per degree beyond 2·lmax+1: twice over-determined, so every block's condition number
#: stays below about 5 (measured up to lmax = 30).
_EXTRA = 8


def wigner_plan(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``points [K, 3]`` and ``inverse [K, (lmax+1)²]``: column block ``l`` is the
    pseudo-inverse of ``Y^l(points)`` (``[K, 2l+1]`` harmonics as rows)."""
    rng = np.random.default_rng(20231106)  # fixed: the same table on every machine
    count = 2 * (2 * lmax + 1) + _EXTRA
    points = rng.normal(size=(count, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    harmonics = spherical_harmonics(list(range(lmax + 1)), points)  # [K, (lmax+1)²]
    inverse = np.zeros((count, (lmax + 1) ** 2))
    for l in range(lmax + 1):
        block = harmonics[:, l * l : (l + 1) ** 2]  # [K, 2l+1]
        assert np.linalg.cond(block) < 1e3, "sample points badly conditioned"
        inverse[:, l * l : (l + 1) ** 2] = np.linalg.pinv(block.T)  # [K, 2l+1]
    return points, inverse
