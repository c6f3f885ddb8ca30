"""PointNet++'s inverse-distance interpolation (``interpolate``, geoc.ops.graph_interpolation).
Plain PyTorch; copied next to exported modules like every kernel module.

``f(b) = Σ_j w_j h(a_j) / Σ_j w_j`` over the edges ``a_j -> b``, ``w_j = 1 / max(d_j², eps)``
(PyTorch Geometric's ``knn_interpolate`` convention). Computed as ``w_j = m_b / s_j`` with
``s_j = max(d_j², eps)`` and ``m_b`` the smallest ``s`` of ``b``'s edges (detached: the ratio
does not depend on it), so every weight lies in ``(0, 1]`` and the nearest one is 1; and as
``f(b) = h(a_n) + Σ_j w_j (h(a_j) - h(a_n)) / Σ_j w_j``, ``a_n`` its nearest source, the same
value, whose derivatives carry no cancellation: near a source ``f`` is ``h(a_n) + O(d²)``, and
the plain quotient's derivative is the difference of two terms of order ``1/d²`` (in float32
O(1) noise instead of O(d)). No square root anywhere; a destination on a source (``d² = 0``)
has the clamped weight, whose derivative is 0. Masked pairs (traced edge sets) are replaced
before the division, never after; a destination without edges gets 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import Edges
from geoc.backends.torch_fx.common.precision_kernels import accumulate, settle


def interpolate(
    values: Tensor, pos_src: Tensor, pos_dst: Tensor, edges: Edges, num_dst: int, eps: float
) -> Tensor:
    """``values`` ``[n_src, C]`` interpolated onto ``num_dst`` destinations ``[num_dst, C]``."""
    src, dst, mask = edges
    acc = accumulate(values)  # half precision weighs in float32 (1/eps overflows float16)
    diff = pos_dst.index_select(0, dst).to(acc.dtype) - pos_src.index_select(0, src).to(acc.dtype)
    floor = diff.pow(2).sum(-1).clamp(min=eps)
    live = None if mask is None else mask != 0
    least, first = _nearest(floor.detach(), dst, live, num_dst)
    nearest = least.index_select(0, dst)
    if live is not None:  # a masked pair divides its destination's own floor: weight 1, then 0
        floor = torch.where(live, floor, nearest)
    weight = nearest / floor
    if live is not None:
        weight = weight * live.to(weight.dtype)
    # each destination's nearest source (a row of zeros where it has no edge)
    nearest_src = torch.cat((src, src.new_full((1,), acc.shape[0]))).index_select(0, first)
    padded = torch.cat((acc, acc.new_zeros((1, acc.shape[-1]))))
    base = padded.index_select(0, nearest_src)
    offsets = acc.index_select(0, src) - padded.index_select(0, nearest_src.index_select(0, dst))
    total = acc.new_zeros((num_dst, acc.shape[-1])).index_add(0, dst, offsets * weight[:, None])
    norm = acc.new_zeros(num_dst).index_add(0, dst, weight)
    some = (norm > 0).unsqueeze(-1)
    norm = torch.where(norm > 0, norm, torch.ones_like(norm))
    out = torch.where(some, base + total / norm.unsqueeze(-1), torch.zeros_like(base))
    return settle(out, values.dtype)


def _nearest(
    floor: Tensor, dst: Tensor, live: Tensor | None, num_dst: int
) -> tuple[Tensor, Tensor]:
    """Each destination's smallest clamped squared distance over its live edges (1 if none),
    and the first edge that has it (``len(dst)``, a row of zeros, if none)."""
    ranked = floor if live is None else floor.masked_fill(~live, float("inf"))
    least = floor.new_full((num_dst,), float("inf")).scatter_reduce(0, dst, ranked, "amin")
    edges = dst.shape[0]
    ids = torch.arange(edges, device=dst.device)
    at_least = torch.where(ranked == least.index_select(0, dst), ids, torch.full_like(ids, edges))
    first = torch.full_like(least, edges, dtype=ids.dtype).scatter_reduce(0, dst, at_least, "amin")
    return torch.where(torch.isinf(least), torch.ones_like(least), least), first
