# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Rotations of band-limited fields on the sphere, for the numeric checker (float64).

A real field with coefficients ``a[l, m]``, ``m ≥ 0`` (the layout of
:mod:`geoc.backends.torch_fx.spectral.plan`), is ``f = Σ_l Σ_{|m| ≤ l} a_lm Y_lm`` with the
orthonormal ``Y_lm = P̄_lm(cos θ) e^{imφ}`` (Condon-Shortley phase inside ``P̄``) and the
implicit ``a_{l,-m} = (-1)^m conj(a_lm)``, ``Y_{l,-m} = (-1)^m conj(Y_lm)``. Each degree spans a
rotation-invariant space: ``Y_l(R⁻¹p) = Y_l(p) M_l(R)`` (row vectors over ``m = -l..l``), so
``g(p) = f(R⁻¹p)`` has ``a'_l = D_l(R) a_l`` with ``D_l = M_l`` acting on column vectors:
``D_l`` is the Wigner matrix of the degree. It is found by least squares from the basis at
random points and at their preimages, so no Euler-angle convention can be wrong; it is unitary
and ``D(R₁R₂) = D(R₁) D(R₂)`` (tests check both, and the rotated field against direct
evaluation). Conventions of the grid moves (shared with ``domains/fields.py``): ``g = f ∘
R⁻¹``; the roll by ``+k`` longitude steps, ``x'[..., j] = x[..., j - k]``, is the rotation by
``+2πk/nlon`` about the polar axis.

These small factorisations and products run fastest on one thread; the caller chooses
(``geoc check`` and the tests do): library code leaves torch's thread settings alone.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.spectral.kernels import isht, sht
from geoc.backends.torch_fx.spectral.plan import (
    colatitudes,
    default_mmax,
    legendre,
    longitudes,
    sht_tables,
)


def polar_rotation(angle: float) -> np.ndarray:
    """The rotation by ``angle`` about the polar (``z``) axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def z_rotation_steps(x: Tensor, steps: int) -> Tensor:
    """``x`` ``[..., nlat, nlon]`` rotated by ``steps · 2π/nlon`` about the pole: a roll along
    longitude, ``x'[..., j] = x[..., j - steps]``, i.e. ``f(R⁻¹p)`` as in :func:`rotate_field`."""
    return torch.roll(x, steps, dims=-1)


def spherical_harmonics(points: np.ndarray, lmax: int) -> list[np.ndarray]:
    """Per degree ``l < lmax``: ``Y_lm`` at unit vectors ``points`` ``[P, 3]``, ``[P, 2l+1]``,
    columns ``m = -l..l``; consistent with the transform's tables."""
    cos = np.clip(points[:, 2], -1.0, 1.0)
    phi = np.arctan2(points[:, 1], points[:, 0])
    table = legendre(lmax, lmax, cos)  # [m, l, P]
    blocks = []
    for l in range(lmax):
        m = np.arange(l + 1)
        positive = table[m, l].T * np.exp(1j * np.outer(phi, m))  # [P, l+1], m = 0..l
        negative = ((-1.0) ** m[1:]) * np.conj(positive[:, 1:])  # Y_{l,-m}
        blocks.append(np.concatenate([negative[:, ::-1], positive], axis=1))
    return blocks


def wigner_blocks(rotation: np.ndarray, lmax: int) -> list[np.ndarray]:
    """``D_l(R)`` ``[2l+1, 2l+1]`` for ``l < lmax`` (rows and columns ``m = -l..l``): the
    coefficients of ``f(R⁻¹p)`` are ``D_l a_l``. Cached per rotation."""
    rotation = np.asarray(rotation, dtype=np.float64)
    return list(_wigner_blocks(rotation.tobytes(), lmax))


@functools.lru_cache(maxsize=64)
def _wigner_blocks(rotation_bytes: bytes, lmax: int) -> tuple[np.ndarray, ...]:
    rotation = np.frombuffer(rotation_bytes, dtype=np.float64).reshape(3, 3)
    points, solvers = _sample_points(lmax)
    there = spherical_harmonics(points @ rotation, lmax)  # rows are R⁻¹p = Rᵀp
    return tuple(
        (solve @ torch.as_tensor(b)).numpy() for solve, b in zip(solvers, there, strict=True)
    )


