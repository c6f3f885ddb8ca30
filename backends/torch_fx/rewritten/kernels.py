"""Runtime kernels of the rewritten operators: plain torch, on the inputs' device and dtype."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Per part of the concat, in order: the index of its value among the distinct input values,
#: its first and last column in the layer's weight, and the end it is gathered at ("" for a
#: part already over edges).
SplitPlan = tuple[tuple[int, int, int, str], ...]


def gathered_layer(
    values: list[Tensor],
    weight: Tensor,
    bias: Tensor | None,
    src: Tensor,
    dst: Tensor,
    plan: SplitPlan,
) -> Tensor:
    """``W·concat(parts) + bias`` per edge, each part's product taken where it is cheapest:
    ``(W_a a + bias)[dst] + (W_b b)[src] + W_c c``. Each gathered part gets its own
    contiguous product (a slice of a shared one gathers and back-propagates several times
    slower); the bias joins the first gathered product, per node."""
    total: Tensor | None = None
    for index, start, stop, end in sorted(plan, key=lambda part: not part[3]):
        value, columns = values[index], weight[:, start:stop]
        if end:
            product = F.linear(value, columns, bias if total is None else None)
            gathered = torch.index_select(product, 0, dst if end == "dst" else src)
            total = gathered if total is None else total.add_(gathered)
        else:
            assert total is not None  # the rewrite needs a gathered part
            total = _add_edge_part(total, value, columns)
    assert total is not None
    return total


def _add_edge_part(total: Tensor, value: Tensor, columns: Tensor) -> Tensor:
    """``total + value @ columnsᵀ``: one ``addmm`` run eagerly (BLAS fuses the add); traced, a
    part one column wide is a broadcast product instead, which inductor fuses with the add, and
    whose backward needs no GEMM with an inner size of 1 (torch 2.11 guards there on an
    unbacked edge count)."""
    if columns.shape[1] == 1 and torch.compiler.is_compiling():
        return total + value * columns[:, 0]
    return torch.addmm(total, value, columns.t())
