"""Spectral kernels: the FNO Fourier layer, the real SHT and the SFNO spectral layer (torch only).

Interim version written by the lead to unblock integration; the kernel helper replaces it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sht(x: Tensor, forward: Tensor, mmax: int) -> Tensor:
    """Real SHT: ``[B, C, nlat, nlon]`` -> complex ``[B, C, lmax, mmax]``."""
    spectrum = torch.fft.rfft(x, dim=-1)[..., :mmax]
    return torch.einsum("...km,mlk->...lm", spectrum, forward.to(spectrum.dtype))


def isht(coeffs: Tensor, inverse: Tensor, nlon: int) -> Tensor:
    """Inverse real SHT: complex ``[B, C, lmax, mmax]`` -> ``[B, C, nlat, nlon]``."""
    spectrum = torch.einsum("...lm,mlk->...km", coeffs, inverse.to(coeffs.dtype))
    return torch.fft.irfft(spectrum, n=nlon, dim=-1, norm="forward")


def sfno_conv(
    x: Tensor, forward: Tensor, inverse: Tensor, weight: Tensor, mmax: int, nlon: int,
    per_order: bool,
) -> Tensor:  # fmt: skip
    coeffs = sht(x, forward, mmax)
    w = torch.view_as_complex(weight) if per_order else weight.to(coeffs.dtype)
    rule = "bilm,oilm->bolm" if per_order else "bilm,oil->bolm"
    return isht(torch.einsum(rule, coeffs, w), inverse, nlon)


def fno_conv(x: Tensor, weight: Tensor, modes: tuple[int, ...]) -> Tensor:
    d = len(modes)
    dims = tuple(range(-d, 0))
    spectrum = torch.fft.rfftn(x, dim=dims)
    w = torch.view_as_complex(weight)
    out = torch.zeros(
        x.shape[0], w.shape[1], *x.shape[2:-1], x.shape[-1] // 2 + 1,
        dtype=spectrum.dtype, device=x.device,
    )  # fmt: skip
    for corner in range(2 ** (d - 1)):
        src, dst = [slice(None), slice(None)], [slice(None), slice(None)]
        for i, m in enumerate(modes[:-1]):
            low = not (corner >> i) & 1
            src.append(slice(0, m) if low else slice(-m, None))
            dst.append(slice(0, m) if low else slice(m, 2 * m))
        src.append(slice(0, modes[-1]))
        dst.append(slice(0, modes[-1]))
        out[tuple(src)] = torch.einsum("bi...,io...->bo...", spectrum[tuple(src)], w[tuple(dst)])
    return torch.fft.irfftn(out, s=x.shape[-d:], dim=dims)