@functools.lru_cache(maxsize=8)
def _sample_points(lmax: int) -> tuple[np.ndarray, tuple[Tensor, ...]]:
    """Random unit vectors (``≥ 2(2l+1)`` for every degree) and, per degree, the least-squares
    solver ``Y_l(p)⁺`` of ``Y_l(p) D = b`` (by QR: the basis is well conditioned there)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(4 * lmax + 16, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    solvers = []
    for basis in spherical_harmonics(points, lmax):
        q, r = torch.linalg.qr(torch.as_tensor(basis))
        solvers.append(torch.linalg.solve_triangular(r, q.conj().T, upper=True))
    return points, tuple(solvers)


def rotate_coefficients(coeffs: Tensor, rotation: np.ndarray) -> Tensor:
    """The coefficients of ``f(R⁻¹p)`` from those of ``f``: complex ``[..., lmax, mmax]``.

    Per degree, the orders ``m ≥ 0`` are completed to ``-l..l`` by the real-field symmetry,
    rotated by ``D_l`` and cut back to ``0 ≤ m < mmax`` (exact when ``mmax ≥ lmax``).
    """
    lmax, mmax = coeffs.shape[-2:]
    blocks = wigner_blocks(rotation, lmax)
    source = coeffs.detach().cpu().to(torch.complex128)
    out = torch.zeros_like(source)
    for l, block in enumerate(blocks):
        top = min(l, mmax - 1)
        sign = (-1.0) ** torch.arange(1, top + 1)
        full = torch.zeros(*source.shape[:-2], 2 * l + 1, dtype=torch.complex128)
        full[..., l : l + top + 1] = source[..., l, : top + 1]
        full[..., l - torch.arange(1, top + 1)] = sign * source[..., l, 1 : top + 1].conj()
        rotated = full @ torch.as_tensor(block).T
        out[..., l, : top + 1] = rotated[..., l : l + top + 1]
    return out.to(device=coeffs.device, dtype=coeffs.dtype)


def evaluate(coeffs: np.ndarray, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The real field of ``coeffs`` ``[..., lmax, mmax]`` at points ``(θ, φ)`` ``[P]``:
    ``Σ_l a_l0 Y_l0 + 2 Re Σ_{m>0} a_lm Y_lm``, ``[..., P]``."""
    lmax, mmax = coeffs.shape[-2:]
    table = legendre(lmax, mmax, np.cos(theta))  # [m, l, P]
    twice = np.where(np.arange(mmax) == 0, 1.0, 2.0)
    waves = np.exp(1j * np.outer(np.arange(mmax), phi)) * twice[:, None]  # [m, P]
    return np.einsum("...lm,mlp,mp->...p", coeffs, table, waves).real


def rotate_field(
    x: Tensor, rotation: np.ndarray, nlat: int, nlon: int, grid: str, lmax: int
) -> Tensor:
    """``isht(rotate_coefficients(sht(x)))``: the band-limited (``l < lmax``) rotation of a
    field ``[..., nlat, nlon]`` on the grid, computed in float64, returned in ``x``'s dtype."""
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
    """A random real field ``[B, C, nlat, nlon]`` (float64) with no degree ``l ≥ lmax``.

    Its coefficients are standard normal for ``m ≤ l``, ``m < min(lmax, nlon//2 + 1)``; the
    imaginary parts a real field cannot carry on the grid (``m = 0``, ``m = nlon/2``) are zero,
    so ``sht`` of the field gives the coefficients back when the grid resolves ``lmax``.
    """
    _, inverse, mmax = _tables(nlat, nlon, grid, lmax)
    shape = (*shape_bc, lmax, mmax)
    coeffs = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    m = np.arange(mmax)
    coeffs.imag[..., (m == 0) | (2 * m == nlon)] = 0.0
    coeffs *= np.arange(lmax)[:, None] >= m[None, :]
    return isht(torch.as_tensor(coeffs), inverse, nlon)


def grid_points(nlat: int, nlon: int, grid: str) -> np.ndarray:
    """Unit vectors of the grid points, ``[nlat, nlon, 3]``."""
    theta = colatitudes(nlat, grid)[:, None]
    phi = longitudes(nlon)[None, :]
    return np.stack(
        np.broadcast_arrays(
            np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)
        ),
        axis=-1,
    )


@functools.lru_cache(maxsize=16)
def _cached_tables(nlat: int, nlon: int, grid: str, lmax: int) -> tuple[Tensor, Tensor, int]:
    mmax = default_mmax(lmax, nlon)
    forward, inverse = sht_tables(nlat, nlon, lmax, mmax, grid)
    return torch.as_tensor(forward), torch.as_tensor(inverse), mmax


def _tables(nlat: int, nlon: int, grid: str, lmax: int) -> tuple[Tensor, Tensor, int]:
    return _cached_tables(nlat, nlon, grid, lmax)
