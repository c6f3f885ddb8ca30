"""Runtime kernels of the rewritten operators: plain torch, on the inputs' device and dtype."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Per part of the concat, in order: the index of its value among the distinct input values,
#: its first and last column in the layer's weight, and the end it is gathered at ("" for a
#: part already over edges).
SplitPlan = tuple[tuple[int, int, int, str], ...]

#: Edge parts at most this wide are added column by column (``addcmul``): a matmul with an
#: inner size of 1 or 2 is several times slower than a broadcast multiply-add on the CPU.
NARROW = 2


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
        elif stop - start <= NARROW:
            assert total is not None  # the rewrite needs a gathered part
            for column in range(stop - start):
                total = torch.addcmul(total, value[..., column : column + 1], columns[:, column])
        else:
            assert total is not None
            total = torch.addmm(total, value, columns.t())
    assert total is not None
    return total
