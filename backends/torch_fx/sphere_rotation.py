# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Rotations of band-limited fields on the sphere, for the numeric checker (float64).

A real field stored as coefficients ``a[l, m]`` (``m >= 0``, layout of
:mod:`geoc.backends.torch_fx.sht_plan`) is, order by order, ``f = Σ_l Σ_{m=-l}^{l} d_lm B_lm``
with ``B_lm(θ, φ) = P̄_{l|m|}(cos θ) e^{imφ}``, ``d_lm = a_lm`` for ``m >= 0`` and
``conj(a_{l|m|})`` for ``m < 0`` (the Hermitian half the real FFT leaves out). Each degree
spans a rotation-invariant space, so ``B_l(R⁻¹p) = M_l(R) B_l(p)`` for one matrix per degree;
the rotated field ``g(p) = f(R⁻¹p)`` has ``d'_l = M_lᵀ d_l``. ``M_l`` is found by least squares
from the basis at random points and at their preimages: no Wigner-D convention to get wrong,
and the checker tests it against direct evaluation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.runtime_spectral import isht, sht
from geoc.backends.torch_fx.sht_plan import legendre, sht_tables


def _basis(points: np.ndarray, lmax: int) -> list[np.ndarray]:
    """Per degree ``l``: ``B_lm`` at ``points`` (unit vectors), ``[len(points), 2l + 1]``,
    columns ``m = -l..l``."""
    cos = np.clip(points[:, 2], -1.0, 1.0)
    phi = np.arctan2(points[:, 1], points[:, 0])
    table = legendre(lmax, lmax, cos)  # [m, l, point]
    out = []
    for l in range(lmax):
        m = np.arange(-l, l + 1)
        out.append(table[np.abs(m), l].T * np.exp(1j * m[None, :] * phi[:, None]))
    return out


def degree_matrices(rotation: np.ndarray, lmax: int, seed: int = 0) -> list[np.ndarray]:
    """``M_lᵀ`` for ``l < lmax``: ``d'_l = M_lᵀ d_l`` are the coefficients of ``f(R⁻¹p)``."""
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(4 * lmax + 16, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    here, there = _basis(points, lmax), _basis(points @ rotation, lmax)  # rows: R⁻¹p = Rᵀp
    return [np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(here, there, strict=True)]


def rotate_coefficients(coeffs: Tensor, rotation: np.ndarray) -> Tensor:
    """The coefficients of ``f(R⁻¹p)`` from those of ``f`` (complex ``[..., lmax, mmax]``)."""
    lmax, mmax = coeffs.shape[-2:]
    matrices = degree_matrices(np.asarray(rotation, dtype=np.float64), lmax)
    source = coeffs.detach().cpu().to(torch.complex128).numpy()
    out = np.zeros_like(source)
    for l, mt in enumerate(matrices):
        top = min(l, mmax - 1)
        full = np.zeros((*source.shape[:-2], 2 * l + 1), dtype=np.complex128)
        full[..., l : l + top + 1] = source[..., l, : top + 1]
        full[..., l - top : l][..., ::-1] = np.conj(source[..., l, 1 : top + 1])
        rotated = full @ mt.T  # (M_lᵀ d) for every leading index at once
        out[..., l, : top + 1] = rotated[..., l : l + top + 1]
    return torch.as_tensor(out, device=coeffs.device).to(coeffs.dtype)


def _tables(nlat: int, nlon: int, grid: str, lmax: int) -> tuple[Tensor, Tensor, int]:
    mmax = min(lmax, nlon // 2 + 1)
    forward, inverse = sht_tables(nlat, nlon, lmax, mmax, grid)
    return torch.as_tensor(forward), torch.as_tensor(inverse), mmax


def rotate_field(
    x: Tensor, rotation: np.ndarray, nlat: int, nlon: int, grid: str, lmax: int
) -> Tensor:
    """``isht(rotate(sht(x)))``: the band-limited rotation of a field on the grid."""
    forward, inverse, mmax = _tables(nlat, nlon, grid, lmax)
    field = x.detach().cpu().to(torch.float64)
    rotated = rotate_coefficients(sht(field, forward, mmax), rotation)
    return isht(rotated, inverse, nlon).to(device=x.device, dtype=x.dtype)


def band_limited_field(
    rng: np.random.Generator,
    shape_bc: tuple[int, int],
    nlat: int,
    nlon: int,
    grid: str,
    lmax: int,
) -> Tensor:
    """A random real field ``[B, C, nlat, nlon]`` with no degree ``l >= lmax`` (float64)."""
    _, inverse, mmax = _tables(nlat, nlon, grid, lmax)
    shape = (*shape_bc, lmax, mmax)
    coeffs = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    coeffs[..., 0] = coeffs[..., 0].real  # m = 0 of a real field is real
    coeffs *= np.arange(lmax)[:, None] >= np.arange(mmax)[None, :]  # m <= l
    return isht(torch.as_tensor(coeffs), inverse, nlon)
