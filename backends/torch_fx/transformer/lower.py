"""Lowering rules of the transformer family (kernels in transformer/kernels.py)."""

from __future__ import annotations

import torch
from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.transformer import kernels as rt_transformer
from geoc.initialisers import Initialiser
from geoc.ir import Node


@lowering("channel_scale")
def lower_channel_scale(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """The parameter starts at ``base`` in every channel (drawn as zeros, then filled: no
    initialiser of the language writes a constant), so the scale starts at ``init``."""
    init, base = float(node.attrs.get("init", 1.0)), float(node.attrs.get("base", 1.0))
    width = ctx.group.type_dim(ctx.in_types(node)[0])
    p = ctx.param(f"{node.id}.scale", (width,), width, Initialiser("zeros"))
    with torch.no_grad():
        ctx.root.get_parameter(str(p.target)).fill_(base)
    power = int(node.attrs.get("power", 1))
    squared = (power,) if power != 1 else ()  # the generated code of power 1 stays as it was
    return ctx.call(rt_transformer.channel_scale, args[0], p, init / base, *squared)


@lowering("head_normalize")
def lower_head_normalize(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt_transformer.head_normalize, args[0], int(node.attrs.get("heads", 1)))
