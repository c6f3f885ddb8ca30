"""Lowering rules of the sequence family (kernels in sequence/kernels.py)."""

from __future__ import annotations

from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.sequence import kernels as rt_sequence
from geoc.initialisers import Initialiser
from geoc.ir import Node


def positions_of(ctx: LowerCtx, like: fx.Node, axis: str) -> fx.Node:
    """Each token's position in its sequence (one fx value per use; CSE shares them)."""
    index = ctx.index_for(axis)
    return ctx.call(rt_sequence.token_positions, like, index, ctx.num_graphs)


@lowering("rotary")
def lower_rotary(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    heads, base = int(node.attrs.get("heads", 1)), float(node.attrs.get("base", 10000.0))
    positions = positions_of(ctx, args[0], node.attrs["over"])
    return ctx.call(rt_sequence.rotary, args[0], positions, heads, base)


@lowering("position_embedding")
def lower_position_embedding(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """The table is drawn like GPT-2's, normal with standard deviation 0.02."""
    width = ctx.group.type_dim(ctx.in_types(node)[0])
    shape = (int(node.attrs["max_len"]), width)
    table = ctx.param(f"{node.id}.table", shape, width, Initialiser("normal", (("std", 0.02),)))
    positions = positions_of(ctx, args[0], node.attrs["over"])
    return ctx.call(rt_sequence.position_embedding, args[0], positions, table)
