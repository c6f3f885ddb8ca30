"""Lowering rules of the O(3) operators (see ``geoc.ops.o3`` for their typing rules).

``tp_conv`` has more than one lowering. :data:`TP_CONV_ALGORITHMS` maps an algorithm name to
its lowering rule and the node attribute ``algorithm`` picks one; ``auto`` asks
:func:`choose_tp_conv_algorithm`, the cheapest by the estimates in :data:`TP_CONV_COSTS` (a
cost of ``inf`` means "cannot lower this node"). Algorithms differ only in how they compute
the per-edge messages, so a new one registers a :data:`MessageRule` wrapped by
:func:`tp_conv_lowering`, which keeps the parameters and the rest of the function; e.g. eSCN's
SO(2) convolution (``geoc.backends.torch_fx.escn``, imported with the lowering rules)::

    TP_CONV_ALGORITHMS["so2"] = tp_conv_lowering(emit_so2_messages)
    TP_CONV_COSTS["so2"] = so2_cost  # (node, group, ctx) -> estimated cost
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx

from geoc.backends.torch_fx import runtime as rt
from geoc.backends.torch_fx import runtime_o3 as rt_o3
from geoc.backends.torch_fx import runtime_tp
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.ops.core import SchurPlan, lower_mlp
from geoc.backends.torch_fx.ops.core import _lower_schur as lower_schur
from geoc.backends.torch_fx.tp_plan import TPMode, TPPlan, plan_tensor_product
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import EDGE_AXIS
from geoc.groups import Group
from geoc.ir import Node
from geoc.ops.layers import ACTIVATIONS
from geoc.ops.o3 import ConvPaths, conv_paths, kernel_irreps, scalar_parity
from geoc.types import FeatureType, Term, scalars

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
    """Terms normalised together: all even scalars, all odd ones, else equal atoms."""
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
    return ctx.call(rt_o3.layer_norm, args[0], terms, weight, bias)


# --- tensor products ---------------------------------------------------------------------------


def _float_constant(ctx: LowerCtx, name: str, value: torch.Tensor, like: fx.Node) -> fx.Node:
    """A coefficient table kept in float64 (exact when the module runs in float64), cast to
    the dtype of ``like`` where it is used."""
    table = ctx.buffer(name, value.to(torch.float64))
    return ctx.call(rt_o3.cast_like, table, like)


def emit_tensor_product(
    ctx: LowerCtx, name: str, x1: fx.Node, x2: fx.Node, weight: fx.Node, plan: TPPlan
) -> fx.Node:
    """fx nodes of the tensor-product kernel for ``plan`` (constants as buffers ``name.*``)."""
    tables = plan.buffers(torch.float64)
    cg = _float_constant(ctx, f"{name}.cg", tables["cg"], like=x2)
    index = ctx.buffer(f"{name}.weight_index", tables["weight_index"])
    return ctx.call(runtime_tp.tensor_product, x1, x2, weight, cg, index, plan.meta())


@lowering("tensor_product")
def lower_tensor_product(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    types, out = ctx.in_types(node), node.out_types[0]
    a, b = ctx.align(args, types, out.axes)
    in1, in2 = (kernel_irreps(t, ctx.group) for t in types)
    plan = plan_tensor_product(in1, in2, kernel_irreps(out, ctx.group), node.attrs["mode"])
    weight = ctx.param(f"{node.id}.weight", (plan.weight_numel,), fan_in=1)
    return emit_tensor_product(ctx, node.id, a, b, weight, plan)


# --- tp_conv: the shared frame, and one message rule per algorithm ------------------------------

#: Per-edge messages ``[E, dim mid]`` of `tp_conv`: ``(ctx, name, x = h[src], sh, weights
#: [E, n_w], paths)``; every algorithm computes the same function of these.
MessageRule = Callable[[LowerCtx, str, fx.Node, fx.Node, fx.Node, ConvPaths], fx.Node]


def conv_weight_count(paths: ConvPaths) -> int:
    """``n_w``: one weight per path and channel of ``h`` (e3nn's uvu layout, path by path)."""
    return sum(paths.in1[i1][0] * paths.in2[i2][0] for i1, i2, _ in paths.paths)


def conv_plan(paths: ConvPaths) -> TPPlan:
    """The channelwise tensor-product plan of exactly ``paths`` (NequIP's instructions)."""
    return plan_tensor_product(
        paths.in1, paths.in2, paths.mid, TPMode.CHANNELWISE, paths=list(paths.paths)
    )


def cg_messages(
    ctx: LowerCtx, name: str, x: fx.Node, sh: fx.Node, weights: fx.Node, paths: ConvPaths
) -> fx.Node:
    """The `cg` algorithm: Clebsch-Gordan contraction by the tensor-product kernel."""
    plan = conv_plan(paths)
    assert plan.weight_numel == conv_weight_count(paths), "weight layouts disagree"
    return emit_tensor_product(ctx, f"{name}.tp", x, sh, weights, plan)


def tp_conv_lowering(messages: MessageRule) -> TpConvLowering:
    """A `tp_conv` lowering whose messages come from ``messages``; the radial MLP, the sum
    into ``dst`` and the linear map to ``out`` (and so the parameters) are shared."""

    def lower(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
        h, sh, w = args
        h_type, sh_type, _ = ctx.in_types(node)
        out = node.out_types[0]
        paths = conv_paths(h_type, sh_type, out, ctx.group)
        weights = _radial_weights(ctx, node, w, conv_weight_count(paths))
        x = ctx.call(torch.index_select, h, 0, ctx.edge_part(0))
        summed = ctx.call(
            rt.scatter_sum, messages(ctx, node.id, x, sh, weights, paths), ctx.edges,
            ctx.length(out.axes[0]),
        )  # fmt: skip
        return _schur_linear(ctx, f"{node.id}.linear", summed, paths.mid_type, out)

    return lower


def _radial_weights(ctx: LowerCtx, node: Node, w: fx.Node, count: int) -> fx.Node:
    """``mlp(w, [hidden, count], act=silu)``, parameters ``<node>.radial.*``."""
    attrs = {"widths": (node.attrs["hidden"], count), "act": "silu", "last_act": False}
    radial = Node(
        id=f"{node.id}.radial",
        op="mlp",
        inputs=(node.inputs[2],),
        attrs={**attrs, "bias": True},
        out_types=(scalars(count, (EDGE_AXIS,)),),
    )
    return lower_mlp(ctx, radial, [w])


def _schur_linear(
    ctx: LowerCtx, name: str, x: fx.Node, source: FeatureType, target: FeatureType
) -> fx.Node:
    """The equivariant ``linear(x, target)`` (bias on 0e), parameters ``<name>.*``."""
    plan = SchurPlan.build(ctx.group, source, target)
    node = Node(id=name, op="linear", attrs={"bias": True}, out_types=(target,))
    return lower_schur(ctx, node, x, plan)


def cg_cost(node: Node, group: Group, ctx: LowerCtx | None) -> float:
    """Multiply-adds per edge of the dense Clebsch-Gordan contraction,
    ``Σ_paths mul (2 l1 + 1)(2 l2 + 1)(2 l_out + 1)`` (0 without ``ctx`` to read the types)."""
    if ctx is None:
        return 0.0
    h, sh, _ = ctx.in_types(node)
    paths = conv_paths(h, sh, node.out_types[0], group)
    return float(
        sum(
            paths.in1[i1][0] * _dim(paths.in1[i1]) * _dim(paths.in2[i2]) * _dim(paths.mid[k])
            for i1, i2, k in paths.paths
        )
    )


def _dim(irrep: tuple[int, int, int]) -> int:
    return 2 * irrep[1] + 1


#: Lowering rule of each `tp_conv` algorithm (`escn.py` adds "so2").
TP_CONV_ALGORITHMS: dict[str, TpConvLowering] = {"cg": tp_conv_lowering(cg_messages)}
#: Estimated cost of each algorithm on a node, in multiply-adds per edge (lower is better; inf:
#: cannot lower it), for `algorithm=auto`.
TP_CONV_COSTS: dict[str, TpConvCost] = {"cg": cg_cost}


def choose_tp_conv_algorithm(node: Node, group: Group, ctx: LowerCtx | None = None) -> str:
    """The registered algorithm with the lowest estimated cost (``cg`` without estimates)."""
    usable = [name for name in TP_CONV_ALGORITHMS if name in TP_CONV_COSTS]
    return min(usable, key=lambda name: TP_CONV_COSTS[name](node, group, ctx), default="cg")


@lowering("tp_conv")
def lower_tp_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    algorithm = node.attrs.get("algorithm", "auto")
    if algorithm == "auto":  # the spec leaves it open: the compile option, then the cost model
        algorithm = ctx.tp_algorithm
    if algorithm == "auto":
        algorithm = choose_tp_conv_algorithm(node, ctx.group, ctx)
    if algorithm not in TP_CONV_ALGORITHMS:
        raise GeoError(
            Diagnostic(
                "GEO501",
                f"the `{algorithm}` lowering of `tp_conv` is not available in this build",
                node.span,
                label=f"algorithm={algorithm}",
                help="use `algorithm=cg` (or `auto`)",
            )
        )
    return TP_CONV_ALGORITHMS[algorithm](ctx, node, args)
