"""Lowering rules of the core operators (see ``geoc.ops.core`` for their typing rules)."""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx

from geoc import budget
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.solver.lower import lower_solver_linear
from geoc.domains.grid import is_field
from geoc.groups import Group
from geoc.initialisers import UNIFORM, Initialiser, per_layer
from geoc.ir import Node
from geoc.ops.core import scale_side, scales_per_copy
from geoc.ops.layers import ACTIVATIONS
from geoc.ops.solver_ops import uses_solver
from geoc.types import FeatureType

#: The activation table's torch functions, resolved once; `identity` lowers to no node at all.
ACTIVATION_FNS = {
    name: None if fn.torch is None else rt.activation(fn.torch) for name, fn in ACTIVATIONS.items()
}
TRIVIAL_KEYS = {"0e", "0"}


def _activate(ctx: LowerCtx, x: fx.Node, name: str) -> fx.Node:
    fn = ACTIVATION_FNS[name]
    return x if fn is None else ctx.call(fn, x)


# --- arithmetic --------------------------------------------------------------------------------


@lowering("add", "sub")
def lower_add(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(operator.add if node.op == "add" else operator.sub, a, b)


@lowering("neg")
def lower_neg(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(operator.neg, args[0])


@lowering("scale")
def lower_scale(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(operator.mul, args[0], node.attrs["factor"])


@lowering("mul")
def lower_mul(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    types = ctx.in_types(node)
    a, b = ctx.align(args, types, node.out_types[0].axes)
    side = scale_side(ctx.group, types)
    operands = [(a, types[0]), (b, types[1])]
    (scale, _), (value, tvalue) = operands[::-1] if side == 1 else operands
    if not scales_per_copy(ctx.group, types, node.out_types[0]):  # one for all, or per channel
        return ctx.call(operator.mul, scale, value)
    owner = np.repeat(np.arange(tvalue.copies), _copy_dims(ctx.group, tvalue))
    table = ctx.buffer(f"{node.id}.copy_of_component", torch.as_tensor(owner, dtype=torch.long))
    return ctx.call(rt.per_copy_scale, scale, value, table)


def _copy_dims(group: Group, ftype: FeatureType) -> list[int]:
    return [group.atom_dim(t.atom) for t in ftype.terms for _ in range(t.mul)]


def _terms(group: Group, ftype: FeatureType) -> tuple[tuple[int, int], ...]:
    return tuple((t.mul, group.atom_dim(t.atom)) for t in ftype.terms)


# --- invariants and direct sums ----------------------------------------------------------------


@lowering("norm", "sqnorm")
def lower_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    kernel = rt.copy_norm if node.op == "norm" else rt.copy_sqnorm
    return ctx.call(kernel, args[0], _terms(ctx.group, ctx.in_types(node)[0]))


@lowering("dot")
def lower_dot(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(rt.copy_dot, a, b, _terms(ctx.group, ctx.in_types(node)[0]))


@lowering("concat")
def lower_concat(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    # Fields of one grid come channel-first (`concat` is a channel-first rule): dimension 1.
    channels = 1 if is_field(node.out_types[0]) else -1
    parts = ctx.align(args, ctx.in_types(node), node.out_types[0].axes, channels)
    return ctx.call(torch.cat, parts, channels)


@lowering("act")
def lower_act(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    out = _activate(ctx, args[0], node.attrs["fn"])
    return out if out is not args[0] else ctx.call(operator.pos, out)


# --- learned maps ------------------------------------------------------------------------------


@lowering("mlp")
def lower_mlp(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    fan_in = ctx.group.type_dim(ctx.in_types(node)[0])
    dense = rt.channel_linear if is_field(ctx.in_types(node)[0]) else F.linear
    return mlp_layers(ctx, node, fan_in, lambda w, b: ctx.call(dense, args[0], w, b), dense)


#: The first layer of an mlp, given its weight and bias (None without one).
FirstLayer = Callable[[fx.Node, "fx.Node | None"], fx.Node]


def mlp_layers(
    ctx: LowerCtx, node: Node, fan_in: int, first: FirstLayer, dense: Callable = F.linear
) -> fx.Node:
    """The layers of an `mlp` node (parameters ``<id>.<i>.weight`` / ``.bias``, created in
    this order), the first computed by ``first``: how `mlp` and its rewritten forms share one
    layout of parameters."""
    widths = node.attrs["widths"]
    layers = len(widths)
    inits = per_layer(node.attrs.get("init"), layers, UNIFORM)
    bias_inits = per_layer(node.attrs.get("bias_init"), layers, UNIFORM)
    biased = per_layer(node.attrs.get("bias"), layers, True)
    x = None
    for i, width in enumerate(widths):
        weight = ctx.param(f"{node.id}.{i}.weight", (width, fan_in), fan_in, inits[i])
        bias = (
            ctx.param(f"{node.id}.{i}.bias", (width,), fan_in, bias_inits[i], width)
            if biased[i]
            else None
        )
        x = first(weight, bias) if x is None else ctx.call(dense, x, weight, bias)
        if i < len(widths) - 1 or node.attrs["last_act"]:
            x = _activate(ctx, x, node.attrs["act"])
        fan_in = width
    assert x is not None  # the typing rule refuses empty widths
    return x


@lowering("embed")
def lower_embed(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``table[z]``: one row per class, uniform in ±1 (the rows are the layer's features);
    labels come as ``[N]`` or ``[N, 1]`` (validated in range by the module's checks)."""
    classes = ctx.in_types(node)[0].classes
    assert classes is not None  # the typing rule refuses anything else
    width = ctx.group.type_dim(node.out_types[0])
    table = ctx.param(f"{node.id}.weight", (classes, width), 1)
    labels = ctx.method("reshape", args[0], -1)
    return ctx.call(F.embedding, labels, table)


@lowering("linear")
def lower_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    if uses_solver(ctx.group, ctx.in_types(node)[0], node.out_types[0]):
        return lower_solver_linear(ctx, node, args)  # weights: coefficients of the basis
    plan = SchurPlan.build(ctx.group, ctx.in_types(node)[0], node.out_types[0])
    if plan.is_dense:
        dense = rt.channel_linear if is_field(ctx.in_types(node)[0]) else F.linear
        weight, bias = dense_linear_params(ctx, node, plan)
        return ctx.call(dense, args[0], weight, bias)
    return _lower_schur(ctx, node, args[0], plan)  # fields have scalar channels: always dense


def dense_linear_params(
    ctx: LowerCtx, node: Node, plan: SchurPlan
) -> tuple[fx.Node, fx.Node | None]:
    """A dense `linear`'s weight ``<id>.weight`` [out, in] and bias ``<id>.bias`` (or None)."""
    key = plan.keys[0]
    n_in, n_out = len(plan.inputs[key]), len(plan.outputs[key])
    weight = ctx.param(f"{node.id}.weight", (n_out, n_in), n_in, _init(node))
    bias = _bias_param(ctx, node, key, "bias", n_in, n_out)
    return weight, bias


def _init(node: Node, attr: str = "init") -> Initialiser:
    return node.attrs.get(attr) or UNIFORM


def _bias_param(
    ctx: LowerCtx, node: Node, key: str, name: str, n_in: int, n_out: int
) -> fx.Node | None:
    if not _has_bias(node, key):
        return None
    return ctx.param(f"{node.id}.{name}", (n_out,), n_in, _init(node, "bias_init"), n_out)


def _has_bias(node: Node, key: str) -> bool:
    return bool(node.attrs.get("bias", True)) and key in TRIVIAL_KEYS


def _lower_schur(ctx: LowerCtx, node: Node, x: fx.Node, plan: SchurPlan) -> fx.Node:
    weights, indices, biases = [], [], []
    for key in plan.keys:
        n_in, n_out = len(plan.inputs[key]), len(plan.outputs[key])
        # per irrep block: the fans are the copies it maps (one weight per pair of copies)
        weights.append(ctx.param(f"{node.id}.weight_{key}", (n_out, n_in), n_in, _init(node)))
        gather = torch.as_tensor(np.concatenate(plan.inputs[key]), dtype=torch.long)
        indices.append(ctx.buffer(f"{node.id}.index_{key}", gather))
        biases.append(_bias_param(ctx, node, key, f"bias_{key}", n_in, n_out))
    perm = torch.as_tensor(plan.output_permutation(), dtype=torch.long)
    out_perm = ctx.buffer(f"{node.id}.out_perm", perm)
    return ctx.call(rt.irrep_linear, x, weights, indices, plan.dims, out_perm, biases)


class SchurPlan:
    """Where each irrep type sits in the input and output layouts of an equivariant linear map.

    ``inputs[key]`` / ``outputs[key]`` list the component indices of each copy of irrep
    ``key``; Schur's lemma allows exactly one weight per (output copy, input copy) pair of the
    same key, shared by the irrep's components.
    """

    def __init__(self, inputs: dict[str, list[np.ndarray]], outputs: dict[str, list[np.ndarray]],
                 dims: dict[str, int]) -> None:  # fmt: skip
        self.inputs, self.outputs = inputs, outputs
        self.keys = [k for k in outputs if k in inputs]
        self.dims = tuple(dims[k] for k in self.keys)

    @classmethod
    def build(cls, group: Group, source: FeatureType, target: FeatureType) -> SchurPlan:
        for ftype in (source, target):  # an index array per copy: sized before it is built
            size = _COPY_BYTES * ftype.copies + 8 * group.type_dim(ftype)
            budget.require_bytes(f"the channel layout of `{ftype.with_axes(())}`", size)
        dims: dict[str, int] = {}
        return cls(_copies(group, source, dims), _copies(group, target, dims), dims)

    @property
    def is_dense(self) -> bool:
        """One key of dimension 1 on both sides: a plain matrix (fast path, readable code)."""
        single = len(self.inputs) == 1 and len(self.outputs) == 1
        return single and len(self.keys) == 1 and self.dims == (1,)

    def output_permutation(self) -> np.ndarray:
        placed = np.concatenate([np.concatenate(self.outputs[k]) for k in self.keys])
        return np.argsort(placed)


#: What one copy's index array costs in the layout of a Schur plan (a small numpy array).
_COPY_BYTES = 128


def _copies(group: Group, ftype: FeatureType, dims: dict[str, int]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    offset = 0
    for term in ftype.terms:
        for _ in range(term.mul):
            for key, dim in group.irreps(term.atom):
                out.setdefault(key, []).append(np.arange(offset, offset + dim))
                dims[key] = dim
                offset += dim
    return out
