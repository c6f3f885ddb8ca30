"""Lowering rules of Poincaré ResNet's operators (typing: ``geoc.ops.manifold_grid_poincare``;
kernels: :mod:`geoc.backends.torch_fx.manifold.poincare_grid_kernels`). Imported by the
manifold family's ``lower.py``, which registers every manifold lowering."""

from __future__ import annotations

import math

import torch
from torch import fx

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.gcnn import kernels as rt_gcnn
from geoc.backends.torch_fx.grid.lower import PADDING
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.manifold import poincare_grid_kernels as rtp
from geoc.backends.torch_fx.manifold.lower import tag
from geoc.backends.torch_fx.manifold.modes import MODE_DEPENDENT
from geoc.domains.grid import is_grid_axis
from geoc.ir import Node
from geoc.types import simplify


def _atom(ctx: LowerCtx, node: Node):
    return simplify(ctx.in_types(node)[0].terms)[0].atom


@lowering("poincare_conv")
def lower_poincare_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _atom(ctx, node)
    dims = len(ctx.ir.domain.grid)
    kernel = node.attrs["kernel"]
    kernel = (kernel,) * dims if isinstance(kernel, int) else tuple(kernel)
    fan_in = atom.args[0] * math.prod(kernel)  # the β-concatenated point's dimension
    a = ctx.param(f"{node.id}.a", (node.attrs["out"], fan_in), fan_in)
    r = ctx.constant_param(f"{node.id}.r", torch.zeros(node.attrs["out"]))
    padding = PADDING[ctx.ir.domain.boundary]  # `zero` reads zeros: the ball's origin
    return ctx.call(rtp.poincare_conv, args[0], a, r, atom.curvature, kernel, padding)


@lowering("poincare_midpoint_batch_norm")
def lower_poincare_batch_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _atom(ctx, node)
    n, c = atom.args[0], atom.curvature
    dtype = ctx.dtype or torch.get_default_dtype()
    running_mean = ctx.buffer(f"{node.id}.running_mean", torch.zeros(n, dtype=dtype))
    running_var = ctx.buffer(f"{node.id}.running_var", torch.ones((), dtype=dtype))
    scale = ctx.constant_param(f"{node.id}.scale", torch.ones(()))
    bias = None
    if node.attrs["bias"]:  # a point of the ball, at the origin at the start
        bias = ctx.constant_param(f"{node.id}.bias", torch.zeros(n))
        tag(ctx, bias.target, "poincare", c=c)  # type: ignore[arg-type]
    ctx.root.meta.setdefault(MODE_DEPENDENT, []).append(node.id)
    training = ctx.fx.get_attr("training")
    return ctx.call(
        rtp.poincare_batch_norm,
        *(args[0], running_mean, running_var, scale, bias, training),
        *(c, node.attrs["momentum"]),
    )


@lowering("poincare_midpoint")
def lower_poincare_midpoint(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    term = simplify(ctx.in_types(node)[0].terms)[0]
    c, over, into, mul = term.atom.curvature, node.attrs["over"], node.attrs["into"], term.mul
    if over is None:
        return ctx.call(rtp.midpoint_copies, args[0], c, mul)
    terms = ctx.call(rtp.klein_terms_copies, args[0], c, mul)
    if is_grid_axis(over):  # a field, channels last here: every grid point weighs the same
        total = ctx.call(rt_gcnn.grid_pool, terms, "sum")
    elif into is not None:
        total = ctx.call(rt.scatter_sum, terms, ctx.edges_of(over), ctx.length(into))
    else:
        mask = ctx.edge_mask(over)
        total = ctx.call(rt.pool_sum, terms, ctx.index_for(over), ctx.num_graphs, mask)
    return ctx.call(rtp.midpoint_pooled, total, c, mul)
