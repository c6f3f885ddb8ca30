"""Lowering of the group convolutions (typing rules and conventions: ``geoc.ops.gcnn``).

The index tables that turn a filter into its bank of rotated (reflected) copies are computed
here once per (group, kernel size) and kept as integer buffers shared by every layer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.gcnn import canon_kernels as rt_canon
from geoc.backends.torch_fx.gcnn import kernels as rt_gcnn
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.groups import Group
from geoc.initialisers import UNIFORM, Initialiser
from geoc.ir import Node
from geoc.ops.gcnn import grid_elements, group_order, inverse_products, kernel_gather


def _copies(ctx: LowerCtx, node: Node, which: str) -> int:
    ftype = ctx.in_types(node)[0] if which == "in" else node.out_types[0]
    return sum(t.mul for t in ftype.terms)


def _table(ctx: LowerCtx, name: str, make: Callable[[], np.ndarray]) -> fx.Node:
    """An integer table registered once per module under ``gcnn.<name>``."""
    full = f"gcnn.{name}"
    try:
        ctx.root.get_buffer(full)
    except AttributeError:
        return ctx.buffer(full, torch.as_tensor(make(), dtype=torch.long))
    return ctx.fx.get_attr(full)


def _bias(ctx: LowerCtx, node: Node, copies: int, fan_in: int) -> fx.Node | None:
    if not node.attrs["bias"]:
        return None
    return ctx.param(f"{node.id}.bias", (copies,), fan_in, _init(node, "bias_init"), copies)


def _init(node: Node, attr: str = "init") -> Initialiser:
    return node.attrs.get(attr) or UNIFORM


@lowering("lift_conv")
def lower_lift_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    size = node.attrs["kernel"]
    width, copies = ctx.group.type_dim(ctx.in_types(node)[0]), _copies(ctx, node, "out")
    fan_in = width * size * size
    weight = ctx.param(f"{node.id}.weight", (copies, width, size * size), fan_in, _init(node))
    gather = _table(ctx, f"lift_k{size}", lambda: kernel_gather(ctx.group, size))
    bias = _bias(ctx, node, copies, fan_in)
    return ctx.call(rt_gcnn.lift_conv, args[0], weight, gather, size, bias)


def group_gather(group: Group, size: int) -> np.ndarray:
    """``[|G|, |G|, size²]``: index of ``(g⁻¹h, g⁻¹u)`` in the flattened ``(|G|, size²)`` filter."""
    spatial = kernel_gather(group, size)  # [G, K*K]
    return inverse_products(group)[:, :, None] * size * size + spatial[:, None, :]


@lowering("group_conv")
def lower_group_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    size, order = node.attrs["kernel"], group_order(ctx.group)
    in_copies, copies = _copies(ctx, node, "in"), _copies(ctx, node, "out")
    fan_in = in_copies * order * size * size
    shape = (copies, in_copies, order, size * size)
    weight = ctx.param(f"{node.id}.weight", shape, fan_in, _init(node))
    gather = _table(ctx, f"group_k{size}", lambda: group_gather(ctx.group, size))
    bias = _bias(ctx, node, copies, fan_in)
    return ctx.call(rt_gcnn.group_conv, args[0], weight, gather, size, bias)


@lowering("group_pool")
def lower_group_pool(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt_gcnn.group_pool, args[0], group_order(ctx.group), node.attrs["reduce"])


@lowering("canonicalise")
def lower_canonicalise(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    elements = _table(ctx, "elements", lambda: grid_elements(ctx.group))
    return ctx.call(rt_canon.canonicalise_c4, args[0], args[1], elements)
