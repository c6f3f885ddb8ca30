"""Lowering rules of the spectral operators (see ``geoc.ops.spectral`` for their typing rules).

The spherical transforms are matrices over latitude built once at compile time
(:mod:`geoc.backends.torch_fx.spectral.plan`) and kept as buffers shared by every layer; on
another grid than the spec's (the input's ``[nlat, nlon]``, of the kind the compile option
``sphere_grid`` names) :func:`sphere_kernels.grid_tables` gives that grid's, built once and
cached. Complex weights are real parameters with a trailing (re, im) axis.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.core.lower import ACTIVATION_FNS
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.spectral import fno_filter_kernels as rt_filter
from geoc.backends.torch_fx.spectral import fourier_kernels as rt_fourier
from geoc.backends.torch_fx.spectral import kernels as rt_spectral
from geoc.backends.torch_fx.spectral import sphere_kernels as rt_sphere
from geoc.backends.torch_fx.spectral.plan import colatitudes, sht_tables
from geoc.domains.grid import rotates_grid
from geoc.ir import Node
from geoc.ops import OpContext
from geoc.ops.fourier import coefficient_modes
from geoc.ops.gcnn import kernel_gather
from geoc.ops.spectral import coefficient_band, sphere_bandwidth
from geoc.ops.spectral_variants import variant_attrs


@lowering("spectral_conv")
def lower_spectral_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    grid = ctx.ir.domain.grid
    modes = node.attrs["modes"]
    modes = (modes,) * len(grid) if isinstance(modes, int) else tuple(modes)
    n_in = ctx.group.type_dim(ctx.in_types(node)[0])
    n_out = ctx.group.type_dim(node.out_types[0])
    source = _source_name(ctx)
    if rotates_grid(ctx.group):  # weights tied over the orbits of modes (geoc.ops.spectral)
        size = 2 * modes[0] - 1
        weight = ctx.param(f"{node.id}.weight", (n_in, n_out, size * size), n_in)
        gather = _orbit_table(ctx, size)
        return ctx.call(rt_spectral.fno_conv_tied, args[0], weight, gather, modes[0], source)
    kept = (*tuple(2 * m for m in modes[:-1]), modes[-1])
    mixing, cutoff, bound = variant_attrs(node.attrs)
    if (mixing, cutoff, bound) == ("full", "box", 0.0):
        weight = ctx.param(f"{node.id}.weight", (n_in, n_out, *kept, 2), n_in)
        return ctx.call(rt_spectral.fno_conv, args[0], weight, modes, False, source)
    mask = None
    if cutoff == "disc":
        table = rt_filter.disc_mask(modes).to(ctx.dtype or torch.get_default_dtype())
        mask = ctx.buffer(f"{node.id}.disc", table)
    if mixing == "depthwise":  # one complex weight per (channel, mode): fan-in 1
        weight = ctx.param(f"{node.id}.weight", (n_in, *kept, 2), 1)
        weight = ctx.call(rt_filter.filtered, weight, mask, bound, 0)
        return ctx.call(rt_filter.fno_conv_depthwise, args[0], weight, modes, source)
    weight = ctx.param(f"{node.id}.weight", (n_in, n_out, *kept, 2), n_in)
    weight = ctx.call(rt_filter.filtered, weight, mask, bound, 2)
    return ctx.call(rt_spectral.fno_conv, args[0], weight, modes, False, source)


def _source_name(ctx: LowerCtx) -> str:
    """The input a grid too coarse for the kept modes is blamed on (GEO622)."""
    source = _field_input(ctx)
    return source[0] if source else "x"


# --- Fourier coefficients (geoc.ops.fourier) -------------------------------------------------


def _octx(ctx: LowerCtx, node: Node) -> OpContext:
    return OpContext(node.op, ctx.group, ctx.ir.domain, node.span)


@lowering("fft")
def lower_fft(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    modes = coefficient_modes(_octx(ctx, node), node.out_types[0])
    return ctx.call(rt_fourier.fft, args[0], modes, _source_name(ctx))


@lowering("ifft")
def lower_ifft(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    source = _field_input(ctx)  # back to the grid of the model's fields
    like = source[1] if source else None
    return ctx.call(rt_fourier.ifft, args[0], like, ctx.ir.domain.grid, _source_name(ctx))


@lowering("mod_act")
def lower_mod_act(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    channels = ctx.group.type_dim(node.out_types[0])
    dtype = ctx.dtype or torch.get_default_dtype()
    bias = ctx.constant_param(f"{node.id}.bias", torch.zeros(channels, dtype=dtype))
    shifted = ctx.call(rt_fourier.modulus_plus, args[0], bias)
    fn = ACTIVATION_FNS[node.attrs["fn"]]
    activated = shifted if fn is None else ctx.call(fn, shifted)
    return ctx.call(rt_fourier.mod_rescale, args[0], activated)


@lowering("mode_linear")
def lower_mode_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    n_in = ctx.group.type_dim(ctx.in_types(node)[0])
    n_out = ctx.group.type_dim(node.out_types[0])
    weight = ctx.param(f"{node.id}.weight", (n_in, n_out, 2), n_in)
    return ctx.call(rt_fourier.mode_linear, args[0], weight)


@lowering("mode_filter")
def lower_mode_filter(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    ctype = ctx.in_types(node)[0]
    modes = coefficient_modes(_octx(ctx, node), ctype)
    kept = (*(2 * m for m in modes[:-1]), modes[-1])
    weight = ctx.param(f"{node.id}.weight", (ctx.group.type_dim(ctype), *kept, 2), 1)
    return ctx.call(rt_fourier.mode_filter, args[0], weight)


def _orbit_table(ctx: LowerCtx, size: int) -> fx.Node:
    """Where each grid rotation reads a centred ``size x size`` band of modes, once a module."""
    name = f"spectral.orbits_{size}"
    try:
        ctx.root.get_buffer(name)
    except AttributeError:
        return ctx.buffer(name, torch.as_tensor(kernel_gather(ctx.group, size), dtype=torch.long))
    return ctx.fx.get_attr(name)


def _bandwidth(ctx: LowerCtx, node: Node) -> tuple[int, int]:
    octx = OpContext(node.op, ctx.group, ctx.ir.domain, node.span)
    return sphere_bandwidth(octx, node.attrs.get("lmax", 0))


def _native(ctx: LowerCtx) -> tuple[str, int, int]:
    """The grid the spec declares: ``(kind, nlat, nlon)``."""
    nlat, nlon = ctx.ir.domain.grid
    return ctx.ir.domain.quadrature or "equiangular", nlat, nlon


def _runtime_kind(ctx: LowerCtx) -> str:
    """The kind of grid the inputs are on: the compile option, else the spec's."""
    return ctx.sphere_grid or _native(ctx)[0]


