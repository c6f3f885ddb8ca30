# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Real spherical harmonics in e3nn's conventions, by a stable Cartesian recurrence (float64).

Conventions (those of ``e3nn.o3.spherical_harmonics``):

* components ordered ``m = -l..l``; the polar axis is ``y`` and the azimuth runs from ``z``
  towards ``x``, i.e. the textbook real harmonics (no Condon–Shortley phase,
  https://en.wikipedia.org/wiki/Table_of_spherical_harmonics#Real_spherical_harmonics)
  evaluated at ``(x', y', z') = (z, x, y)``. So ``Y^1 ∝ (x, y, z)``;
* ``Y^l`` is a homogeneous polynomial of degree ``l``: with ``normalize=False`` the input's
  length enters as ``|r|^l``; with ``normalize=True`` the zero vector maps to ``Y^{l>0} = 0``;
* equivariance ``Y^l(R r) = D^l(R) Y^l(r)`` with :func:`geoc.o3.wigner.wigner_D`, and parity
  ``Y^l(-r) = (-1)^l Y^l(r)`` (the harmonics of a ``1o`` vector have parity ``(-1)^l``).

Recurrence (Bigi et al., "A smooth basis for atomistic machine learning" / sphericart,
J. Chem. Phys. 159, 064802 (2023)): with ``ρ² = x'² + y'² + z'²``,
``C_m + i S_m = (x' + i y')^m`` and the modified associated Legendre polynomials
``Q_m^m = (2m-1)!!``, ``Q_{m+1}^m = (2m+1) z' Q_m^m``,
``(l-m) Q_l^m = (2l-1) z' Q_{l-1}^m - (l+m-1) ρ² Q_{l-2}^m``,
``Y_{l,±m} = N_l^m Q_l^m (C_m | S_m)`` with ``N_l^m = sqrt((2l+1)(2-δ_m0)(l-m)!/(l+m)!)``
for the ``component`` normalisation. The upward recurrence in ``l`` is the numerically stable
direction for associated Legendre functions (Press et al., Numerical Recipes §6.7).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np


class Normalization(str, enum.Enum):
    """e3nn's output normalisations, for ``r`` on the unit sphere."""

    COMPONENT = "component"  # |Y^l|^2 = 2l+1
    INTEGRAL = "integral"  # ∫_{S²} (Y^l_m)^2 = 1
    NORM = "norm"  # |Y^l| = 1


#: Factor taking ``component`` to each normalisation, per degree.
_SCALE: dict[Normalization, Callable[[int], float]] = {
    Normalization.COMPONENT: lambda l: 1.0,
    Normalization.INTEGRAL: lambda l: 1.0 / math.sqrt(4.0 * math.pi),
    Normalization.NORM: lambda l: 1.0 / math.sqrt(2 * l + 1),
}


def spherical_harmonics(
    l: int | Sequence[int],
    xyz: np.ndarray,
    normalize: bool = True,
    normalization: Normalization | str = Normalization.COMPONENT,
) -> np.ndarray:
    """``Y^l(xyz)`` ``[..., 2l+1]`` (degrees of a list are concatenated, as in e3nn).

    The default normalisation is ``component`` (e3nn's layers use it; e3nn's *function*
    defaults to ``integral``).

        >>> spherical_harmonics(1, np.array([0.0, 0.0, 2.0]))  # sqrt(3) * unit vector
        array([0.        , 0.        , 1.73205081])
    """
    degrees = [l] if np.isscalar(l) else list(l)
    if not degrees or any(int(d) != d or d < 0 for d in degrees):
        raise ValueError(f"degrees must be non-negative integers, not {l!r}")
    points = np.asarray(xyz, dtype=np.float64)
    if points.shape[-1:] != (3,):
        raise ValueError(f"expected points [..., 3], got shape {points.shape}")
    if normalize:
        points = _unit_vectors(points)
    scale = _SCALE[Normalization(normalization)]
    table = _component_harmonics(max(degrees), points)
    return np.concatenate([table[d] * scale(d) for d in degrees], axis=-1)


def _unit_vectors(points: np.ndarray) -> np.ndarray:
    """``r / |r|``, and 0 for ``r = 0`` (as ``torch.nn.functional.normalize``)."""
    norm = np.linalg.norm(points, axis=-1, keepdims=True)
    return points / np.where(norm > 0, norm, 1.0)


def _component_harmonics(lmax: int, points: np.ndarray) -> list[np.ndarray]:
    """``[Y^0, ..., Y^lmax]`` in the ``component`` normalisation."""
    # Textbook frame (x', y', z') = (z, x, y): the polar axis is e3nn's y.
    xp, yp, zp = points[..., 2], points[..., 0], points[..., 1]
    rho2 = xp * xp + yp * yp + zp * zp
    cos_m, sin_m = _azimuthal_powers(lmax, xp, yp)
    out = [np.empty((*points.shape[:-1], 2 * l + 1)) for l in range(lmax + 1)]
    for m in range(lmax + 1):
        for l, q in enumerate(_legendre_column(lmax, m, zp, rho2), start=m):
            norm = _normalization(l, m)
            out[l][..., l + m] = norm * q * cos_m[m]
            if m > 0:
                out[l][..., l - m] = norm * q * sin_m[m]
    return out


def _azimuthal_powers(
    lmax: int, xp: np.ndarray, yp: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``C_m, S_m`` with ``C_m + i S_m = (x' + i y')^m``, by complex multiplication."""
    cos_m, sin_m = [np.ones_like(xp)], [np.zeros_like(xp)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(xp * c - yp * s)
        sin_m.append(xp * s + yp * c)
    return cos_m, sin_m


def _legendre_column(lmax: int, m: int, zp: np.ndarray, rho2: np.ndarray) -> list[np.ndarray]:
    """``[Q_m^m, Q_{m+1}^m, ..., Q_lmax^m]`` (homogeneous; no Condon–Shortley phase)."""
    column = [np.full_like(zp, float(math.prod(range(1, 2 * m, 2))))]
    if m < lmax:
        column.append((2 * m + 1) * zp * column[0])
    for l in range(m + 2, lmax + 1):
        column.append(((2 * l - 1) * zp * column[-1] - (l + m - 1) * rho2 * column[-2]) / (l - m))
    return column


def _normalization(l: int, m: int) -> float:
    """``sqrt((2l+1)(2-δ_m0)(l-m)!/(l+m)!)``, the ratio taken exactly."""
    ratio = Fraction(math.factorial(l - m), math.factorial(l + m))
    return math.sqrt((2 * l + 1) * (1 if m == 0 else 2) * ratio)
