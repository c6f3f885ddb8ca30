"""Lowering rules of the rewritten operators (``geoc.ops.rewritten``): the first layer of an
``mlp`` or dense ``linear`` on gathered parts, with the parameters of the node it replaced."""

from __future__ import annotations

from torch import fx

from geoc.backends.torch_fx.core.lower import SchurPlan, dense_linear_params, mlp_layers
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.rewritten import kernels as rt_rewritten
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
