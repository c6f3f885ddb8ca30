"""Spectral filter variants of the FNO layer for stable autoregressive rollouts (McCabe et al.,
"Towards Stability of Autoregressive Neural Operators", arXiv:2306.10619): depthwise filters,
an isotropic (disc) cut-off and a bound on each mode's filter. Torch-only, exported with the
model; weights are real with a trailing ``(re, im)`` axis, in :func:`kernels.fno_conv`'s layout
of the kept modes (non-last axes ``0..m-1, -m..-1``, last axis ``0..m-1``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.precision_kernels import full
from geoc.backends.torch_fx.spectral.kernels import _check_modes, irfft_tail

#: Below this squared norm ``tanh(r) / r`` is its series ``1 - s/3 + 2 s²/15`` (``s = r²``):
#: exact to float64 there, and free of the 0/0 whose derivatives would be NaN at ``w = 0``.
_SERIES_BELOW = 1e-6


def disc_mask(modes: tuple[int, ...]) -> Tensor:
    """``[2m, ..., 2m, m]`` (float64): 1 on the kept modes with ``Σ k_j² < m²``, else 0. Even
    in ``k`` (``|k| = |-k|``), so a masked real kernel's spectrum stays one of a real kernel."""
    m = modes[0]
    axes = [torch.cat([torch.arange(m), torch.arange(-m, 0)]) for _ in modes[:-1]]
    axes.append(torch.arange(m))
    grids = torch.meshgrid(*axes, indexing="ij")
    radius2 = sum(k.to(torch.int64) ** 2 for k in grids)
    return (radius2 < m * m).to(torch.float64)


def bounded(weight: Tensor, bound: float, block: int) -> Tensor:
    """``B tanh(|w|) w / |w|`` per filter, ``|w|`` the Frobenius norm over the first ``block``
    axes (the channel matrix of a mode: 2; one complex weight: 0) and ``(re, im)``: each
    filter's norm is below ``B``, smoothly, with the gradient of ``B w`` near 0."""
    dims = (*range(block), weight.dim() - 1)
    s = (weight * weight).sum(dim=dims, keepdim=True)
    small = s < _SERIES_BELOW
    r = torch.sqrt(torch.where(small, torch.ones_like(s), s))  # masked before the sqrt at 0
    ratio = torch.where(small, 1.0 - s / 3.0 + 2.0 * s * s / 15.0, torch.tanh(r) / r)
    return weight * (bound * ratio)


def fno_conv_depthwise(
    x: Tensor, weight: Tensor, modes: tuple[int, ...], source: str = "x"
) -> Tensor:
    """``y_c = IDFT(w_c(k) · DFT(x_c))`` per channel ``c``: ``x`` ``[B, C, n_1, ..., n_d]``,
    ``weight`` ``[C, *kept, 2]``; the other modes are zeroed. Same conventions as
    :func:`kernels.fno_conv` (``mixing=full`` with a diagonal matrix per mode gives the same
    numbers): the non-last axes are inverted as complex DFTs, the last by a real inverse FFT,
    which drops the imaginary parts that a real signal cannot carry."""
    grid = tuple(x.shape[2:])
    _check_modes(grid, modes, source)  # a coarser grid is GEO622, naming the input `source`
    if x.shape[0] == 0:  # MKL's FFT refuses an empty batch; `0 * weight` keeps its gradient
        return torch.zeros_like(x) + 0 * weight.sum()
    d = len(modes)
    axes = tuple(range(2, 2 + d))
    spectrum = torch.fft.rfftn(full(x), dim=axes)[..., : modes[-1]]
    for j in range(d - 1):  # keep 0..m-1 and -m..-1 along each non-last axis
        n, m = grid[j], modes[j]
        ax = 2 + j
        spectrum = torch.cat([spectrum.narrow(ax, 0, m), spectrum.narrow(ax, n - m, m)], ax)
    w = torch.view_as_complex(weight.to(spectrum.real.dtype).contiguous())
    mixed = spectrum * w
    for j in range(d - 1):  # zeros between the kept frequencies, back to n along the axis
        n, m = grid[j], modes[j]
        ax = 2 + j
        gap = list(mixed.shape)
        gap[ax] = n - 2 * m
        zeros = mixed.new_zeros(gap)
        mixed = torch.cat([mixed.narrow(ax, 0, m), zeros, mixed.narrow(ax, m, m)], ax)
    if d > 1:
        mixed = torch.fft.ifftn(mixed, dim=axes[:-1])
    return irfft_tail(mixed, grid[-1], "backward")


def filtered(weight: Tensor, mask: Tensor | None, bound: float, block: int) -> Tensor:
    """The weight a layer applies: bounded (``bound > 0``), then masked to the disc."""
    if bound > 0:
        weight = bounded(weight, bound, block)
    if mask is not None:
        weight = weight * mask.to(weight.dtype).unsqueeze(-1)
    return weight
