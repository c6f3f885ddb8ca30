"""2-D Darcy flow with zero boundary values, by finite volumes on a cell-centred grid.

The benchmark of the Fourier Neural Operator and MgNO papers (Li et al., ICLR 2021, section 5.2;
He et al., "MgNO: Efficient Parameterization of Linear Operators via Multigrid", ICLR 2024):

    -∇·(a(x) ∇u(x)) = f(x),  x ∈ (0, 1)²,    u = 0 on the boundary,

here with f = 1 and a log-normal coefficient, a = exp(ψ), ψ drawn from the Gaussian random
field N(0, τ^{2α-2} (-Δ + τ²)^{-α}) with zero Neumann data (a cosine series), α = 2, τ = 3 (the
field of Li et al., who threshold it to two values instead of exponentiating it).

The scheme: ``n x n`` cells of side ``h = 1/n``, ``u`` at their centres ``((i + ½)h, (j + ½)h)``;
the flux through each face is ``a_f (u_P - u_N) / h`` with ``a_f`` the harmonic mean of the
two cells' coefficients (the exact face coefficient of a 1-D layered medium); through a
boundary face ``a_P (u_P - 0) / (h/2)`` (the boundary value sits half a cell away). The matrix
is symmetric positive definite, a five-point stencil, and the scheme is second order (the
boundary cells' O(1) truncation error covers a layer of width h and costs O(h²) in the
solution). Each sample is one sparse direct solve (SciPy's SuperLU).

    >>> a, u = make_dataset(samples=2, n=16, seed=0)
    >>> tuple(u.shape)
    (2, 16, 16)
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch


def centres(n: int) -> np.ndarray:
    """The cell centres ``(i + ½) / n`` of one dimension."""
    return (np.arange(n) + 0.5) / n


def darcy_matrix(a: np.ndarray) -> sp.csr_matrix:
    """The ``n² x n²`` matrix of ``-∇·(a ∇u)`` on the ``n x n`` cells, ``a`` at the cell centres,
    zero Dirichlet data; unknowns ordered row-major (``k = i n + j``, ``i`` along x)."""
    n = a.shape[0]
    index = np.arange(n * n).reshape(n, n)
    diagonal = np.zeros((n, n))
    rows, cols, vals = [], [], []
    for axis in (0, 1):
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        a_lo, a_hi = a[tuple(lo)], a[tuple(hi)]
        face = 2.0 * a_lo * a_hi / (a_lo + a_hi) * n * n  # harmonic mean / h²
        diagonal[tuple(lo)] += face
        diagonal[tuple(hi)] += face
        i_lo, i_hi = index[tuple(lo)].ravel(), index[tuple(hi)].ravel()
        rows += [i_lo, i_hi]
        cols += [i_hi, i_lo]
        vals += [-face.ravel(), -face.ravel()]
        for edge in (0, -1):  # boundary faces, half a cell from the centres
            cut = [slice(None)] * 2
            cut[axis] = edge
            diagonal[tuple(cut)] += 2.0 * a[tuple(cut)] * n * n
    rows.append(index.ravel())
    cols.append(index.ravel())
    vals.append(diagonal.ravel())
    shape = (n * n, n * n)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape
    )


def solve(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``u`` at the cell centres with ``-∇·(a ∇u) = f`` and ``u = 0`` on the boundary."""
    n = a.shape[0]
    return spla.spsolve(darcy_matrix(a).tocsc(), f.ravel()).reshape(n, n)


def log_coefficient(
    samples: int, n: int, generator: torch.Generator, alpha: float = 2.0, tau: float = 3.0
) -> np.ndarray:
    """Samples of ψ ~ N(0, τ^{2α-2} (-Δ + τ²)^{-α}) on (0, 1)² with zero Neumann data, at the
    cell centres, ``[samples, n, n]``: the cosine eigenfunctions (orthonormal: ``√2 cos(πkx)``,
    1 for k = 0) up to wavenumber ``n - 1`` with independent normal coefficients of variance
    the covariance's eigenvalue ``τ^{2α-2} (π²|k|² + τ²)^{-α}``."""
    k = np.arange(n)
    basis = np.where(k == 0, 1.0, math.sqrt(2.0)) * np.cos(math.pi * np.outer(centres(n), k))
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    eigen = tau ** (2 * alpha - 2) * (math.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha)
    noise = torch.randn(samples, n, n, generator=generator, dtype=torch.float64).numpy()
    return np.einsum("ik,skl,jl->sij", basis, noise * np.sqrt(eigen), basis)


def make_dataset(
    samples: int, n: int = 32, seed: int = 0, alpha: float = 2.0, tau: float = 3.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients ``a = exp(ψ)`` and solutions ``u`` (``f = 1``), each ``[samples, n, n]``
    float64, ``[..., i, j]`` at ``x = (i + ½)/n``, ``y = (j + ½)/n``."""
    generator = torch.Generator().manual_seed(seed)
    a = np.exp(log_coefficient(samples, n, generator, alpha, tau))
    ones = np.ones((n, n))
    u = np.stack([solve(sample, ones) for sample in a])
    return torch.from_numpy(a), torch.from_numpy(u)
