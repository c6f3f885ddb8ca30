"""Kernels of the local convolutions and of Galerkin attention on a flat grid (typing and
conventions: ``geoc.ops.grid_conv``, ``geoc.ops.galerkin``). Fields are ``[B, C, n1, ..., nd]``,
d = 1, 2 or 3; on a torus the padding is circular, so each kernel is exact there; on a
non-periodic grid it is zeros or the mirror image. Imports only torch (copied into exported
modules).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def local_conv(x: Tensor, weight: Tensor, bias: Tensor | None, padding: str) -> Tensor:
    """``out(p) = Σ_u W(u) x(p + u - r)``, ``r = k // 2`` (odd ``k``); past the edges the
    indices wrap (``padding="circular"``), read zeros (``"constant"``) or the mirror image
    (``"reflect"``)."""
    d = weight.ndim - 2
    pads = [r for k in reversed(weight.shape[2:]) for r in (k // 2, k // 2)]
    padded = F.pad(x, pads, mode=padding) if any(pads) else x
    return _CONV[d](padded, weight, bias)


def grid_patches(
    x: Tensor, kernel: tuple[int, ...], padding: str, fill: Tensor | None = None
) -> Tensor:
    """The ``k1 x ... x kd`` neighbourhood of every grid point, channels last: ``[B, *grid, C]
    -> [B, *grid, k1 * ... * kd, C]``, offsets ``u - r`` in row-major order (the order of a
    conv weight's taps, odd ``k``); past the edges as :func:`local_conv` reads them, except that
    ``"constant"`` reads the point ``fill`` ([C], zeros if None): a hyperbolic layer pads with
    its manifold's origin, since a zero vector is no point of it."""
    d = len(kernel)
    pads = [r for k in reversed(kernel) for r in (k // 2, k // 2)]
    shift = fill if fill is not None and padding == "constant" else None
    first = (x if shift is None else x - shift).movedim(-1, 1)
    padded = F.pad(first, pads, mode=padding) if any(pads) else first
    for axis, k in enumerate(kernel):
        padded = padded.unfold(2 + axis, k, 1)  # [B, C, *grid, k1, ..., k_axis]
    patches = padded.movedim(1, -1).flatten(1 + d, -2)  # [B, *grid, K, C]
    return patches if shift is None else patches + shift


def restrict(x: Tensor, weight: Tensor, bias: Tensor | None, factor: int) -> Tensor:
    """``out(i) = Σ_u W(u) x(f i + u)``: a stride-``f`` convolution with an ``f^d`` kernel,
    which tiles the grid (no padding needed: ``f`` divides every size)."""
    return _CONV[weight.ndim - 2](x, weight, bias, stride=factor)


def prolong(x: Tensor, weight: Tensor, bias: Tensor | None, factor: int) -> Tensor:
    """``out(f i + u) = Σ_c W(c, ·, u) x(c, i)``: the transposed stride-``f`` convolution with
    an ``f^d`` kernel, whose blocks tile the finer grid without overlap."""
    return _CONV_T[weight.ndim - 2](x, weight, bias, stride=factor)


def average(x: Tensor, factor: int) -> Tensor:
    """The mean of each ``f^d`` block."""
    return _AVG[x.ndim - 2](x, factor)


def nearest(x: Tensor, factor: int) -> Tensor:
    """Each value repeated over its ``f^d`` block of the finer grid."""
    for dim in range(2, x.ndim):
        x = x.repeat_interleave(factor, dim=dim)
    return x


def _head_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Layer norm over each head's channels (dim 2 of ``[B, H, d, N]``), point by point, with
    the head's learned scale and shift ``[H, d]``."""
    centred = x - x.mean(dim=2, keepdim=True)
    scale = (centred.square().mean(dim=2, keepdim=True) + eps).rsqrt()
    return centred * scale * weight[None, :, :, None] + bias[None, :, :, None]


def galerkin_attention(
    q: Tensor, k: Tensor, v: Tensor, heads: int, norms: tuple[Tensor, ...], eps: float
) -> Tensor:
    """``out_h(p) = q_h(p) (Σ_x k̃_h(x)ᵀ ṽ_h(x)) / n`` per head (Cao 2021), fields ``[B, C, *grid]``;
    ``norms`` are the scales and shifts of ``k`` and ``v``, each ``[heads, C / heads]``."""
    b, grid = q.shape[0], q.shape[2:]
    n = math.prod(grid)
    qh, kh, vh = (x.reshape(b, heads, x.shape[1] // heads, n) for x in (q, k, v))
    k_weight, k_bias, v_weight, v_bias = norms
    kn = _head_norm(kh, k_weight, k_bias, eps)
    vn = _head_norm(vh, v_weight, v_bias, eps)
    kv = torch.einsum("bhkn,bhvn->bhkv", kn, vn) / n
    out = torch.einsum("bhkn,bhkv->bhvn", qh, kv)
    return out.reshape(b, v.shape[1], *grid)
