"""The spectral convolution of the Fourier neural operator as the paper's code writes it (Li et
al. 2021), and any-d corners: the references that the FNO tests compare against."""

from __future__ import annotations

import torch


def fno_reference_2d(x, weights1, weights2, modes1, modes2):
    """SpectralConv2d of Li et al. (2021), as in the original code."""
    batch, _, n1, n2 = x.shape
    x_ft = torch.fft.rfft2(x)
    out_ft = torch.zeros(batch, weights1.shape[1], n1, n2 // 2 + 1, dtype=x_ft.dtype)
    mix = "bixy,ioxy->boxy"
    out_ft[:, :, :modes1, :modes2] = torch.einsum(mix, x_ft[:, :, :modes1, :modes2], weights1)
    out_ft[:, :, -modes1:, :modes2] = torch.einsum(mix, x_ft[:, :, -modes1:, :modes2], weights2)
    return torch.fft.irfft2(out_ft, s=(n1, n2))


def fno_reference_1d(x, weights, modes):
    """SpectralConv1d of Li et al. (2021), as in the original code."""
    x_ft = torch.fft.rfft(x)
    out_ft = torch.zeros(x.shape[0], weights.shape[1], x.shape[-1] // 2 + 1, dtype=x_ft.dtype)
    out_ft[:, :, :modes] = torch.einsum("bix,iox->box", x_ft[:, :, :modes], weights)
    return torch.fft.irfft(out_ft, n=x.shape[-1])


def fno_reference_nd(x, weight, modes):
    """Any d: every corner of kept frequencies, scattered into a zero spectrum."""
    d = len(modes)
    dims = tuple(range(-d, 0))
    x_ft = torch.fft.rfftn(x, dim=dims)
    w = torch.view_as_complex(weight)
    out_ft = torch.zeros(x.shape[0], w.shape[1], *x_ft.shape[2:], dtype=x_ft.dtype)
    for corner in range(2 ** (d - 1)):
        src, dst = [slice(None)] * 2, [slice(None)] * 2
        for i, m in enumerate(modes[:-1]):
            high = (corner >> i) & 1
            src.append(slice(-m, None) if high else slice(0, m))
            dst.append(slice(m, 2 * m) if high else slice(0, m))
        src.append(slice(0, modes[-1]))
        dst.append(slice(0, modes[-1]))
        out_ft[tuple(src)] = torch.einsum("bi...,io...->bo...", x_ft[tuple(src)], w[tuple(dst)])
    return torch.fft.irfftn(out_ft, s=x.shape[-d:], dim=dims)
