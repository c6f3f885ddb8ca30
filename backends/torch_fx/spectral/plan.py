"""Plans of the spherical harmonic transform: grids, quadrature and Legendre tables (numpy).

Compile-time numpy views of the torch builders in
:mod:`geoc.backends.torch_fx.spectral.sphere_kernels` (one implementation: the native grid's
tables become buffers of the kernels in :mod:`geoc.backends.torch_fx.spectral.kernels`, another
grid's are built by the same code at run time). Conventions are torch-harmonics' (Bonev et al.,
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

import numpy as np
import torch

from geoc.backends.torch_fx.spectral import sphere_kernels as grids
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import DomainKind
from geoc.ir import Graph

#: Grid names of the DSL and the torch-harmonics name of each.
GRIDS = {"equiangular": "equiangular", "legendre_gauss": "legendre-gauss"}
default_lmax = grids.default_lmax
resolved_lmax = grids.resolved_lmax


def default_mmax(lmax: int, nlon: int) -> int:
    """Triangular truncation ``m < lmax``, within the ``nlon // 2 + 1`` orders of the rfft."""
    return min(lmax, nlon // 2 + 1)


def quadrature(nlat: int, grid: str) -> tuple[np.ndarray, np.ndarray]:
    """``(cos θ_j, w_j)``, north to south, with ``Σ_j w_j g(cos θ_j) ≈ ∫_{-1}^{1} g(x) dx``."""
    x, w = grids.quadrature(nlat, grid)
    return x.numpy(), w.numpy()


def colatitudes(nlat: int, grid: str) -> np.ndarray:
    """``θ_j`` in ``[0, π]``, north to south."""
    return grids.colatitudes(nlat, grid).numpy()


def longitudes(nlon: int) -> np.ndarray:
    """``φ_k = 2πk / nlon``."""
    return 2.0 * np.pi * np.arange(nlon) / nlon


def legendre(lmax: int, mmax: int, x: np.ndarray) -> np.ndarray:
    """``P̄_lm(x)`` ``[mmax, lmax, len(x)]`` (:func:`sphere_kernels.legendre`)."""
    points = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1))
    return grids.legendre(lmax, mmax, points).numpy()


def sht_tables(
    nlat: int, nlon: int, lmax: int, mmax: int, grid: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, inverse)``, float64 ``[mmax, lmax, nlat]`` each, for ``runtime_spectral``
    (:func:`sphere_kernels.sht_tables`): the forward table folds in the longitude quadrature,
    so the kernel's unscaled ``rfft`` followed by ``forward`` is torch-harmonics' ``2π
    rfft(norm="forward")`` followed by its ``weights``."""
    forward, inverse = grids.sht_tables(nlat, nlon, lmax, mmax, grid)
    return forward.numpy(), inverse.numpy()


def check_sphere_grid(ir: Graph, grid: str | None) -> None:
    """The compile option ``sphere_grid`` (None: the spec's grid kind) names a grid kind, on a
    sphere model (GEO533)."""
    if grid is None:
        return
    if grid not in GRIDS:
        why = f"`sphere_grid={grid!r}` is not a grid of the sphere"
    elif ir.domain.kind is not DomainKind.SPHERE:
        why = f"`sphere_grid` applies to models over a sphere; this one is over {ir.domain}"
    else:
        return
    raise GeoError(Diagnostic("GEO533", why, help="use `equiangular` or `legendre_gauss`"))
