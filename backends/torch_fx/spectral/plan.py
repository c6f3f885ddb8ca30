# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Plans of the spherical harmonic transform: grids, quadrature and Legendre tables (numpy).

Compile-time only (never exported): the tables become buffers of the kernels in
:mod:`geoc.backends.torch_fx.spectral.kernels`. Conventions are torch-harmonics' (Bonev et al.,
"Spherical Fourier Neural Operators", ICML 2023; Schaeffer, "Efficient spherical harmonic
transforms aimed at pseudospectral numerical simulations", G3 2013) with ``norm="ortho"`` and
the Condon-Shortley phase, so coefficients are equal to those of ``torch_harmonics.RealSHT``:

* grid ``[nlat, nlon]``: colatitude ``θ_j`` from the north pole (``θ_0`` ≈ 0) to the south
  pole, longitude ``φ_k = 2πk / nlon``;
* ``equiangular``: ``θ_j = πj / (nlat - 1)``, both poles included, Clenshaw-Curtis weights in
  ``cos θ``; ``legendre_gauss``: Gauss-Legendre nodes and weights in ``cos θ``;
* a real field ``f = Σ_l Σ_{|m| ≤ l} a_lm Y_lm`` with orthonormal ``Y_lm(θ, φ) =
  P̄_lm(cos θ) e^{imφ}`` (``∫ |Y_lm|² dΩ = 1``, ``P̄_lm`` including ``(-1)^m``) is stored as
  ``a_lm`` for ``m ≥ 0`` (``a_{l,-m} = (-1)^m conj(a_lm)``), layout ``[..., lmax, mmax]``.
