"""Lowering rules of the attention family: softmax over the edges into each node or over an
axis per graph (kernels in attention/kernels.py); per-head weights on values of any type."""

from __future__ import annotations

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.attention import cross_kernels as rt_cross
from geoc.backends.torch_fx.attention import kernels as rt_attention
from geoc.backends.torch_fx.common import kernels as rt_common
from geoc.backends.torch_fx.domains.axes import positions
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.domains.axes import edge_ends
from geoc.domains.base import EdgeRule
from geoc.ir import Node
from geoc.ops.heads import head_of_copy


@lowering("softmax")
def lower_softmax(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Masked pairs of a traced edge layout get weight 0 (the kernel reads the mask)."""
    over, into = node.attrs["over"], node.attrs["into"]
    temperature = float(node.attrs.get("temperature", 1.0))
    if into is not None:
        edges = ctx.edges_of(over)
        return ctx.call(rt_attention.edge_softmax, args[0], edges, ctx.length(into), temperature)
    index, mask = ctx.index_for(over), ctx.edge_mask(over)
    return ctx.call(rt_attention.pool_softmax, args[0], index, ctx.num_graphs, mask, temperature)


@lowering("attention")
def lower_attention(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Fused through ``scaled_dot_product_attention``; a batch masks pairs across graphs, and
    along a causal sequence each row attends to the rows at or before it (its tokens, in
    order)."""
    over, heads = node.attrs["over"], int(node.attrs.get("heads", 1))
    ends = edge_ends(ctx.ir.domains, over)
    if ends is not None:
        return _lower_cross_attention(ctx, node, args, over, ends, heads)
    causal = (True,) if ctx.ir.domain.causal and over == ctx.ir.domain.axis else ()
    return ctx.call(rt_attention.dense_attention, *args, ctx.index_for(over), heads, *causal)


def _lower_cross_attention(
    ctx: LowerCtx,
    node: Node,
    args: list[fx.Node],
    over: str,
    ends: tuple[str, str],
    heads: int,
) -> fx.Node:
    """``rule=full`` between two axes with node queries, keys and values and no window: every
    pair of a graph, the fused kernel with a mask; otherwise the edges themselves, segment
    softmax, the window's term added to the scores from the two point clouds' positions."""
    src, dst = ends
    gather = tuple(t.axes != (over,) for t in ctx.in_types(node))
    window = float(node.attrs.get("window", 0.0))
    if all(gather) and not window and src != dst and _rule(ctx, over) is EdgeRule.FULL:
        index_q, index_k = ctx.index_for(dst), ctx.index_for(src)
        return ctx.call(rt_cross.full_cross_attention, *args, index_q, index_k, heads)
    edges, size = ctx.edges_of(over), ctx.length(dst)
    ends_at = (positions(ctx, src), positions(ctx, dst), window) if window else None
    return ctx.call(rt_cross.edge_attention, *args, edges, size, heads, gather, ends_at)


def _rule(ctx: LowerCtx, edge_set: str) -> EdgeRule | None:
    """The rule of a declared edge set (None for the primary domain's edges)."""
    found = (d.edges for d in ctx.ir.domains[1:] if d.axis == edge_set)
    return next(found, None)


@lowering("attention_pool")
def lower_attention_pool(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """The learned query is drawn like a linear layer's bias (uniform in ±1/√width)."""
    heads, width = int(node.attrs.get("heads", 1)), _width(ctx, node, 0)
    seeds = int(node.attrs.get("seeds", 1))
    seed = ctx.param(f"{node.id}.seed", (seeds * width,), width)
    index = ctx.index_for(node.attrs["over"])
    return ctx.call(rt_attention.attention_pool, *args, seed, index, ctx.num_graphs, heads)


def _width(ctx: LowerCtx, node: Node, arg: int) -> int:
    return ctx.group.type_dim(ctx.in_types(node)[arg])


@lowering("head_scale")
def lower_head_scale(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``a`` gathered to every component by a table of the head of its copy, times ``v``."""
    types = ctx.in_types(node)
    a, v = ctx.align(args, types, node.out_types[0].axes)
    value = types[1]
    dims = [ctx.group.atom_dim(t.atom) for t in value.terms for _ in range(t.mul)]
    owner = np.repeat(np.asarray(head_of_copy(value, types[0].copies), dtype=np.int64), dims)
    table = ctx.buffer(f"{node.id}.head_of_component", torch.as_tensor(owner, dtype=torch.long))
    return ctx.call(rt_common.per_copy_scale, a, v, table)
