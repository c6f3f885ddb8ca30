"""2-D incompressible Navier-Stokes on the unit torus, vorticity form, pseudo-spectral.

The benchmark of the Fourier Neural Operator paper (Li et al., "Fourier Neural Operator for
Parametric Partial Differential Equations", ICLR 2021, section 5.3):

    ∂ω/∂t + u·∇ω = ν Δω + f,    u = (∂ψ/∂y, -∂ψ/∂x),    -Δψ = ω,    x ∈ [0, 1)²,

with ν = 1e-3, f = 0.1 (sin 2π(x + y) + cos 2π(x + y)) and ω(0) drawn from the Gaussian random
field N(0, τ^{2α-2} (-Δ + τ²)^{-α}), α = 2.5, τ = 7. As in the paper, diffusion is
Crank-Nicolson; the advection term, which Li et al. step with forward Euler, is stepped here
with Heun's method (second order, so a larger step is as accurate), with the 2/3 rule. A whole
batch of initial conditions is integrated at once.

    >>> w0, wT = make_dataset(samples=4, n=32, t_final=0.1, seed=0)
    >>> tuple(wT.shape)
    (4, 32, 32)
"""

from __future__ import annotations

import math

import torch

TWO_PI = 2.0 * math.pi


def wavenumbers(n: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer wavenumbers ``(k1, k2)`` of ``rfft2`` on an ``n x n`` grid, as ``[n, n//2+1]``."""
    k1 = torch.fft.fftfreq(n, 1.0 / n, dtype=dtype)
    k2 = torch.fft.rfftfreq(n, 1.0 / n, dtype=dtype)
    return torch.meshgrid(k1, k2, indexing="ij")


def grid(n: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates ``(x, y)`` of the ``n x n`` grid on ``[0, 1)²``, ``x`` along dim -2."""
    x = torch.arange(n, dtype=dtype) / n
    return torch.meshgrid(x, x, indexing="ij")


def li_forcing(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The forcing of Li et al.: ``0.1 (sin 2π(x + y) + cos 2π(x + y))``."""
    x, y = grid(n, dtype)
    return 0.1 * (torch.sin(TWO_PI * (x + y)) + torch.cos(TWO_PI * (x + y)))


def gaussian_random_field(
    samples: int, n: int, generator: torch.Generator, alpha: float = 2.5, tau: float = 7.0
) -> torch.Tensor:
    """Samples of N(0, τ^{2α-2} (-Δ + τ²)^{-α}) with zero mean, ``[samples, n, n]`` float64.

    White noise coloured in Fourier space: the grid's DFT of unit white noise has variance
    ``n²`` per mode, so the factor ``n`` below makes each orthonormal mode's variance the
    covariance operator's eigenvalue, whatever the resolution.
    """
    k1, k2 = wavenumbers(n)
    eigenvalue = tau ** (2 * alpha - 2) * (TWO_PI**2 * (k1**2 + k2**2) + tau**2) ** (-alpha)
    scale = n * eigenvalue.sqrt()
    scale[0, 0] = 0.0
    noise = torch.randn(samples, n, n, generator=generator, dtype=torch.float64)
    return torch.fft.irfft2(torch.fft.rfft2(noise) * scale, s=(n, n))


class VorticitySolver:
    """Integrates batches of vorticity fields ``[..., n, n]`` in Fourier space, step ``dt``."""

    def __init__(
        self, n: int, viscosity: float = 1e-3, dt: float = 0.02, dtype: torch.dtype = torch.float64
    ) -> None:
        self.n, self.viscosity, self.dt, self.dtype = n, viscosity, dt, dtype
        k1, k2 = wavenumbers(n)
        laplacian = -(TWO_PI**2) * (k1**2 + k2**2)  # the symbol of Δ
        inverse = -1.0 / laplacian
        inverse[0, 0] = 0.0  # ψ has zero mean
        cutoff = 2.0 / 3.0 * (n // 2)
        dealias = (k1.abs() <= cutoff) & (k2.abs() <= cutoff)
        # u = ∂ψ/∂y, v = -∂ψ/∂x, ∂ω/∂x, ∂ω/∂y from ω̂ in one batched inverse FFT. Factors
        # truncated to 2/3 as well as the product: the quadratic term is then alias-free and
        # the Nyquist modes (whose derivative has no sign) drop out, so the scheme commutes
        # exactly with the square's rotations and reflections.
        derivatives = [1j * TWO_PI * k2 * inverse, -1j * TWO_PI * k1 * inverse]
        derivatives += [1j * TWO_PI * k1, 1j * TWO_PI * k2]
        complex_dtype = (torch.zeros((), dtype=dtype) * 1j).dtype
        self.derivatives = (torch.stack(derivatives) * dealias).to(complex_dtype)
        self.dealias = dealias.to(dtype)
        # Crank-Nicolson: (1 - dt ν Δ / 2) ω⁺ = (1 + dt ν Δ / 2) ω + dt (explicit terms)
        half = 0.5 * dt * viscosity * laplacian
        self.decay = ((1.0 + half) / (1.0 - half)).to(dtype)
        self.gain = (dt / (1.0 - half)).to(dtype)

    def advection(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Spectrum of ``u·∇ω``: truncated factors multiplied on the grid, truncated again."""
        fields = torch.fft.irfft2(self.derivatives * w_hat.unsqueeze(-3), s=(self.n, self.n))
        u, v, w_x, w_y = fields.unbind(-3)
        return torch.fft.rfft2(u * w_x + v * w_y) * self.dealias

    def step(self, w_hat: torch.Tensor, f_hat: torch.Tensor) -> torch.Tensor:
        """One Crank-Nicolson (diffusion) / Heun (advection and forcing) step."""
        rhs = f_hat - self.advection(w_hat)
        predicted = self.decay * w_hat + self.gain * rhs
        corrected_rhs = 0.5 * (rhs + f_hat - self.advection(predicted))
        return self.decay * w_hat + self.gain * corrected_rhs

    def solve(self, w0: torch.Tensor, forcing: torch.Tensor, t_final: float) -> torch.Tensor:
        """``ω(t_final)`` from ``ω(0) = w0``; the step shrinks to divide ``t_final`` exactly."""
        steps = max(1, math.ceil(t_final / self.dt - 1e-9))
        solver = VorticitySolver(self.n, self.viscosity, t_final / steps, self.dtype)
        w_hat = torch.fft.rfft2(w0.to(self.dtype))
        f_hat = torch.fft.rfft2(forcing.to(self.dtype))
        for _ in range(steps):
            w_hat = solver.step(w_hat, f_hat)
        return torch.fft.irfft2(w_hat, s=(self.n, self.n))


def make_dataset(
    samples: int,
    n: int = 64,
    t_final: float = 1.0,
    seed: int = 0,
    amplitude: float = 1.0,
    viscosity: float = 1e-3,
    dt: float = 0.02,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs ``(ω(0), ω(t_final))``, each ``[samples, n, n]`` float64, forced as in Li et al.

    ``ω(0)`` is ``amplitude`` times the random field; the solver runs in ``dtype`` (float32 is
    2-3x faster here and its round-off, ~1e-6, is far below the time-stepping error).
    """
    generator = torch.Generator().manual_seed(seed)
    w0 = amplitude * gaussian_random_field(samples, n, generator)
    wT = VorticitySolver(n, viscosity, dt, dtype).solve(w0, li_forcing(n), t_final)
    return w0, wT.double()