"""

from __future__ import annotations

import math

import numpy as np

#: Grid names of the DSL and the torch-harmonics name of each.
GRIDS = {"equiangular": "equiangular", "legendre_gauss": "legendre-gauss"}


def default_lmax(nlat: int, grid: str) -> int:
    """Degrees ``l < lmax`` whose products the quadrature integrates exactly.

    Gauss-Legendre on ``nlat`` nodes is exact to polynomial degree ``2 nlat - 1``, so a product
    of two degree-``(nlat - 1)`` harmonics: ``lmax = nlat``. Clenshaw-Curtis on ``nlat`` nodes
    is exact to degree ``nlat - 1``: ``2 (lmax - 1) ≤ nlat - 1``, ``lmax = (nlat + 1) // 2``.
    """
    _check_grid(grid)
    return nlat if grid == "legendre_gauss" else (nlat + 1) // 2


def resolved_lmax(nlat: int, nlon: int, grid: str) -> int:
    """The largest band limit the grid holds exactly: the quadrature's (:func:`default_lmax`)
    and every order ``m < lmax`` below the longitude Nyquist order ``nlon / 2`` (whose
    imaginary part the grid cannot carry, so rotations of such fields are not exact)."""
    return min(default_lmax(nlat, grid), (nlon + 1) // 2)


def default_mmax(lmax: int, nlon: int) -> int:
    """Triangular truncation ``m < lmax``, within the ``nlon // 2 + 1`` orders of the rfft."""
    return min(lmax, nlon // 2 + 1)


def quadrature(nlat: int, grid: str) -> tuple[np.ndarray, np.ndarray]:
    """``(cos θ_j, w_j)``, north to south, with ``Σ_j w_j g(cos θ_j) ≈ ∫_{-1}^{1} g(x) dx``."""
    _check_grid(grid)
    if grid == "legendre_gauss":
        x, w = np.polynomial.legendre.leggauss(nlat)
        return x[::-1].copy(), w[::-1].copy()
    return np.cos(colatitudes(nlat, grid)), _clenshaw_curtis_weights(nlat)


def colatitudes(nlat: int, grid: str) -> np.ndarray:
    """``θ_j`` in ``[0, π]``, north to south."""
    _check_grid(grid)
    if grid == "legendre_gauss":
        return np.arccos(quadrature(nlat, grid)[0])
    return np.pi * np.arange(nlat) / (nlat - 1)


def longitudes(nlon: int) -> np.ndarray:
    """``φ_k = 2πk / nlon``."""
    return 2.0 * np.pi * np.arange(nlon) / nlon


def legendre(lmax: int, mmax: int, x: np.ndarray) -> np.ndarray:
    """``P̄_lm(x)`` ``[mmax, lmax, len(x)]``, zero for ``m > l``: orthonormal on the sphere
    with the Condon-Shortley phase, by the standard stable three-term recurrence in ``l``
    from ``P̄_mm = (-1)^m √((2m+1)/(4π) (2m-1)!!/(2m)!!) sin^m θ``."""
    x = np.asarray(x, dtype=np.float64)
    sin = np.sqrt((1.0 - x) * (1.0 + x))
    out = np.zeros((mmax, lmax, x.size))
    diagonal = np.full(x.size, 1.0 / math.sqrt(4.0 * math.pi))
    for m in range(min(mmax, lmax)):
        if m > 0:
            diagonal = -math.sqrt((2 * m + 1) / (2 * m)) * sin * diagonal
        out[m, m] = diagonal
        if m + 1 < lmax:
            out[m, m + 1] = math.sqrt(2 * m + 3) * x * diagonal
        for l in range(m + 2, lmax):
            a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            out[m, l] = a * (x * out[m, l - 1] - b * out[m, l - 2])
    return out


def sht_tables(
    nlat: int, nlon: int, lmax: int, mmax: int, grid: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, inverse)``, float64 ``[mmax, lmax, nlat]`` each, for ``runtime_spectral``.

    ``inverse[m, l, j] = P̄_lm(cos θ_j)`` and ``forward[m, l, j] = (2π / nlon) w_j P̄_lm(cos
    θ_j)``: the forward table folds in the longitude quadrature, so the kernel's unscaled
    ``rfft`` followed by ``forward`` is torch-harmonics' ``2π rfft(norm="forward")`` followed
    by its ``weights``.
    """
    _check_sizes(nlat, nlon, lmax, mmax)
    x, w = quadrature(nlat, grid)
    inverse = legendre(lmax, mmax, x)
    forward = inverse * (w * (2.0 * math.pi / nlon))
    return forward, inverse


def _clenshaw_curtis_weights(n: int) -> np.ndarray:
    """Clenshaw-Curtis weights on ``x_j = cos(πj / (n-1))`` (Trefethen, "Spectral Methods in
    MATLAB", ch. 12, ``clencurt``): ``w_j = c_j / N (1 - Σ_k b_k cos(2kθ_j) / (4k² - 1))``,
    ``N = n - 1``, ``c`` = 1 at the ends else 2, ``b_k`` = 1 for ``k = N/2`` else 2. Symmetric,
    so the order of the nodes does not matter."""
    if n < 2:
        raise ValueError(f"Clenshaw-Curtis needs at least 2 nodes, got {n}")
    big_n = n - 1
    theta = np.pi * np.arange(n) / big_n
    k = np.arange(1, big_n // 2 + 1)
    b = np.where(2 * k == big_n, 1.0, 2.0)
    series = (b / (4.0 * k * k - 1.0)) @ np.cos(2.0 * np.outer(k, theta))
    ends = np.ones(n)
    ends[1:-1] = 2.0
    return ends / big_n * (1.0 - series)


def _check_grid(grid: str) -> None:
    if grid not in GRIDS:
        raise ValueError(f"unknown sphere grid {grid!r}: expected one of {sorted(GRIDS)}")


def _check_sizes(nlat: int, nlon: int, lmax: int, mmax: int) -> None:
    if nlat < 2 or nlon < 1:
        raise ValueError(f"grid {nlat}x{nlon} too small")
    if lmax < 1 or not 1 <= mmax <= nlon // 2 + 1:
        raise ValueError(f"need lmax >= 1 and 1 <= mmax={mmax} <= nlon//2+1 = {nlon // 2 + 1}")
