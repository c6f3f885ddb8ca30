"""Fourier coefficients of torus fields and the maps that act on them (``geoc.ops.fourier``):
torch-only kernels, exported with the model.

Coefficients are complex ``[batch, channels, 2 m_1, ..., 2 m_{d-1}, m_d]``: along every axis but
the last the frequencies ``0..m-1, -m..-1`` (the layout of :func:`kernels.fno_conv`'s weights),
along the last the real FFT's half spectrum ``0..m-1``. They are normalised by the number of
grid points (``norm="forward"``), so that they approximate the Fourier series coefficients of
the continuous field and do not grow with the grid: a nonlinearity acting on them (a bias added
to ``|c|``) means the same at every resolution. Every branch is on shapes, never on data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.precision_kernels import full
from geoc.backends.torch_fx.spectral.kernels import _check_modes, irfft_tail


def fft(x: Tensor, modes: tuple[int, ...], source: str = "x") -> Tensor:
    """The kept Fourier coefficients of the real field ``x`` ``[B, C, n_1, ..., n_d]``:
    ``c_k = (1/N) Σ_t x_t exp(-2πi k·t/n)``. A grid too coarse for the modes is GEO622,
    naming the input ``source``."""
    grid = tuple(x.shape[2:])
    _check_modes(grid, modes, source)
    d = len(modes)
    if x.shape[0] == 0:  # MKL's FFT refuses an empty batch: no sample, no coefficient
        kept = (*(2 * m for m in modes[:-1]), modes[-1])
        zeros = full(x).new_zeros(0, x.shape[1], *kept, 2) + 0 * x.sum()
        return torch.view_as_complex(zeros)
    axes = tuple(range(2, 2 + d))
    spectrum = torch.fft.rfftn(full(x), dim=axes, norm="forward")[..., : modes[-1]]
    for j in range(d - 1):  # keep 0..m-1 and -m..-1 along each non-last axis
        n, m, ax = grid[j], modes[j], 2 + j
        spectrum = torch.cat([spectrum.narrow(ax, 0, m), spectrum.narrow(ax, n - m, m)], ax)
    return spectrum


def ifft(c: Tensor, like: Tensor | None, grid: tuple[int, ...], source: str = "x") -> Tensor:
    """The real field on the grid of ``like`` (``[B, C', n_1, ..., n_d]``; None: ``grid``)
    whose kept coefficients are ``c`` and the others zero: the inverse of :func:`fft` on
    band-limited fields. The non-last axes are inverted as complex DFTs, the last by a real
    inverse FFT, which drops the imaginary parts a real field cannot carry (frequencies 0 and
    n/2). A grid too coarse for the modes is GEO622, naming the input ``source``."""
    sizes = tuple(like.shape[2:]) if like is not None else grid
    d = len(sizes)
    _check_modes(sizes, (*(k // 2 for k in c.shape[2:-1]), c.shape[-1]), source)
    if c.shape[0] == 0:  # MKL's FFT refuses an empty batch
        real = full(c.real)
        return real.new_zeros(0, c.shape[1], *sizes) + 0 * real.sum()
    for j in range(d - 1):  # zeros between the kept frequencies, back to n along the axis
        n, m, ax = sizes[j], c.shape[2 + j] // 2, 2 + j
        gap = list(c.shape)
        gap[ax] = n - 2 * m
        c = torch.cat([c.narrow(ax, 0, m), c.new_zeros(gap), c.narrow(ax, m, m)], ax)
    if d > 1:
        c = torch.fft.ifftn(c, dim=tuple(range(2, 1 + d)), norm="forward")
    return irfft_tail(c, sizes[-1], "forward")


def _safe_modulus(c: Tensor) -> tuple[Tensor, Tensor]:
    """``(|c|, small)``, ``|c|`` read as 1 where it is below the machine epsilon (``small``):
    the square root and the division by ``|c|`` never see 0 there, so their first and second
    derivatives stay finite (the masked entries get a zero gradient)."""
    parts = torch.view_as_real(c)
    s = (parts * parts).sum(-1)
    eps = torch.finfo(s.dtype).eps
    small = s < eps * eps
    return torch.sqrt(torch.where(small, torch.ones_like(s), s)), small


def modulus_plus(c: Tensor, bias: Tensor) -> Tensor:
    """``|c| + b`` (real, ``b`` one per channel): the argument of ``mod_act``'s activation."""
    r, _ = _safe_modulus(c)
    return r + bias.to(r.dtype).view(1, -1, *([1] * (c.dim() - 2)))


def mod_rescale(c: Tensor, activated: Tensor) -> Tensor:
    """``c · fn(|c| + b) / |c|`` from ``activated = fn(|c| + b)``; 0 where ``|c|`` is below the
    machine epsilon (the phase of 0 is undefined; the factor is masked before the division)."""
    r, small = _safe_modulus(c)
    ratio = torch.where(small, torch.zeros_like(r), activated / r)
    return c * ratio


def mode_linear(c: Tensor, weight: Tensor) -> Tensor:
    """``y_o(k) = Σ_i c_i(k) W_io``: one complex matrix ``weight`` ``[C_in, C_out, 2]`` at every
    mode."""
    w = torch.view_as_complex(weight.to(c.real.dtype).contiguous())
    return torch.einsum("bi...,io->bo...", c, w)


def mode_filter(c: Tensor, weight: Tensor) -> Tensor:
    """``y_c(k) = w_c(k) c_c(k)``: ``weight`` ``[C, *kept, 2]``, one complex weight per (channel,
    mode)."""
    return c * torch.view_as_complex(weight.to(c.real.dtype).contiguous())
