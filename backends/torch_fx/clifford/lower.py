"""Lowering of the Clifford operators (compiler/ops/clifford.py) to the kernels beside it. The
algebra's tables are buffers shared by every layer of one module (``clifford.cl<p>_<q>.*``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import fx

from geoc import clifford
from geoc.backends.torch_fx.clifford import kernels as rtc
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.ir import Node
from geoc.types import Atom, simplify

#: Each product's table by operator name.
_PRODUCTS: dict[str, Callable[[int, int], np.ndarray]] = {
    "geometric_product": clifford.cayley,
    "wedge": clifford.wedge_table,
    "left_contraction": clifford.left_contraction_table,
}
#: A per-blade weight of each linear one-argument map (`grade` takes its k from the node).
_BLADE_WEIGHTS: dict[str, Callable[[int, int, Node], np.ndarray]] = {
    "grade": lambda p, q, node: (clifford.grades(p + q) == node.attrs["k"]).astype(float),
    "reverse": lambda p, q, node: clifford.reverse_signs(p + q),
}


def _algebra(ctx: LowerCtx, node: Node, index: int = 0) -> tuple[Atom, int]:
    """The one multivector term of an input: its atom and copies."""
    (term,) = simplify(ctx.in_types(node)[index].terms)
    return term.atom, term.mul


def _table(
    ctx: LowerCtx,
    atom: Atom,
    name: str,
    make: Callable[[], np.ndarray],
    dtype: torch.dtype | None = None,
) -> fx.Node:
    """A table of the algebra, registered once per module, in the module's dtype by default."""
    p, q = atom.args
    path = f"clifford.cl{p}_{q}.{name}"
    try:
        ctx.root.get_buffer(path)
    except AttributeError:
        dtype = dtype or ctx.dtype or torch.get_default_dtype()
        return ctx.buffer(path, torch.tensor(make(), dtype=dtype))
    return ctx.fx.get_attr(path)


@lowering(*_PRODUCTS)
def lower_product(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, _ = _algebra(ctx, node)
    table = _table(ctx, atom, node.op, lambda: _PRODUCTS[node.op](*atom.args))
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(rtc.bilinear, a, b, table)


@lowering(*_BLADE_WEIGHTS)
def lower_blade_map(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, _ = _algebra(ctx, node)
    p, q = atom.args
    suffix = f"grade{node.attrs['k']}" if node.op == "grade" else node.op
    weights = _table(ctx, atom, suffix, lambda: _BLADE_WEIGHTS[node.op](p, q, node))
    return ctx.call(rtc.scale_blades, args[0], weights)


@lowering("mv_linear")
def lower_mv_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, copies = _algebra(ctx, node)
    out, share = node.attrs["out"], node.attrs.get("share", "grade")
    shape = (out, copies, clifford.class_count(sum(atom.args), share))
    weight = ctx.param(f"{node.id}.weight", shape, copies)
    bias = ctx.param(f"{node.id}.bias", (out,), copies) if node.attrs["bias"] else None
    class_of = _class_of(ctx, atom, share)
    if not node.attrs.get("dual", False):
        return ctx.call(rtc.mv_linear, args[0], weight, class_of, bias)
    dual = ctx.param(f"{node.id}.dual_weight", shape, copies)
    dual_bias = ctx.param(f"{node.id}.dual_bias", (out,), copies) if node.attrs["bias"] else None
    hodge = _table(
        ctx, atom, "pseudoscalar_product", lambda: clifford.pseudoscalar_product(*atom.args)
    )
    return ctx.call(rtc.mv_linear_dual, args[0], weight, dual, class_of, hodge, bias, dual_bias)


@lowering("mv_product")
def lower_mv_product(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, copies = _algebra(ctx, node)
    p, q = atom.args
    share = node.attrs.get("share", "grade")
    index, count = clifford.product_paths(p, q, share)
    # CGENN's initial scale: one over the square root of the number of grades
    weight = ctx.param(f"{node.id}.weight", (copies, count), p + q + 1)
    paths = _table(ctx, atom, f"paths_{share}", lambda: index, dtype=torch.long)
    table = _table(ctx, atom, "geometric_product", lambda: clifford.cayley(p, q))
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(rtc.weighted_product, a, b, weight, paths, table)


def _class_of(ctx: LowerCtx, atom: Atom, share: str) -> fx.Node:
    """The weight class of every blade (its grade unless shared), a long table."""
    n = sum(atom.args)
    name = "grade_of" if share == "grade" else f"class_of_{share}"
    return _table(ctx, atom, name, lambda: clifford.blade_classes(n, share), dtype=torch.long)


def _forms(ctx: LowerCtx, atom: Atom) -> tuple[fx.Node, fx.Node]:
    p, q = atom.args
    squares = _table(ctx, atom, "reverse_norms", lambda: clifford.reverse_norms(p, q))
    expand = _table(ctx, atom, "grade_indicator", lambda: clifford.grade_indicator(p + q))
    return squares, expand


@lowering("mv_gate")
def lower_mv_gate(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, copies = _algebra(ctx, node)
    shape = (copies, sum(atom.args) + 1)
    a = ctx.constant_param(f"{node.id}.a", torch.ones(shape))  # CGENN's initial values
    b = ctx.constant_param(f"{node.id}.b", torch.zeros(shape))
    return ctx.call(rtc.mv_gate, args[0], a, b, *_forms(ctx, atom))


@lowering("mv_norm")
def lower_mv_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, copies = _algebra(ctx, node)
    a = ctx.constant_param(f"{node.id}.a", torch.zeros((copies, sum(atom.args) + 1)))
    return ctx.call(rtc.mv_norm, args[0], a, *_forms(ctx, atom), node.attrs["eps"])


@lowering("embed_vector")
def lower_embed_vector(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    (term,) = node.out_types[0].terms
    return ctx.call(rtc.embed_vector, args[0], 2 ** sum(term.atom.args))


@lowering("vector_part")
def lower_vector_part(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom, _ = _algebra(ctx, node)
    return ctx.call(rtc.vector_part, args[0], sum(atom.args))


@lowering("embed_scalar")
def lower_embed_scalar(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    (term,) = node.out_types[0].terms
    return ctx.call(rtc.embed_scalar, args[0], 2 ** sum(term.atom.args))
