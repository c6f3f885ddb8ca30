"""Runtime kernels of the rewritten operators: plain torch, on the inputs' device and dtype."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Per distinct input value: its index among the parts' values, and for each part that reads
#: it the first and last column of the part in the layer's weight and the end it is gathered
#: at ("" for a part already over edges).
SplitPlan = tuple[tuple[int, tuple[tuple[int, int, str], ...]], ...]


def gathered_layer(
    values: list[Tensor],
    weight: Tensor,
    bias: Tensor | None,
    src: Tensor,
    dst: Tensor,
    plan: SplitPlan,
) -> Tensor:
    """``W·concat(parts) + bias`` per edge, each part's product taken where it is cheapest:
    ``(W_a a)[dst] + (W_b b)[src] + W_c c + bias``. Parts that read one value share one
    matmul (their weight columns stacked as rows)."""
    width = weight.shape[0]
    total: Tensor | None = None
    for index, parts in plan:
        rows = torch.cat([weight[:, start:stop] for start, stop, _ in parts], 0)
        product = F.linear(values[index], rows)
        for slot, (_, _, end) in enumerate(parts):
            piece = product[..., slot * width : (slot + 1) * width]
            if end:
                piece = torch.index_select(piece, 0, dst if end == "dst" else src)
            total = piece if total is None else total + piece
    assert total is not None  # a split has at least one part
    return total if bias is None else total + bias
