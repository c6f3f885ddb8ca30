"""Kernels of the group convolutions on a torus grid (docs/gcnn.md; Cohen & Welling 2016).

Each layer builds its bank of transformed filters once per forward, by one gather with an index
table computed at compile time (``geoc.ops.gcnn``), and runs one ``conv2d`` over the
circularly padded input: exact on the torus. Channels of group feature maps are copy-major,
``[B, copies * |G|, H, W]``. Imports only torch (copied into exported modules).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def circular_conv(x: Tensor, bank: Tensor, bias: Tensor | None) -> Tensor:
    """Periodic cross-correlation ``out(p) = Σ_u bank(u) x(p + u)``, offsets centred."""
    r = bank.shape[-1] // 2
    padded = F.pad(x, (r, r, r, r), mode="circular") if r else x
    return F.conv2d(padded, bank, bias)


def _copy_bias(bias: Tensor | None, order: int) -> Tensor | None:
    """One bias per output copy, the same on its |G| channels (so it stays invariant)."""
    return None if bias is None else bias.repeat_interleave(order)


def lift_conv(x: Tensor, weight: Tensor, gather: Tensor, size: int, bias: Tensor | None) -> Tensor:
    """``[B, I, H, W] -> [B, O*|G|, H, W]``: channel ``(c, g)`` correlates with ``g·ψ_c``.

    ``weight`` is ``[O, I, size*size]``; ``gather[g]`` lists where ``g·ψ`` reads ``ψ``.
    """
    out_copies, width, _ = weight.shape
    order = gather.shape[0]
    bank = weight[:, :, gather]  # [O, I, G, K*K]
    bank = bank.permute(0, 2, 1, 3).reshape(out_copies * order, width, size, size)
    return circular_conv(x, bank, _copy_bias(bias, order))


def group_conv(x: Tensor, weight: Tensor, gather: Tensor, size: int, bias: Tensor | None) -> Tensor:
    """``[B, I*|G|, H, W] -> [B, O*|G|, H, W]``: channel ``(c, g)`` is ``Σ_h z_h ⋆ ψ_c(g⁻¹h,
    g⁻¹u)``.

    ``weight`` is ``[O, I, |G|, size*size]``; ``gather[g, h]`` indexes the flattened
    ``(|G|, size*size)`` filter: ``index(g⁻¹ h) * size² + where (g·ψ) reads ψ``.
    """
    out_copies, in_copies, order, _ = weight.shape
    bank = weight.flatten(2)[:, :, gather]  # [O, I, G(g), G(h), K*K]
    bank = bank.permute(0, 2, 1, 3, 4).reshape(out_copies * order, in_copies * order, size, size)
    return circular_conv(x, bank, _copy_bias(bias, order))


def group_pool(x: Tensor, order: int, reduce: str) -> Tensor:
    """``[B, C*|G|, *grid] -> [B, C, *grid]``: max or mean over each copy's |G| channels."""
    grouped = x.unflatten(1, (-1, order))
    return grouped.amax(2) if reduce == "max" else grouped.mean(2)


def grid_pool(x: Tensor, reduce: str) -> Tensor:
    """``[B, *grid, C] -> [B, C]``: a field (channels last) pooled over all its grid points."""
    flat = x.flatten(1, -2)
    if reduce == "max":
        return flat.amax(1)
    return flat.mean(1) if reduce == "mean" else flat.sum(1)
