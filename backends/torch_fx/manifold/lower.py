"""Lowering rules of the manifold operators (see ``geoc.ops.manifold`` for their typing rules).

Parameters that live on a manifold (BiMap's Stiefel weights, the Poincaré bias of
``mobius_linear`` and the points of ``poincare_mlr``) are recorded in
``module.meta["geoc_manifold_params"]`` as ``{name: {"manifold": ..., ...}}``, so that
:mod:`geoc.backends.torch_fx.manifold.riemannian` can hand them to a Riemannian optimiser.
"""

from __future__ import annotations

import math

import torch
from torch import fx

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.gcnn import kernels as rt_gcnn
from geoc.backends.torch_fx.grid.lower import PADDING
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.manifold import kernels as rtm
from geoc.backends.torch_fx.manifold import lorentz_grid_kernels as rtl
from geoc.backends.torch_fx.manifold import spd_norm_kernels as rtn
from geoc.backends.torch_fx.manifold.modes import MODE_DEPENDENT
from geoc.domains.grid import is_grid_axis
from geoc.ir import Node
from geoc.ops.layers import ACTIVATIONS
from geoc.types import AtomKind, FeatureType, Term, simplify

MANIFOLD_PARAMS = "geoc_manifold_params"
#: Chen et al. (2022) start the length scale lambda of `lorentz_linear` at 10.
LORENTZ_SCALE_INIT = 10.0
#: Poincaré parameters start near the origin: uniform in ±this/sqrt(c) per coordinate.
POINCARE_PARAM_INIT = 1e-2


def _term(ftype: FeatureType) -> Term:
    """The one manifold term of a type checked by ``geoc.ops.manifold`` (copies merged)."""
    return simplify(ftype.terms)[0]


def _in_term(ctx: LowerCtx, node: Node) -> Term:
    return _term(ctx.in_types(node)[0])


def tag(ctx: LowerCtx, name: str, manifold: str, **args: float) -> None:
    """Record that parameter ``name`` lives on ``manifold`` (``stiefel`` or ``poincare``)."""
    ctx.root.meta.setdefault(MANIFOLD_PARAMS, {})[name] = {"manifold": manifold, **args}


def _set(ctx: LowerCtx, name: str, value: torch.Tensor) -> None:
    with torch.no_grad():
        ctx.root.get_parameter(name).copy_(value)


def _poincare_param(ctx: LowerCtx, name: str, shape: tuple[int, ...], c: float) -> fx.Node:
    """A trainable point (or points) of the ball, near the origin, tagged for geoopt."""
    node = ctx.param(name, shape, 1)
    name = node.target  # the attribute path it got
    _set(ctx, name, ctx.root.get_parameter(name) * POINCARE_PARAM_INIT / math.sqrt(c))
    tag(ctx, name, "poincare", c=c)
    return node


# --- exp / log at the origin ----------------------------------------------------------------


