"""Positions along a sequence: each token's rank in its own sequence, RoPE and a learned
table. Torch only (copied next to exported modules).

The rows of one sequence keep the tokens' order; sequences of a batch may come in any order
and interleaved (``batch`` gives each row's sequence), so a position is a rank among the rows of
the same sequence, found by a stable sort of ``batch``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.validate_kernels import _require


def token_positions(like: Tensor, batch: Tensor | None, num_graphs: int) -> Tensor:
    """``[n]`` int64: row ``i``'s position in its sequence (``batch[i]``; None: one sequence)."""
    rows = torch.arange(like.shape[0], device=like.device)
    if batch is None:
        return rows
    order = torch.argsort(batch, stable=True)  # each sequence's rows together, in order
    counts = torch.zeros(num_graphs, dtype=rows.dtype, device=rows.device)
    counts = counts.index_add(0, batch, torch.ones_like(batch))
    start = torch.cumsum(counts, 0) - counts
    ranks = rows - start.index_select(0, batch.index_select(0, order))
    return torch.zeros_like(rows).scatter(0, order, ranks)


def rotary(x: Tensor, positions: Tensor, heads: int, base: float) -> Tensor:
    """RoPE per head of ``d`` channels: the pair ``(x_i, x_{i+d/2})`` rotated by
    ``p · base^(-2i/d)`` (the ``rotate_half`` layout of GPT-NeoX and Llama)."""
    n, width = x.shape
    d = width // heads
    half = d // 2
    freq = base ** (-torch.arange(half, dtype=x.dtype, device=x.device) * 2 / d)
    angle = positions.to(x.dtype).unsqueeze(-1) * freq  # [n, half]
    cos, sin = torch.cos(angle).unsqueeze(1), torch.sin(angle).unsqueeze(1)
    parts = x.reshape(n, heads, d)
    first, second = parts[..., :half], parts[..., half:]
    turned = torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)
    return turned.reshape(n, width)


def position_embedding(x: Tensor, positions: Tensor, table: Tensor) -> Tensor:
    """``x + table[p]``; a position past the table is ``GEO650``."""
    longest = table.shape[0]
    ok = (positions < longest).all()
    _require(ok, "GEO650", "batch", f"a sequence is longer than `max_len={longest}` tokens")
    rows = table.index_select(0, positions.clamp(max=longest - 1))
    return x + rows.to(x.dtype)  # under autocast the table stays float32, `x` does not
