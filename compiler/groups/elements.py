"""Group elements and how to sample them (seeded numpy generators, float64)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geoc.groups.factors import MatrixFactor


@dataclass(frozen=True)
class GroupElement:
    """One sampled element: a rotation (or None), a translation (or None), axis permutations."""

    rotation: np.ndarray | None = None
    translation: np.ndarray | None = None
    permutations: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = "identity"
    # How the element moves the points of a grid domain (torus shifts, sphere rotations): a
    # ``geoc.backends.torch_fx.domains.fields.GridMove``; None elsewhere.
    grid_move: Any = None
    # The element of a matrix-group factor (Lorentz(n), S(5), ...), a matrix of its defining
    # representation, and what kind of element it is ("boost+rotation", "reflection", ...).
    matrix: np.ndarray | None = None
    matrix_kind: str = ""

    @property
    def det(self) -> float:
        return 1.0 if self.rotation is None else float(round(np.linalg.det(self.rotation)))


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
