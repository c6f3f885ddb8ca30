"""Lowering rules of the rewritten operators (``geoc.ops.rewritten``): the first layer of an
``mlp`` or dense ``linear`` on gathered parts, and the products over edges (attention's scores
and weighted values), with the parameters of the node they replaced."""

from __future__ import annotations

from torch import fx

from geoc.backends.torch_fx.core.lower import SchurPlan, dense_linear_params, mlp_layers
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.rewritten import csr_kernels as rt_csr
from geoc.backends.torch_fx.rewritten import kernels as rt_rewritten
from geoc.domains import EDGE_AXIS
from geoc.domains.axes import edge_ends
from geoc.ir import Node
from geoc.types import FeatureType


def _split_plan(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> tuple[list[fx.Node], tuple]:
    """The distinct values the parts read, and per part its value, weight columns and end
    (``rt_rewritten.SplitPlan``)."""
    values: list[fx.Node] = []
    plan = []
    start = 0
    for arg, ftype, end in zip(args, ctx.in_types(node), node.attrs["ends"], strict=True):
        stop = start + ctx.group.type_dim(ftype)
        if arg not in values:
            values.append(arg)
        plan.append((values.index(arg), start, stop, end))
        start = stop
    return values, tuple(plan)


def _first_layer(ctx: LowerCtx, node: Node, args: list[fx.Node]):
    values, plan = _split_plan(ctx, node, args)
    src, dst = ctx.edge_part(0), ctx.edge_part(1)
    return lambda weight, bias: ctx.call(
        rt_rewritten.gathered_layer, values, weight, bias, src, dst, plan
    )


@lowering("gathered_mlp")
def lower_gathered_mlp(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    fan_in = sum(ctx.group.type_dim(t) for t in ctx.in_types(node))
    return mlp_layers(ctx, node, fan_in, _first_layer(ctx, node, args))


@lowering("gathered_linear")
def lower_gathered_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    joined = FeatureType(tuple(term for t in ctx.in_types(node) for term in t.terms))
    plan = SchurPlan.build(ctx.group, joined, node.out_types[0])
    assert plan.is_dense, "the rewrite splits only maps between invariant scalars"
    weight, bias = dense_linear_params(ctx, node, plan)
    return _first_layer(ctx, node, args)(weight, bias)


def _csr(ctx: LowerCtx) -> fx.Node:
    """The primary edges compressed by destination and by source, built once per module."""
    if ctx.edge_csr is None:
        nodes = edge_ends(ctx.ir.domains, EDGE_AXIS)
        assert nodes is not None, "the rewrite reads the primary edges"
        edges = ctx.edges_of(EDGE_AXIS)
        ctx.edge_csr = ctx.call(rt_csr.edge_csr, edges, ctx.length(nodes[1]), name="edge_csr")
    return ctx.edge_csr


@lowering("gathered_bilinear")
def lower_gathered_bilinear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """The dense weight scales the value read at ``dst``, row by row of the output."""
    types = ctx.in_types(node)
    joined = FeatureType(tuple(term for term in types[0].terms))
    plan = SchurPlan.build(ctx.group, joined, node.out_types[0])
    assert plan.is_dense, "the rewrite takes only maps between invariant scalars"
    weight, bias = dense_linear_params(ctx, node, plan)
    at_dst, at_src = args if node.attrs["ends"][0] == "dst" else args[::-1]
    edges = ctx.edges_of(EDGE_AXIS)
    return ctx.call(rt_csr.edge_bilinear, at_dst, at_src, weight, bias, edges, _csr(ctx))


@lowering("gathered_weighted_sum")
def lower_gathered_weighted_sum(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Masked pairs of a traced edge layout add nothing (the kernel reads the mask)."""
    edges = ctx.edges_of(EDGE_AXIS)
    size = ctx.length(node.attrs["into"])
    return ctx.call(rt_csr.edge_weighted_sum, args[0], args[1], edges, _csr(ctx), size)
