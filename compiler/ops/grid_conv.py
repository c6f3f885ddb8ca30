"""Local convolutions on a flat grid, periodic (``torus``) or not (``grid``, zero or reflect
boundary), and restriction / prolongation between its resolutions (the building blocks of
multigrid neural operators, MgNO).

A field over a d-D torus is ``[batch, channels, n1, ..., nd]`` with scalar channels; ``T(d)``
moves it by cyclic shifts, ``(t·f)(p) = f(p - t mod n)``.

* ``conv``: the cross-correlation ``out(p) = Σ_u W(u) z(p + u - r)`` with circular padding
  (``r = k // 2`` per dimension, odd ``k``), PyTorch's ``conv{1,2,3}d`` with
  ``padding_mode="circular"``. Every output point reads the same offsets of the input modulo n,
  so it commutes exactly with every cyclic shift. A free kernel is not invariant under the
  grid's rotations, so under ``C(4)`` / ``D(4)`` it is ``GEO414`` (use ``lift_conv``). On a
  non-periodic ``grid`` the padding is zeros or the mirror image (``padding_mode="zeros"`` /
  ``"reflect"``); that domain carries only the trivial group (GEO408 otherwise).
* ``restrict``: a strided circular convolution (stride = kernel = ``factor``, learned) or the
  average over each ``factor^d`` block (``mode=average``): ``out(i) = Σ_u W(u) z(f i + u)``.
  A shift of the input by ``f t`` shifts the output by ``t``; a shift by anything else moves
  the sampling points relative to the blocks, so only the shifts by multiples of ``f`` commute.
* ``prolong``: the transposed strided convolution (learned) or nearest-neighbour repetition
  (``mode=nearest``): ``out(f i + u) = Σ W(u) z(i)``; a shift by ``t`` of the input shifts the
  output by ``f t``.

The coarse and fine fields live over their own axes, ``torus_over2`` (half the points per
dimension), ``torus_times2``: values of different resolutions never combine (``GEO305``), and a
restriction followed by a prolongation by the same factor is back over ``torus``. A shift by
``t`` points of the declared grid moves a field over ``torus_over2`` by ``t / 2`` of its points: a
whole number exactly when ``2 | t``. So a model that restricts declares the subgroup
``T(d, step=k)`` (shifts by multiples of ``k``), and every resampling checks that the group's
shifts move its input and output by whole points (``GEO415`` otherwise, naming the step): the
static verdict is that subgroup, and ``geoc check`` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geoc.domains.grid import (
    CANONICAL_TORUS,
    TORUS,
    axis_scale,
    check_field_channels,
    rotates_grid,
    scaled_axis,
)
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    define,
    init_attrs,
    preset,
    tensor,
    typing_rule,
)
from geoc.ops.euclidean import FIELD_LAYER
from geoc.types import SCALAR, FeatureType

RESTRICT_MODES = ("learned", "average")
PROLONG_MODES = ("learned", "nearest")

#: Local convolutions: channel-first fields, linear in their input's coordinates (manifold
#: points: GEO321), with weights and a bias.
_CONV = preset(
    PLAIN,
    *("fields", "channel_first", "learned", "bias"),
    euclidean=FIELD_LAYER,
    linear_in=("z",),
    commutes_gather=False,
)


# ---------------------------------------------------------------------------------------------
# Shared checks


def field_grid(ctx: OpContext, ftype: FeatureType) -> tuple[int, ...]:
    """The grid sizes of a field over a flat grid's axis (``torus``, ``grid``, or a coarser or
    finer one); GEO315 for a value that is not such a field of the model's grid domain."""
    if ftype.axes == (CANONICAL_TORUS,) and ctx.domain.kind.value == TORUS:
        return tuple(ctx.domain.grid)
    found = axis_scale(ftype.axes[0]) if len(ftype.axes) == 1 else None
    if found is None or found[0] != ctx.domain.kind.value:
        raise ctx.error(
            "GEO315",
            f"`{ctx.op}` needs a field over a flat grid, but its input is `{ftype}` on "
            f"`{ctx.domain}`",
            arg=0,
            label=str(ftype),
            help="declare `domain torus(n1, ...)` (periodic) or `grid(n1, ..., boundary=zero)` "
            "and pass a field `k x scalar over torus` (or `over grid`)",
        )
    return tuple(int(n * found[1]) for n in ctx.domain.grid)


