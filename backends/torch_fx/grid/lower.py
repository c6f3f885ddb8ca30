"""Lowering of the local convolutions and of Galerkin attention on a flat grid (typing rules:
``geoc.ops.grid_conv``, ``geoc.ops.galerkin``)."""

from __future__ import annotations

import math

import torch
from torch import fx

from geoc.backends.torch_fx.grid import kernels as rt_grid
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.initialisers import UNIFORM
from geoc.ir import Node


def _weight(ctx: LowerCtx, node: Node, kernel: tuple[int, ...], transposed: bool) -> fx.Node:
    """``[out, in, *kernel]`` (``[in, out, *kernel]`` transposed), drawn with fan-in ``in *
    prod(kernel)`` (PyTorch's ConvNd default for the forward map)."""
    n_in = ctx.group.type_dim(ctx.in_types(node)[0])
    n_out = ctx.group.type_dim(node.out_types[0])
    fan_in = (n_out if transposed else n_in) * math.prod(kernel)
    shape = (n_in, n_out) if transposed else (n_out, n_in)
    init = node.attrs.get("init") or UNIFORM
    return ctx.param(f"{node.id}.weight", (*shape, *kernel), fan_in, init)


def _bias(ctx: LowerCtx, node: Node, fan_in: int) -> fx.Node | None:
    if not node.attrs["bias"]:
        return None
    n_out = ctx.group.type_dim(node.out_types[0])
    init = node.attrs.get("bias_init") or UNIFORM
    return ctx.param(f"{node.id}.bias", (n_out,), fan_in, init, n_out)


#: The padding of each grid's boundary (a torus has none: it wraps around).
PADDING = {None: "circular", "zero": "constant", "reflect": "reflect"}


def _dims(ctx: LowerCtx) -> int:
    return len(ctx.ir.domain.grid)


@lowering("conv")
def lower_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    kernel = node.attrs["kernel"]
    kernel = (kernel,) * _dims(ctx) if isinstance(kernel, int) else tuple(kernel)
    weight = _weight(ctx, node, kernel, transposed=False)
    bias = _bias(ctx, node, ctx.group.type_dim(ctx.in_types(node)[0]) * math.prod(kernel))
    return ctx.call(rt_grid.local_conv, args[0], weight, bias, PADDING[ctx.ir.domain.boundary])


@lowering("restrict", "prolong")
def lower_resample(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    factor = node.attrs["factor"]
    mode = node.attrs["mode"]
    if mode == "average":
        return ctx.call(rt_grid.average, args[0], factor)
    if mode == "nearest":
        return ctx.call(rt_grid.nearest, args[0], factor)
    kernel = (factor,) * _dims(ctx)
    transposed = node.op == "prolong"
    weight = _weight(ctx, node, kernel, transposed)
    n_in = ctx.group.type_dim(ctx.in_types(node)[0])
    bias = _bias(ctx, node, n_in * math.prod(kernel))
    fn = rt_grid.prolong if transposed else rt_grid.restrict
    return ctx.call(fn, args[0], weight, bias, factor)


#: The layer norms' epsilon in Galerkin attention (PyTorch's LayerNorm default, the paper's).
GALERKIN_EPS = 1e-5


@lowering("galerkin_attention")
def lower_galerkin(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    heads = node.attrs["heads"]
    norms = []
    for role, i in (("k", 1), ("v", 2)):
        shape = (heads, ctx.group.type_dim(ctx.in_types(node)[i]) // heads)
        norms.append(ctx.constant_param(f"{node.id}.norm_{role}.weight", torch.ones(shape)))
        norms.append(ctx.constant_param(f"{node.id}.norm_{role}.bias", torch.zeros(shape)))
    return ctx.call(rt_grid.galerkin_attention, *args, heads, tuple(norms), GALERKIN_EPS)
