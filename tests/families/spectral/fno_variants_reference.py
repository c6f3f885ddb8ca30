"""The FNO layer's spectral filter variants of McCabe et al. (2023, arXiv:2306.10619) as a plain
DFT written from the equations, with no FFT: the reference that the variant tests compare
against."""

from __future__ import annotations

import itertools
import math

import torch


def kept_frequencies(modes: tuple[int, ...]) -> torch.Tensor:
    """``[K, d]``: the kept frequencies in the weight's layout (``0..m-1, -m..-1``; last
    axis ``0..m-1``)."""
    axes = [list(range(m)) + list(range(-m, 0)) for m in modes[:-1]] + [list(range(modes[-1]))]
    return torch.tensor(list(itertools.product(*axes)), dtype=torch.float64).view(-1, len(modes))


def reference(x: torch.Tensor, w: torch.Tensor, modes: tuple[int, ...], depthwise: bool):
    """``y(t) = 1/N Σ_k c_k Re(R(k) X(k) e^{2πi k·t/n})`` over the kept ``k``, ``X(k) = Σ_t
    x(t) e^{-2πi k·t/n}``, ``c_k = 1`` at ``k_d = 0`` and ``n_d/2`` (their own mirror), 2
    elsewhere (the mirror ``-k`` that the real FFT leaves implicit). ``w`` complex: ``[C,
    K]`` (depthwise) or ``[C_in, C_out, K]``, already bounded and masked."""
    batch, channels, *grid = x.shape
    freqs = kept_frequencies(modes)
    points = torch.tensor(list(itertools.product(*[range(n) for n in grid])), dtype=torch.float64)
    phase = 2 * math.pi * (freqs / torch.tensor(grid, dtype=torch.float64)) @ points.T  # [K, N]
    basis = torch.polar(torch.ones_like(phase), phase)  # e^{+2πi k·t/n}
    spectrum = x.reshape(batch, channels, -1).to(torch.complex128) @ basis.conj().T  # [B, C, K]
    mixed = spectrum * w if depthwise else torch.einsum("bik,iok->bok", spectrum, w)
    last = freqs[:, -1]
    count = torch.where((last == 0) | (2 * last == grid[-1]), 1.0, 2.0)
    y = (mixed * count @ basis).real / points.shape[0]
    return y.reshape(batch, -1, *grid)


def bounded_reference(w: torch.Tensor, bound: float, depthwise: bool) -> torch.Tensor:
    """``B tanh(|W|) W / |W|`` per mode: ``|W|`` the modulus (depthwise) or Frobenius norm."""
    size = w.abs() if depthwise else w.abs().pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
    return bound * torch.tanh(size) * w / size


def disc_reference(modes: tuple[int, ...]) -> torch.Tensor:
    return (kept_frequencies(modes).pow(2).sum(-1) < modes[0] ** 2).to(torch.float64)
