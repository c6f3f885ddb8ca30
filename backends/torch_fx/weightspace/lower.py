"""Lowering rules of the weight-space operators (see ``geoc.ops.weightspace``), and the packing
of weight-space inputs and outputs.

A weight-space input ``w`` is passed as a list ``[W_1, b_1, ..., W_L, b_L]`` (``W_i: [batch,
d_i, d_{i-1}, c]``, PyTorch's ``nn.Linear`` layout, or ``K_i: [batch, c_i, c_{i-1}, k, k, c]``;
``b_i: [batch, d_i, c]``), with ``padded=true`` followed by the widths ``[batch, hidden
layers]``; inside the module it is one ``[batch, P, c]`` tensor, so the pointwise operators
apply unchanged, and the padding mask of the first such input is ``ctx.masks["weights"]``; an
output over ``weights`` is unpacked to the same list layout (padding zeroed).
"""

from __future__ import annotations

import operator

from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.weightspace import kernels as rt_ws
from geoc.domains import WEIGHTS_AXIS
from geoc.initialisers import UNIFORM
from geoc.ir import Node, Port
from geoc.ops.weightspace import WeightSpace, is_weight_value


def _space(ctx: LowerCtx) -> WeightSpace:
    return WeightSpace.of(ctx.ir.domain)


def pack_inputs(ctx: LowerCtx) -> None:
    """Each input over `weights` becomes one packed tensor, owned by its IR input node; with
    padding, the first one's widths make the mask every layer reads."""
    space = _space(ctx)
    for name, port in ctx.ir.inputs.items():
        if not is_weight_value(port.type):
            continue
        channels = ctx.group.type_dim(port.type)
        layers = ctx.inputs[name]
        if space.padded:
            layers = ctx.call(operator.getitem, layers, slice(0, -1), name=f"{name}_layers")
        args = (layers, space.shapes, channels, space.names)
        packed = ctx.call(rt_ws.pack, *args, name=f"{name}_packed")
        if space.padded and WEIGHTS_AXIS not in ctx.masks:
            widths = ctx.call(operator.getitem, ctx.inputs[name], -1, name=f"{name}_widths")
            mask = ctx.call(rt_ws.padding_mask, widths, space.mask_plan(), packed, name="padding")
            ctx.masks[WEIGHTS_AXIS] = mask
        packed.meta["geoc_node"] = port.value.node
        ctx.values[port.value] = packed


def output_value(ctx: LowerCtx, port: Port) -> fx.Node:
    """An output over `weights` as the list ``[W_1, b_1, ..., W_L, b_L]``; others as they are."""
    value = ctx.values[port.value]
    if not is_weight_value(port.type):
        return value
    mask = ctx.masks.get(WEIGHTS_AXIS)
    return ctx.call(rt_ws.unpack, value, _space(ctx).shapes, mask, name=f"{port.name}_layers")


@lowering("dws_linear")
def lower_dws_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    space = _space(ctx)
    c_in = ctx.group.type_dim(ctx.in_types(node)[0])
    c_out = ctx.group.type_dim(node.out_types[0])
    blocks, members = space.plan()
    fan_in = sum(space.term_width(t) for t in space.terms) * c_in  # the inputs of one output
    fan_in += sum(w for _, w in space.tied_targets) * c_in
    init = node.attrs.get("init") or UNIFORM
    weights = [
        ctx.param(f"{node.id}.weight_{t.label}", (w * c_out, w * c_in), fan_in, init)
        for t, w in ((t, space.term_width(t)) for t in space.terms)
    ]
    width = space.invariant_width * c_out
    bias_init = node.attrs.get("bias_init") or UNIFORM
    bias = ctx.param(f"{node.id}.bias", (width,), fan_in, bias_init) if node.attrs["bias"] else None
    tied = [
        ctx.param(
            f"{node.id}.weight_tied_{space.blocks[b].name}", (f * c_out, w * c_in), fan_in, init
        )
        for b, w, f in ((b, w, space.blocks[b].fixed_size) for b, w in space.tied_targets)
    ]
    mask = ctx.masks.get(WEIGHTS_AXIS)
    extra = (space.tied_maps, space.tied_targets, tied) if tied else ()
    return ctx.call(rt_ws.dws_linear, args[0], blocks, members, weights, bias, c_out, mask, *extra)


@lowering("dws_pool")
def lower_dws_pool(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    blocks, _ = _space(ctx).plan()
    mask = ctx.masks.get(WEIGHTS_AXIS)
    return ctx.call(rt_ws.dws_pool, args[0], blocks, node.attrs["reduce"], mask)


@lowering("dws_flatten")
def lower_dws_flatten(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt_ws.dws_flatten, args[0], ctx.masks.get(WEIGHTS_AXIS))