def _field_input(ctx: LowerCtx) -> tuple[str, fx.Node] | None:
    """The model's first field input (its grid is every field's, validation checks), if any."""
    for name, port in ctx.ir.inputs.items():
        if port.type.axes == (ctx.ir.domain.axis,):
            return name, ctx.inputs[name]
    return None


def _tables(ctx: LowerCtx, lmax: int, mmax: int, like: fx.Node | None) -> tuple[fx.Node, fx.Node]:
    """The forward and inverse Legendre tables of this bandwidth on the grid of ``like``: the
    module's buffers (one pair per band) on the native grid, else that grid's, built once."""
    nlat, nlon = ctx.ir.domain.grid
    names = (f"sht.forward_l{lmax}_m{mmax}", f"sht.inverse_l{lmax}_m{mmax}")
    if not hasattr(ctx.root, "sht") or not hasattr(ctx.root.sht, names[0].split(".")[1]):
        tables = sht_tables(nlat, nlon, lmax, mmax, _native(ctx)[0])
        for name, table in zip(names, tables, strict=True):
            ctx.buffer(name, torch.as_tensor(table, dtype=ctx.dtype or torch.get_default_dtype()))
    forward, inverse = ctx.fx.get_attr(names[0]), ctx.fx.get_attr(names[1])
    source = _field_input(ctx)
    if like is None or source is None:
        return forward, inverse
    both = ctx.call(
        rt_sphere.grid_tables,
        like,
        forward,
        inverse,
        _native(ctx),
        _runtime_kind(ctx),
        lmax,
        source[0],
    )
    pick = ctx.fx.call_function
    return pick(operator.getitem, (both, 0)), pick(operator.getitem, (both, 1))


def _nlon(ctx: LowerCtx, like: fx.Node | None) -> fx.Node | int:
    """The longitudes of the grid of ``like`` (the native grid's without one)."""
    if like is None:
        return ctx.ir.domain.grid[1]
    return ctx.call(rt_sphere.longitude_count, like)


@lowering("sht")
def lower_sht(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    lmax, mmax = _bandwidth(ctx, node)
    forward, _ = _tables(ctx, lmax, mmax, args[0])
    return ctx.call(rt_spectral.sht, args[0], forward, mmax)


@lowering("isht")
def lower_isht(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    (axis,) = ctx.in_types(node)[0].axes  # the coefficients' type carries their band
    octx = OpContext(node.op, ctx.group, ctx.ir.domain, node.span)
    lmax, mmax = sphere_bandwidth(octx, coefficient_band(ctx.ir.domain, axis))
    source = _field_input(ctx)  # the coefficients go back to the grid of the model's fields
    like = source[1] if source else None
    _, inverse = _tables(ctx, lmax, mmax, like)
    return ctx.call(rt_spectral.isht, args[0], inverse, _nlon(ctx, like))


@lowering("sfno_conv")
def lower_sfno_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    lmax, mmax = _bandwidth(ctx, node)
    forward, inverse = _tables(ctx, lmax, mmax, args[0])
    n_in = ctx.group.type_dim(ctx.in_types(node)[0])
    n_out = ctx.group.type_dim(node.out_types[0])
    per_order = node.attrs["filter"] == "degree_order"
    # A degree filter must be real: a complex one acts as conj(w) on the orders m < 0 that the
    # real transform leaves implicit (and drops Im w at m = 0), which commutes with polar
    # rotations only. Per (l, m) weights are complex: they commute with polar rotations anyway.
    shape = (n_out, n_in, lmax, mmax, 2) if per_order else (n_out, n_in, lmax)
    weight = ctx.param(f"{node.id}.weight", shape, n_in)
    nlon = _nlon(ctx, args[0])
    return ctx.call(rt_spectral.sfno_conv, args[0], forward, inverse, weight, mmax, nlon, per_order)


@lowering("grid_coords")
def lower_grid_coords(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    return ctx.call(rt_spectral.grid_coords, args[0])


@lowering("latitude")
def lower_latitude(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    nlat, _ = ctx.ir.domain.grid
    rows = np.pi / 2 - colatitudes(nlat, _native(ctx)[0])
    dtype = ctx.dtype or torch.get_default_dtype()
    table = ctx.buffer(f"{node.id}.latitudes", torch.as_tensor(rows, dtype=dtype))
    table = ctx.call(rt_sphere.grid_latitudes, args[0], table, _native(ctx), _runtime_kind(ctx))
    return ctx.call(rt_spectral.grid_latitude, args[0], table)
