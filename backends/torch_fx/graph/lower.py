"""Lowering rules of the graph operators: gather, scatter and pooling."""

from __future__ import annotations

import torch
from torch import fx

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.gcnn import kernels as rt_gcnn
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.domains import EDGE_AXIS
from geoc.ir import Node
from geoc.ops.graph import GRID_AXES

_SCATTER = {"sum": rt.scatter_sum, "mean": rt.scatter_mean, "max": rt.scatter_max}
_POOL = {"sum": rt.pool_sum, "mean": rt.pool_mean, "max": rt.pool_max}


@lowering("gather")
def lower_gather(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    end = ctx.edge_part(0 if node.attrs["end"] == "src" else 1)
    return ctx.call(torch.index_select, args[0], 0, end)


@lowering("sum", "mean", "max")
def lower_reduce(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    over, into = node.attrs["over"], node.attrs["into"]
    if over in GRID_AXES:  # a field, channels last here: pooled over every grid point
        return ctx.call(rt_gcnn.grid_pool, args[0], node.op)
    if into is not None:
        return ctx.call(_SCATTER[node.op], args[0], ctx.edges, ctx.length(into))
    mask = ctx.edge_part(2) if over == EDGE_AXIS else None
    return ctx.call(_POOL[node.op], args[0], ctx.index_for(over), ctx.num_graphs, mask)
