"""The lowering of ``tp_conv`` and of the tensor-product kernel it shares with
``tensor_product``.

``tp_conv`` has more than one lowering. :data:`TP_CONV_ALGORITHMS` maps an algorithm name to
its lowering rule and the node attribute ``algorithm`` picks one; ``auto`` asks
:func:`choose_tp_conv_algorithm`, the cheapest by the estimates in :data:`TP_CONV_COSTS` (a
cost of ``inf`` means "cannot lower this node"). Algorithms differ only in how they compute
the per-edge messages, so a new one is a :data:`MessageRule` wrapped by
:func:`tp_conv_lowering`, which keeps the parameters and the rest of the function, added to
both tables here. eSCN's SO(2) convolution (tables and cost model in :mod:`.escn`) sums its
messages on nodes, so it keeps the frame in :func:`lower_tp_conv_so2`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import fx

from geoc.backends.torch_fx.core.lower import SchurPlan, lower_mlp
from geoc.backends.torch_fx.core.lower import _lower_schur as lower_schur
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.o3 import escn
from geoc.backends.torch_fx.o3 import kernels as rt_o3
from geoc.backends.torch_fx.o3 import tp_kernels as runtime_tp
from geoc.backends.torch_fx.o3.tp_plan import TPMode, TPPlan, plan_tensor_product
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import EDGE_AXIS
from geoc.groups import Group
from geoc.ir import Node
from geoc.ops.o3 import ConvPaths, conv_paths
from geoc.types import FeatureType, scalars

TpConvLowering = Callable[[LowerCtx, Node, list[fx.Node]], fx.Node]
TpConvCost = Callable[[Node, Group, LowerCtx | None], float]


# --- the tensor-product kernel ------------------------------------------------------------


def _float_constant(ctx: LowerCtx, name: str, value: torch.Tensor, like: fx.Node) -> fx.Node:
    """A coefficient table kept in float64 (exact when the module runs in float64), cast to
    the dtype of ``like`` where it is used."""
    table = ctx.buffer(name, value.to(torch.float64))
    return ctx.call(rt_o3.cast_like, table, like)


def emit_tensor_product(
    ctx: LowerCtx,
    name: str,
    x1: fx.Node,
    x2: fx.Node,
    weight: fx.Node,
    plan: TPPlan,
    into: str | None = None,
) -> fx.Node:
    """fx nodes of the tensor-product kernel for ``plan`` (constants as buffers ``name.*``);
    ``into``: per-edge operands whose products are summed into that node axis."""
    tables = plan.buffers(torch.float64)
    cg = _float_constant(ctx, f"{name}.cg", tables["cg"], like=x2)
    index = ctx.buffer(f"{name}.weight_index", tables["weight_index"])
    args = (x1, x2, weight, cg, index, plan.meta())
    if into is None:
        return ctx.call(runtime_tp.tensor_product, *args)
    return ctx.call(runtime_tp.tensor_product_summed, *args, ctx.edges, ctx.length(into))


# --- tp_conv: the shared frame, and one message rule per algorithm ------------------------------

#: The messages of `tp_conv` summed into ``dst``, ``[N, dim mid]``: ``(ctx, node, x = h[src],
#: sh, weights [E, n_w], paths)``; every algorithm computes the same function of these.
MessageRule = Callable[[LowerCtx, Node, fx.Node, fx.Node, fx.Node, ConvPaths], fx.Node]


def conv_weight_count(paths: ConvPaths) -> int:
    """``n_w``: one weight per path and channel of ``h`` (e3nn's uvu layout, path by path)."""
    return sum(paths.in1[i1][0] * paths.in2[i2][0] for i1, i2, _ in paths.paths)


def conv_plan(paths: ConvPaths) -> TPPlan:
    """The channelwise tensor-product plan of exactly ``paths`` (NequIP's instructions)."""
    return plan_tensor_product(
        paths.in1, paths.in2, paths.mid, TPMode.CHANNELWISE, paths=list(paths.paths)
    )


def cg_messages(
    ctx: LowerCtx, node: Node, x: fx.Node, sh: fx.Node, weights: fx.Node, paths: ConvPaths
) -> fx.Node:
    """The `cg` algorithm: Clebsch-Gordan contraction by the tensor-product kernel per edge,
    summed into ``dst``."""
    plan = conv_plan(paths)
    assert plan.weight_numel == conv_weight_count(paths), "weight layouts disagree"
    into = node.out_types[0].axes[0]
    return emit_tensor_product(ctx, f"{node.id}.tp", x, sh, weights, plan, into=into)


def so2_messages(
    ctx: LowerCtx, node: Node, x: fx.Node, sh: fx.Node, weights: fx.Node, paths: ConvPaths
) -> fx.Node:
    """The `so2` algorithm (eSCN), which permutes columns after the sum, on nodes."""
    return escn.emit_so2_conv(ctx, node.id, x, sh, weights, paths)


def tp_conv_lowering(messages: MessageRule) -> TpConvLowering:
    """A `tp_conv` lowering whose summed messages come from ``messages``; the radial MLP and
    the linear map to ``out`` (and so the parameters, created in the same order) are shared."""

    def lower(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
        h, sh, w = args
        h_type, sh_type, _ = ctx.in_types(node)
        out = node.out_types[0]
        paths = conv_paths(h_type, sh_type, out, ctx.group)
        weights = _radial_weights(ctx, node, w, conv_weight_count(paths))
        x = ctx.call(torch.index_select, h, 0, ctx.edge_part(0))
        summed = messages(ctx, node, x, sh, weights, paths)
        # `update`, never an operator's name: `<id>.linear` is how the elaborator names a
        # `linear(...)` written as this call's argument, whose weights live there.
        return _schur_linear(ctx, f"{node.id}.update", summed, paths.mid_type, out)

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


def lower_tp_conv_so2(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``tp_conv`` by the SO(2) algorithm, in the frame of :func:`tp_conv_lowering`. Where
    ``sh`` is not a spherical harmonic, ``auto`` falls back to ``cg``; ``so2`` is GEO501."""
    reason = escn.so2_unavailable(ctx, node)
    if reason is None:
        return _SO2_FRAME(ctx, node, args)
    if node.attrs.get("algorithm", "auto") == "auto":
        return TP_CONV_ALGORITHMS["cg"](ctx, node, args)
    raise GeoError(
        Diagnostic(
            "GEO501",
            f"`tp_conv(..., algorithm=so2)` cannot compute this convolution: {reason}",
            node.span,
            label="algorithm=so2",
            help="pass `sh = spherical_harmonics(r, lmax=...)` of the edge vectors, or use "
            "`algorithm=cg`",
        )
    )


_SO2_FRAME = tp_conv_lowering(so2_messages)


def _algorithm_cost(algorithm: str) -> Callable[[Node, Group, LowerCtx | None], float]:
    """The cost function of ``algorithm`` in the O(3) lowering's signature (``inf`` where so2
    cannot compute the node; ``0`` without a context to read the types from)."""

    def cost(node: Node, group: Group, ctx: LowerCtx | None) -> float:
        if ctx is None:
            return 0.0 if algorithm == "cg" else math.inf
        if algorithm == "so2" and escn.so2_unavailable(ctx, node) is not None:
            return math.inf
        h, sh, _ = ctx.in_types(node)
        return escn.estimated_seconds_per_edge(
            algorithm, conv_paths(h, sh, node.out_types[0], group)
        )

    return cost


#: Lowering rule of each `tp_conv` algorithm.
TP_CONV_ALGORITHMS: dict[str, TpConvLowering] = {
    "cg": tp_conv_lowering(cg_messages),
    "so2": lower_tp_conv_so2,
}
#: Estimated forward + backward seconds per edge of each algorithm on a node (lower is better;
#: inf: cannot lower it), for `algorithm=auto`: the cost model of :mod:`.escn`.
TP_CONV_COSTS: dict[str, TpConvCost] = {name: _algorithm_cost(name) for name in escn.COSTS}


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
