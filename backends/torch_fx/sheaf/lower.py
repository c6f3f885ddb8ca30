"""Lowering rules of neural sheaf diffusion (``geoc.ops.sheaf``)."""

from __future__ import annotations

from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.sheaf import kernels as rt_sheaf
from geoc.ir import Node


@lowering("restriction_maps")
def lower_restriction_maps(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``Φ``: ``[d or d(d-1)/2, 2 * width]``, drawn as ``nn.Linear``'s weight is."""
    d, diagonal = node.attrs["d"], node.attrs["kind"] == "diag"
    width = sum(ctx.group.type_dim(t) for t in ctx.in_types(node))
    rows = d if diagonal else d * (d - 1) // 2
    weight = ctx.param(f"{node.id}.weight", (rows, width), width)
    return ctx.call(rt_sheaf.restriction_maps, *args, weight, d, diagonal)


@lowering("sheaf_diffusion")
def lower_sheaf_diffusion(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``W1`` (``d x d``) and ``W2`` (``f x f``), drawn as ``nn.Linear``'s weights are."""
    d = node.attrs["d"]
    f = ctx.group.type_dim(ctx.in_types(node)[0]) // d
    w1 = ctx.param(f"{node.id}.w1", (d, d), d)
    w2 = ctx.param(f"{node.id}.w2", (f, f), f)
    (edges,) = ctx.in_types(node)[1].axes
    diagonal = node.attrs["kind"] == "diag"
    return ctx.call(rt_sheaf.sheaf_diffusion, *args, ctx.edges_of(edges), w1, w2, diagonal)