def kernel_sizes(ctx: OpContext, kernel: Any, grid: tuple[int, ...]) -> tuple[int, ...]:
    """``kernel=k`` (every dimension) or ``kernel=[k1, ..., kd]``: odd, from 1 to the grid size,
    so that the kernel has a centre and the circular padding wraps at most once (GEO316)."""
    sizes = (kernel,) * len(grid) if isinstance(kernel, int) else tuple(kernel)
    valid = len(sizes) == len(grid) and all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1 and k % 2 == 1 and k <= n
        for k, n in zip(sizes, grid, strict=False)
    )
    if not valid:
        raise ctx.error(
            "GEO316",
            f"`kernel={kernel}` is not an odd size from 1 to the grid size on the "
            f"{'x'.join(map(str, grid))} grid",
            label="kernel",
            help=f"write one odd integer or a list of {len(grid)} (3, 5, ...), each at most the "
            "grid size along its dimension",
        )
    return sizes


def _not_rotated(ctx: OpContext, types: Sequence[FeatureType], out: FeatureType) -> None:
    """GEO414 under grid rotations: a free kernel is not invariant under them. A canonical
    image (``canonicalise``) is not moved by them, so a free kernel from scalars to scalars
    commutes with them there; other channels would need the kernel to permute with them."""
    canonical = types[0].axes == (CANONICAL_TORUS,)
    scalars = all(a == SCALAR for t in (*types, out) for a in t.atoms)
    if canonical and scalars:
        return
    if rotates_grid(ctx.group):
        raise ctx.error(
            "GEO414",
            f"`{ctx.op}` has a free kernel, which the rotations of {ctx.group} do not map onto "
            "itself: it is not equivariant under them",
            label=ctx.op,
            help="under `C(4)` / `D(4)` use the group convolutions `lift_conv` / `group_conv` "
            "(docs/gcnn.md); `conv` commutes with the shifts `T(d)`",
        )


