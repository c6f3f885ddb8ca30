# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Lowering rules of the frame operators (typing rules: ``geoc.ops.frames``)."""

from __future__ import annotations

import torch
from torch import fx

from geoc.backends.torch_fx.frames import kernels as rtf
from geoc.backends.torch_fx.frames.plan import wigner_plan
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.ir import Node
from geoc.ops.frames import frame_terms
from geoc.types import FeatureType


@lowering("frame")
def lower_frame(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    axes = node.out_types[0].axes
    aligned = ctx.align(args, ctx.in_types(node), axes)
    n = ctx.group.space_dim
    return ctx.call(rtf.gram_schmidt, n, *aligned)


def _tables(ctx: LowerCtx, lmax: int) -> tuple[fx.Node | None, fx.Node | None]:
    """The Wigner plan's buffers for degrees up to ``lmax`` (none below 2), made once."""
    if lmax < 2:
        return None, None
    names = (f"frames.wigner{lmax}.points", f"frames.wigner{lmax}.inverse")
    if not hasattr(ctx.root, "frames") or not hasattr(ctx.root.frames, f"wigner{lmax}"):
        dtype = ctx.dtype or torch.get_default_dtype()
        for name, table in zip(names, wigner_plan(lmax), strict=True):
            ctx.buffer(name, torch.as_tensor(table, dtype=dtype))
    return ctx.fx.get_attr(names[0]), ctx.fx.get_attr(names[1])


def _move(
    ctx: LowerCtx, node: Node, args: list[fx.Node], value: FeatureType, inward: bool
) -> fx.Node:
    axes = node.out_types[0].axes
    x, frame = ctx.align(args, ctx.in_types(node), axes)
    terms = frame_terms(value, ctx.group)
    assert terms is not None  # the typing rule checked it
    points, inverse = _tables(ctx, max((l for _, l, _ in terms), default=0))
    n = ctx.group.space_dim
    return ctx.call(rtf.move, x, frame, terms, n, inward, points, inverse)


@lowering("to_frame")
def lower_to_frame(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return _move(ctx, node, args, ctx.in_types(node)[0], inward=True)


@lowering("from_frame")
def lower_from_frame(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return _move(ctx, node, args, node.attrs["out"], inward=False)
