"""Lowering of the Cartesian tensor operators (``geoc.ops.cartesian``): each a kernel call with
the copy count and the dimension n of R^n (``geoc.backends.torch_fx.cartesian.kernels``)."""

from __future__ import annotations

from torch import fx

from geoc.backends.torch_fx.cartesian import kernels as rt
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.ir import Node

#: The kernels of the one-operand maps of a `tensor(2)` copy (copies, n).
_MATRIX_MAPS = {
    "trace": rt.trace,
    "sym_part": rt.sym_part,
    "antisym_part": rt.antisym_part,
    "trace_part": rt.trace_part,
}


def _space_dim(ctx: LowerCtx) -> int:
    dim = ctx.group.space_dim
    assert dim is not None, "typing gave tensors without a space dimension"
    return dim


@lowering("outer")
def lower_outer(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    types = ctx.in_types(node)
    u, v = ctx.align(args, types, node.out_types[0].axes)
    dims = [ctx.group.type_dim(t) // t.copies for t in types]
    return ctx.call(rt.outer, u, v, types[0].copies, *dims)


@lowering("contract")
def lower_contract(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    types = ctx.in_types(node)
    t, v = ctx.align(args, types, node.out_types[0].axes)
    n = _space_dim(ctx)
    rows = ctx.group.type_dim(types[0]) // types[0].copies // n
    return ctx.call(rt.contract, t, v, types[0].copies, n, rows)


def _lower_matrix_map(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    copies = ctx.in_types(node)[0].copies
    return ctx.call(_MATRIX_MAPS[node.op], args[0], copies, _space_dim(ctx))


lowering(*_MATRIX_MAPS)(_lower_matrix_map)


@lowering("axial")
def lower_axial(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt.axial, args[0], ctx.in_types(node)[0].copies)


@lowering("skew")
def lower_skew(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt.skew, args[0], ctx.in_types(node)[0].copies)