@lowering("expmap0")
def lower_expmap0(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    term = _term(node.out_types[0])
    return _exp_log(ctx, term, args[0], exp=True)


@lowering("logmap0")
def lower_logmap0(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return _exp_log(ctx, _in_term(ctx, node), args[0], exp=False)


def _exp_log(ctx: LowerCtx, term: Term, x: fx.Node, exp: bool) -> fx.Node:
    atom = term.atom
    if atom.kind is AtomKind.SPD:
        return ctx.call(rtm.eigen_map, x, atom.args[0], "exp" if exp else "log", 0.0)
    kernels = {
        (AtomKind.LORENTZ, True): rtm.lorentz_expmap0,
        (AtomKind.LORENTZ, False): rtm.lorentz_logmap0,
        (AtomKind.POINCARE, True): rtm.poincare_expmap0,
        (AtomKind.POINCARE, False): rtm.poincare_logmap0,
    }
    return ctx.call(kernels[(atom.kind, exp)], x, atom.curvature, term.mul)


# --- Lorentz model ----------------------------------------------------------------------------


@lowering("lorentz_linear")
def lower_lorentz_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    n_in, n_out = atom.args[0] + 1, node.attrs["out"] + 1
    x = args[0]
    act = ACTIVATIONS[node.attrs["act"]].torch
    if act is not None:
        x = ctx.call(rtm.activate, x, act)
    weight = ctx.param(f"{node.id}.weight", (n_out, n_in), n_in)
    bias = ctx.param(f"{node.id}.bias", (n_out,), n_in) if node.attrs["bias"] else None
    log_scale = ctx.param(f"{node.id}.log_scale", (), 1)
    _set(ctx, f"{node.id}.log_scale", torch.tensor(math.log(LORENTZ_SCALE_INIT)))
    return ctx.call(rtm.lorentz_linear, x, weight, bias, log_scale, atom.curvature)


@lowering("lorentz_act")
def lower_lorentz_act(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    act = ACTIVATIONS[node.attrs["fn"]].torch
    return ctx.call(rtm.lorentz_act, args[0], act, atom.curvature)


@lowering("lorentz_mlr")
def lower_lorentz_mlr(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    n, classes = atom.args[0], node.attrs["classes"]
    a = ctx.param(f"{node.id}.a", (classes,), n)
    z = ctx.param(f"{node.id}.z", (classes, n), n)
    return ctx.call(rtm.lorentz_mlr, args[0], a, z, atom.curvature)


@lowering("lorentz_centroid")
def lower_lorentz_centroid(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    term = _in_term(ctx, node)
    k, over, into = term.atom.curvature, node.attrs["over"], node.attrs["into"]
    if over is None:
        return ctx.call(rtm.lorentz_centroid_copies, args[0], k, term.mul)
    if is_grid_axis(over):  # a field, channels last here: every grid point weighs the same
        total = ctx.call(rt_gcnn.grid_pool, args[0], "sum")
    elif into is not None:
        total = ctx.call(rt.scatter_sum, args[0], ctx.edges_of(over), ctx.length(into))
    else:
        mask = ctx.edge_mask(over)
        total = ctx.call(rt.pool_sum, args[0], ctx.index_for(over), ctx.num_graphs, mask)
    return ctx.call(rtm.lorentz_normalize_copies, total, k, term.mul)


# --- HCNN on grids (geoc.ops.manifold_grid_lorentz) -------------------------------------------


@lowering("lorentz_conv")
def lower_lorentz_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    kernel = node.attrs["kernel"]
    kernel = (kernel,) * len(ctx.ir.domain.grid) if isinstance(kernel, int) else tuple(kernel)
    n_in, n_out = atom.args[0] * math.prod(kernel) + 1, node.attrs["out"] + 1
    weight = ctx.param(f"{node.id}.weight", (n_out, n_in), n_in)
    bias = ctx.param(f"{node.id}.bias", (n_out,), n_in) if node.attrs["bias"] else None
    log_scale = ctx.param(f"{node.id}.log_scale", (), 1)
    _set(ctx, f"{node.id}.log_scale", torch.tensor(math.log(LORENTZ_SCALE_INIT)))
    padding = PADDING[ctx.ir.domain.boundary]
    return ctx.call(
        rtl.lorentz_conv, args[0], kernel, padding, weight, bias, log_scale, atom.curvature
    )


@lowering("lorentz_batch_norm")
def lower_lorentz_batch_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    n, k = atom.args[0], atom.curvature
    dtype = ctx.dtype or torch.get_default_dtype()
    origin = torch.zeros(n + 1, dtype=dtype)
    origin[0] = k**-0.5
    running_mean = ctx.buffer(f"{node.id}.running_mean", origin)
    running_var = ctx.buffer(f"{node.id}.running_var", torch.ones((), dtype=dtype))
    gamma = ctx.constant_param(f"{node.id}.gamma", torch.ones(()))
    beta = ctx.constant_param(f"{node.id}.beta", torch.zeros(n))  # the origin at the start
    ctx.root.meta.setdefault(MODE_DEPENDENT, []).append(node.id)
    training = ctx.fx.get_attr("training")
    momentum, eps = node.attrs["momentum"], node.attrs["eps"]
    return ctx.call(
        rtl.lorentz_batch_norm,
        *(args[0], running_mean, running_var, gamma, beta, training, k, momentum, eps),
    )


@lowering("lorentz_residual")
def lower_lorentz_residual(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(rtl.lorentz_residual, a, b, _in_term(ctx, node).atom.curvature)


# --- Poincaré ball ----------------------------------------------------------------------------


@lowering("mobius_linear")
def lower_mobius_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    n, out, c = atom.args[0], node.attrs["out"], atom.curvature
    weight = ctx.param(f"{node.id}.weight", (out, n), n)
    bias = _poincare_param(ctx, f"{node.id}.bias", (out,), c) if node.attrs["bias"] else None
    act = ACTIVATIONS[node.attrs["act"]].torch
    return ctx.call(rtm.mobius_linear, args[0], weight, bias, c, act)


@lowering("mobius_add")
def lower_mobius_add(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    a, b = ctx.align(args, ctx.in_types(node), node.out_types[0].axes)
    return ctx.call(rtm.mobius_add, a, b, _in_term(ctx, node).atom.curvature)


@lowering("poincare_mlr")
def lower_poincare_mlr(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    atom = _in_term(ctx, node).atom
    n, classes, c = atom.args[0], node.attrs["classes"], atom.curvature
    p = _poincare_param(ctx, f"{node.id}.p", (classes, n), c)
    a = ctx.param(f"{node.id}.a", (classes, n), n)
    return ctx.call(rtm.poincare_mlr, args[0], p, a, c)


# --- SPD matrices -----------------------------------------------------------------------------


@lowering("bimap")
def lower_bimap(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    term = _in_term(ctx, node)
    n, out, name = term.atom.args[0], node.attrs["out"], f"{node.id}.weight"
    weight = ctx.param(name, (term.mul, n, out), n)
    name = weight.target  # the attribute path it got
    gaussian = torch.randn((term.mul, n, out), generator=ctx.generator, dtype=torch.float64)
    _set(ctx, name, torch.linalg.qr(gaussian).Q)  # orthonormal columns: a Stiefel point
    tag(ctx, name, "stiefel")
    return ctx.call(rtm.bimap, args[0], weight, n)


@lowering("reeig", "logeig")
def lower_eigen_map(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    n = _in_term(ctx, node).atom.args[0]
    fn, eps = ("reeig", node.attrs["eps"]) if node.op == "reeig" else ("log", 0.0)
    return ctx.call(rtm.eigen_map, args[0], n, fn, eps)


@lowering("eigvals")
def lower_eigvals(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rtm.eigvals, args[0], _in_term(ctx, node).atom.args[0])


# --- the hypersphere --------------------------------------------------------------------------


@lowering("normalize")
def lower_normalize(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rtm.normalize, args[0], _term(node.out_types[0]).mul)


@lowering("spd_batch_norm")
def lower_spd_batch_norm(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    term = _in_term(ctx, node)
    n, mul = term.atom.args[0], term.mul
    dtype = ctx.dtype or torch.get_default_dtype()
    eye = torch.eye(n, dtype=dtype).expand(mul, n, n).clone()
    running = ctx.buffer(f"{node.id}.running_mean", eye)
    bias = None
    if node.attrs["bias"]:  # B = exp(sym(P)), P = 0 at the start: B = I
        bias = ctx.param(f"{node.id}.bias", (mul, n, n), n)
        _set(ctx, bias.target, torch.zeros(mul, n, n))  # type: ignore[arg-type]
    ctx.root.meta.setdefault(MODE_DEPENDENT, []).append(node.id)
    training = ctx.fx.get_attr("training")
    attrs = node.attrs
    return ctx.call(
        rtn.spd_batch_norm,
        args[0],
        running,
        bias,
        training,
        attrs["metric"],
        n,
        attrs["momentum"],
        attrs["iters"],
    )


# Poincaré ResNet's grid operators live in their own module; importing it registers them.
from geoc.backends.torch_fx.manifold import poincare_grid_lower  # noqa: E402, F401
