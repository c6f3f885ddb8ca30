"""Lowering rules of the graph operators: gather, scatter and pooling."""

from __future__ import annotations

import torch
from torch import fx

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.common import periodic_kernels as rt_periodic
from geoc.backends.torch_fx.domains.axes import positions
from geoc.backends.torch_fx.gcnn import kernels as rt_gcnn
from geoc.backends.torch_fx.graph import interpolation_kernels as rt_interp
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.domains import EDGE_AXIS
from geoc.domains.axes import edge_ends
from geoc.domains.grid import is_grid_axis
from geoc.ir import Node
from geoc.ops.graph import SAMPLE_END
from geoc.ops.graph_interpolation import EPS
from geoc.types import FeatureType

_SCATTER = {"sum": rt.scatter_sum, "mean": rt.scatter_mean, "max": rt.scatter_max}
_POOL = {"sum": rt.pool_sum, "mean": rt.pool_mean, "max": rt.pool_max}


@lowering("gather")
def lower_gather(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Under a periodic cell a point gathered at ``src`` is the image of ``src`` seen from
    ``dst`` (``x[src] - shift @ cell``), so ``x[dst] - x[src]`` is the edge vector."""
    src = node.attrs["end"] == "src"
    edges = node.attrs.get("edges", EDGE_AXIS)
    if node.attrs["end"] == SAMPLE_END:  # x[from(centres)]: the rows at the sampled points
        return ctx.call(torch.index_select, args[0], 0, ctx.samples[edges])
    gathered = ctx.call(torch.index_select, args[0], 0, ctx.edge_part(0 if src else 1, edges))
    starts = _point_starts(ctx, ctx.in_types(node)[0])
    if not (src and starts and ctx.edge_offsets is not None and edges == EDGE_AXIS):
        return gathered
    return ctx.call(rt_periodic.image_points, gathered, ctx.edge_offsets, starts)


def _point_starts(ctx: LowerCtx, ftype: FeatureType) -> tuple[int, ...]:
    """The first channel of every point copy of ``ftype``."""
    starts, at = [], 0
    for term in ftype.terms:
        dim = ctx.group.atom_dim(term.atom)
        if term.atom.is_point:
            starts += [at + copy * dim for copy in range(term.mul)]
        at += term.mul * dim
    return tuple(starts)


@lowering("sum", "mean", "max")
def lower_reduce(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    over, into = node.attrs["over"], node.attrs["into"]
    if is_grid_axis(over):  # a field, channels last here: pooled over every grid point
        return ctx.call(rt_gcnn.grid_pool, args[0], node.op)
    if into is not None:
        return ctx.call(_SCATTER[node.op], args[0], ctx.edges_of(over), ctx.length(into))
    mask = ctx.edge_mask(over)
    return ctx.call(_POOL[node.op], args[0], ctx.index_for(over), ctx.num_graphs, mask)


@lowering("interpolate")
def lower_interpolate(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Weighted by the squared distances between the edge set's two point clouds."""
    over = node.attrs["over"]
    src, dst = edge_ends(ctx.ir.domains, over)  # type: ignore[misc]
    points = positions(ctx, src), positions(ctx, dst)
    edges, length = ctx.edges_of(over), ctx.length(dst)
    return ctx.call(rt_interp.interpolate, args[0], *points, edges, length, EPS)
