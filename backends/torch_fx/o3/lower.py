"""Lowering rules of the O(3) operators (see ``geoc.ops.o3`` for their typing rules);
``tp_conv`` and the tensor-product kernel are in :mod:`.tp_conv`, MACE's symmetric contraction
in :mod:`.contraction` (imported here so that its rule registers)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.o3 import (
    contraction,  # noqa: F401 - registers its lowering
    so2_conv,  # noqa: F401 - registers its lowering
)
from geoc.backends.torch_fx.o3 import kernels as rt_o3
from geoc.backends.torch_fx.o3.tp_conv import emit_tensor_product
from geoc.backends.torch_fx.o3.tp_plan import plan_tensor_product
from geoc.groups import Group
from geoc.ir import Node
from geoc.ops.layers import ACTIVATIONS
from geoc.ops.o3 import kernel_irreps, scalar_parity
from geoc.types import FeatureType, Term

TpConvLowering = Callable[[LowerCtx, Node, list[fx.Node]], fx.Node]
TpConvCost = Callable[[Node, Group, LowerCtx | None], float]


def _constant_param(ctx: LowerCtx, name: str, value: torch.Tensor) -> fx.Node:
    """A trainable tensor with a fixed initial value (norm scales 1, shifts 0)."""
    return ctx._attr(name, value, parameter=True)


# --- harmonics and radial basis ---------------------------------------------------------------


@lowering("spherical_harmonics")
def lower_spherical_harmonics(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    lmax, normalize = node.attrs["lmax"], node.attrs["normalize"]
    return ctx.call(rt_o3.spherical_harmonics, args[0], lmax, normalize)


@lowering("radial_basis")
def lower_radial_basis(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt_o3.bessel_basis, args[0], node.attrs["n"], node.attrs["cutoff"])


# --- gate, norm_act, layer_norm ---------------------------------------------------------------

#: What `gate` does to a term, by its scalar parity (None: not a scalar).
_GATE_KINDS = {1: "even", -1: "odd", None: "gated"}


def _terms(group: Group, ftype: FeatureType, kind: Callable[[Term], str]) -> rt_o3.Terms:
    return tuple((t.mul, group.atom_dim(t.atom), kind(t)) for t in ftype.terms)


@lowering("gate")
def lower_gate(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    terms = _terms(ctx.group, node.out_types[0], lambda t: _GATE_KINDS[scalar_parity(t.atom)])
    return ctx.call(rt_o3.gate, args[0], terms)


@lowering("norm_act")
def lower_norm_act(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    ftype = node.out_types[0]
    terms = _terms(ctx.group, ftype, lambda t: "even" if scalar_parity(t.atom) == 1 else "normed")
    normed = sum(mul for mul, _, kind in terms if kind == "normed")
    bias = _constant_param(ctx, f"{node.id}.bias", torch.zeros(normed)) if normed else None
    act = ACTIVATIONS[node.attrs["act"]].torch
    return ctx.call(rt_o3.norm_act, args[0], terms, act, bias)


def _norm_group(term: Term) -> str:
    """Terms normalised together (per type): all even scalars, all odd ones, else equal atoms;
    the separable norm balances the same groups against each other."""
    parity = scalar_parity(term.atom)
    if parity is not None:
        return "even" if parity == 1 else "odd"
    return str(term.atom)


@lowering("layer_norm")
def lower_layer_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    ftype = node.out_types[0]
    terms = _terms(ctx.group, ftype, _norm_group)
    weight = _constant_param(ctx, f"{node.id}.weight", torch.ones(ftype.copies))
    evens = sum(mul for mul, _, kind in terms if kind == "even")
    bias = _constant_param(ctx, f"{node.id}.bias", torch.zeros(evens)) if evens else None
    separable = node.attrs.get("norm", "per_type") == "separable"
    kernel = rt_o3.separable_layer_norm if separable else rt_o3.layer_norm
    return ctx.call(kernel, args[0], terms, weight, bias)


# --- tensor products ---------------------------------------------------------------------------


@lowering("tensor_product")
def lower_tensor_product(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    types, out = ctx.in_types(node), node.out_types[0]
    a, b = ctx.align(args, types, out.axes)
    in1, in2 = (kernel_irreps(t, ctx.group) for t in types)
    plan = plan_tensor_product(in1, in2, kernel_irreps(out, ctx.group), node.attrs["mode"])
    weight = ctx.param(f"{node.id}.weight", (plan.weight_numel,), fan_in=1)
    return emit_tensor_product(ctx, node.id, a, b, weight, plan)