def _out_over(ctx: OpContext, out: FeatureType, axis: str) -> FeatureType:
    """The declared output channels over ``axis`` (GEO305 for a written `over`)."""
    if out.axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` decides its output's grid ({axis}), not {', '.join(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    result = out.with_axes((axis,))
    check_field_channels(ctx, result)
    return result


# ---------------------------------------------------------------------------------------------
# conv


CONV = define(
    "conv",
    "grid",
    (
        tensor("z"),
        attr("out", AttrKind.TYPE),
        attr("kernel", AttrKind.ANY, 3),
        attr("bias", AttrKind.BOOL, True),
        *init_attrs(),
    ),
    _CONV,
    "`out` over the input's grid: a local cross-correlation, PyTorch's `conv{1,2,3}d` with "
    "`padding_mode` circular on a `torus`, zeros or reflect on a `grid(..., boundary=...)` "
    "(odd `kernel`, one integer or one per dimension, at most the grid size: `GEO316`); input "
    "over a torus or grid (`GEO315`); commutes exactly with `T(d)`; under grid rotations "
    "`GEO414`",
)


@typing_rule(CONV)
def _infer_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A circular cross-correlation reads the same offsets at every grid point (mod n), so it
    commutes with every cyclic shift of its torus; rotations are refused (GEO414) except on a
    canonical image from scalars to scalars, whose points they do not move; a non-periodic grid
    carries only the trivial group, under which any map is equivariant."""
    (z,) = types
    grid = field_grid(ctx, z)
    kernel_sizes(ctx, attrs["kernel"], grid)
    _not_rotated(ctx, types, attrs["out"])
    return (_out_over(ctx, attrs["out"], z.axes[0]),)


# ---------------------------------------------------------------------------------------------
# restrict, prolong


def _factor(ctx: OpContext, factor: int, grid: tuple[int, ...], coarsen: bool) -> None:
    """GEO317 unless ``factor >= 2`` and, for a restriction, it divides every grid size."""
    fits = not coarsen or all(n % factor == 0 and n // factor >= 1 for n in grid)
    if isinstance(factor, bool) or factor < 2 or not fits:
        raise ctx.error(
            "GEO317",
            f"`factor={factor}` does not {'divide' if coarsen else 'refine'} the "
            f"{'x'.join(map(str, grid))} grid",
            label="factor",
            help="use an integer factor of at least 2"
            + (" that divides every grid size" if coarsen else ""),
        )


def _subgroup_only(ctx: OpContext, factor: int, scales: tuple[Fraction, ...]) -> None:
    """GEO415 unless every shift of the group moves the fields over the input's and output's
    grids (at ``scales`` of the domain's) by whole points: ``T(d, step=k)`` with ``k · scale``
    an integer, or no translation at all; grid rotations are refused (they turn the blocks
    about the origin off the block boundaries)."""
    rotated = rotates_grid(ctx.group)
    step = ctx.group.geometric.step if ctx.group.translations else 0
    if not rotated and all((step * s).denominator == 1 for s in scales):
        return
    d = len(ctx.domain.grid)
    need = max(s.denominator for s in scales)
    what = "the grid's rotations" if rotated else f"every element of {ctx.group}"
    raise ctx.error(
        "GEO415",
        f"`{ctx.op}(..., factor={factor})` commutes only with the shifts by multiples of "
        f"{need}, not with {what}: any other shift moves the grid points relative to its "
        f"blocks of {factor}^{d} points",
        label=f"shifts by multiples of {need} only",
        help=f"declare `symmetry T({d}, step={need})` (the shifts by multiples of {need}, "
        "which it commutes with exactly), `symmetry trivial`, or keep one resolution with `conv`"
        if not rotated
        else "restrict or prolong without grid rotations: `symmetry T(d, step=k)` or `trivial`",
    )


RESTRICT = define(
    "restrict",
    "grid",
    (
        tensor("z"),
        attr("out", AttrKind.TYPE),
        attr("factor", AttrKind.INT, 2),
        attr("mode", AttrKind.SYMBOL, "learned", RESTRICT_MODES),
        attr("bias", AttrKind.BOOL, True),
        *init_attrs(),
    ),
    _CONV,
    "`out` over the coarser `torus_over2` (`factor=2`): a strided circular convolution with a "
    "learned `f x ... x f` kernel (`mode=learned`, PyTorch's `conv{1,2,3}d(stride=f)`), or the "
    "mean of each block (`mode=average`, `avg_pool`; its `out` keeps the channels, no `bias`); "
    "`factor` divides the grid (`GEO317`); commutes only with shifts by multiples of `f`: "
    "declare `T(d, step=k)` (else `GEO415`)",
)

PROLONG = define(
    "prolong",
    "grid",
    (
        tensor("z"),
        attr("out", AttrKind.TYPE),
        attr("factor", AttrKind.INT, 2),
        attr("mode", AttrKind.SYMBOL, "learned", PROLONG_MODES),
        attr("bias", AttrKind.BOOL, True),
        *init_attrs(),
    ),
    _CONV,
    "`out` over the finer `torus_times2` (`factor=2`): a transposed strided convolution with a "
    "learned `f x ... x f` kernel (`mode=learned`, `conv_transpose{1,2,3}d(stride=f)`), or each "
    "value repeated over its block (`mode=nearest`, `interpolate`: same channels, no `bias`); "
    "`factor >= 2` (`GEO317`); a shift by `t` moves its output by `f t`: it commutes with the "
    "group's shifts that move its input by whole points (`GEO415`)",
)


@typing_rule(RESTRICT, PROLONG)
def _infer_resample(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Under ``T(d, step=k)`` a shift ``k t`` moves the input by ``k t s`` and the output by
    ``k t s'`` points of their grids (scales ``s``, ``s'``), whole numbers (GEO415 otherwise):
    a stride-``f`` block map commutes with the shifts by whole blocks, which these are; under
    ``trivial`` any map is equivariant. The output lives over the axis of its resolution."""
    (z,) = types
    grid = field_grid(ctx, z)
    factor, coarsen = attrs["factor"], ctx.op == "restrict"
    _factor(ctx, factor, grid, coarsen)
    base, scale = axis_scale(z.axes[0])
    out_scale = scale * (Fraction(1, factor) if coarsen else factor)
    _subgroup_only(ctx, factor, (scale, out_scale))
    fixed = attrs["mode"] != "learned"
    if fixed and attrs["out"].with_axes(()) != z.with_axes(()):
        raise ctx.error(
            "GEO318",
            f"`mode={attrs['mode']}` keeps the channels of `{z.with_axes(())}`, not "
            f"`{attrs['out']}`",
            label=str(attrs["out"]),
            help=f"write `{z.with_axes(())}` as the output type, or use `mode=learned`",
        )
    return (_out_over(ctx, attrs["out"], scaled_axis(base, out_scale)),)
