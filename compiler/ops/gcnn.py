"""Group convolutions on a square torus grid (Cohen & Welling, "Group Equivariant
Convolutional Networks", ICML 2016): ``lift_conv``, ``group_conv`` and ``group_pool``.

The model's group is ``C(4)`` or ``D(4)`` (rotations by 90°, and reflections), alone or with
``T(2)`` (the wallpaper groups p4 / p4m), acting on ``torus(n, n)``. An element ``g`` (an
integer 2x2 matrix of the solver's ``C(n)`` / ``D(n)``, listed in the solver's element order)
maps the grid point ``p = (i, j)`` (``i`` along the first grid axis) to ``g p mod n``; a shift
``t`` adds ``t``. Fields move as ``(g·f)(p) = f(g⁻¹ p)``; a ``regular`` channel block is a
function on the group, indexed by the elements, and moves by the regular representation,
``(g·f)(p, h) = f(g⁻¹ p, g⁻¹ h)`` (``geoc.groups``: ``e_x -> e_{g x}``). Channels of
``k x regular`` are copy-major: the |G| channels of copy 0, then copy 1, ...

* ``lift_conv``: scalars -> regular; output ``(c, g)`` is the correlation of the input with
  ``g·ψ_c``, ``(g·ψ)(u) = ψ(g⁻¹ u)`` (paper eq. 10).
* ``group_conv``: regular -> regular; output ``(c, g)`` is ``Σ_h (z_h ⋆ (g·ψ_c)_h)`` with
  ``(g·ψ)_h(u) = ψ_{g⁻¹ h}(g⁻¹ u)`` (paper eq. 11).
* ``group_pool``: regular -> scalar, a max or mean over each copy's |G| channels (invariant).

Correlations are periodic (circular padding), so every layer commutes exactly with the grid's
shifts and rotations; the kernel is odd so that its centre is the fixed point of ``g``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from geoc.domains import DomainKind
from geoc.domains.grid import TORUS, rotates_grid
from geoc.domains.torus import symmetry_error
from geoc.groups import Group
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
from geoc.types import SCALAR, AtomKind, FeatureType, Term

POOL_REDUCTIONS = ("max", "mean")


# ---------------------------------------------------------------------------------------------
# The group acting on the grid


@functools.cache
def _tables(family: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    from geoc.groups import MatrixFactor

    elements = MatrixFactor(family, n).solver.elements
    ints = np.rint(elements).astype(np.int64)
    assert np.allclose(elements, ints), "a rotation group of the grid has integer matrices"
    index = {m.tobytes(): k for k, m in enumerate(ints)}
    inverse = np.transpose(ints, (0, 2, 1))  # signed permutation matrices: g⁻¹ = gᵀ
    # inv_mul[g, h] = index of g⁻¹ h
    inv_mul = np.array([[index[(gi @ h).tobytes()] for h in ints] for gi in inverse])
    return ints, inv_mul


def grid_elements(group: Group) -> np.ndarray:
    """The rotation group's elements as integer matrices ``[|G|, 2, 2]``, in the solver's order
    (the order of a ``regular`` block's channels)."""
    factor = group.matrix
    assert factor is not None and rotates_grid(group)
    return _tables(factor.family, factor.n)[0]


def inverse_products(group: Group) -> np.ndarray:
    """``[|G|, |G|]``: entry ``[g, h]`` is the index of ``g⁻¹ h``."""
    factor = group.matrix
    assert factor is not None
    return _tables(factor.family, factor.n)[1]


def kernel_gather(group: Group, size: int) -> np.ndarray:
    """``[|G|, size*size]``: for each ``g``, where ``(g·ψ)`` reads ``ψ`` on the flattened
    ``size x size`` kernel: ``(g·ψ)(u) = ψ(g⁻¹ u)``, offsets ``u`` centred on the kernel."""
    r = size // 2
    a, b = np.meshgrid(np.arange(size) - r, np.arange(size) - r, indexing="ij")
    offsets = np.stack([a.ravel(), b.ravel()])  # [2, size*size]
    out = []
    for g in grid_elements(group):
        src = g.T @ offsets + r  # g⁻¹ = gᵀ
        out.append(src[0] * size + src[1])
    return np.stack(out)


def group_order(group: Group) -> int:
    return len(grid_elements(group))


# ---------------------------------------------------------------------------------------------
# Typing rules


def _needs_grid_rotations(ctx: OpContext) -> None:
    """GEO440 unless the model is a rotation group of a square 2-D torus."""
    ok = (
        ctx.domain.kind is DomainKind.TORUS
        and rotates_grid(ctx.group)
        and symmetry_error(ctx.group, ctx.domain) is None
    )
    if not ok:
        raise ctx.error(
            "GEO440",
            f"`{ctx.op}` needs the rotations of a square torus grid, but the model has "
            f"`symmetry {ctx.group}` on `{ctx.domain}`",
            label=ctx.op,
            help="declare `symmetry C(4)` or `D(4)` (or `T(2) x C(4)`, `T(2) x D(4)`) and "
            "`domain torus(n, n)`",
        )


def _channels_are(ctx: OpContext, ftype: FeatureType, kind: AtomKind, arg: int | None) -> None:
    """GEO350 unless ``ftype`` is a torus field (arg) or a type (output) of ``kind`` atoms."""
    is_field = ftype.axes == (TORUS,)
    if (arg is not None and not is_field) or any(a.kind is not kind for a in ftype.atoms):
        what = "an image" if kind is AtomKind.SCALAR else "group feature maps"
        help_by_op = {
            "lift_conv": "lift an image `k x scalar over torus`; its output is `k x regular`",
            "group_conv": "lift the image first: `group_conv(lift_conv(x, k x regular), ...)`"
            "; its output is `k x regular`",
            "group_pool": "pool group feature maps `k x regular over torus` (from `lift_conv` or "
            "`group_conv`)",
        }
        raise ctx.error(
            "GEO350",
            f"`{ctx.op}` takes {what} (`k x {kind.value}` over torus) here, not `{ftype}`",
            arg=arg,
            label=str(ftype),
            help=help_by_op[ctx.op],
        )


def _kernel(ctx: OpContext, size: int) -> None:
    grid = min(ctx.domain.grid)
    if isinstance(size, bool) or size < 1 or size % 2 == 0 or size > grid:
        raise ctx.error(
            "GEO351",
            f"`kernel={size}` is not an odd size from 1 to {grid}",
            label="kernel",
            help="use an odd kernel (3, 5, ...): the rotations fix its centre; at most the "
            "grid size",
        )


def _out_regular(ctx: OpContext, out: FeatureType) -> FeatureType:
    if out.axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` keeps its input's grid (torus), not {', '.join(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    _channels_are(ctx, out, AtomKind.REGULAR, None)
    return out.with_axes((TORUS,))


#: Group convolutions: periodic correlations of torus fields, channel-first.
_CONV = preset(
    PLAIN, "fields", "channel_first", "learned", "bias", linear_in=("z",), commutes_gather=False
)
_CONV_PARAMS = (
    tensor("z"),
    attr("out", AttrKind.TYPE),
    attr("kernel", AttrKind.INT, 3),
    attr("bias", AttrKind.BOOL, True),
    *init_attrs(),
)
_CONV_CHECKS = (
    "odd kernel, 1 to n (`GEO351`); a `C(4)` / `D(4)` torus (`GEO440`); exact (periodic padding)"
)

LIFT_CONV = define(
    "lift_conv",
    "gcnn",
    _CONV_PARAMS,
    _CONV,
    "lifting convolution, `k x scalar` to `k x regular` over `torus` (`GEO350`): channel `(c, "
    "g)` correlates the image with `g·ψ_c`, one learned filter per copy in every pose (Cohen & "
    "Welling 2016); " + _CONV_CHECKS,
)


GROUP_CONV = define(
    "group_conv",
    "gcnn",
    _CONV_PARAMS,
    _CONV,
    "group convolution, `k x regular` to `k x regular` over `torus` (`GEO350`): channel `(c, g)` "
    "is `Σ_h z_h ⋆ ψ_c(g⁻¹h, g⁻¹·)` (Cohen & Welling 2016); " + _CONV_CHECKS,
)


#: The input channels of each convolution: an image's scalars, or a group feature map.
_CONV_INPUT = {LIFT_CONV: AtomKind.SCALAR, GROUP_CONV: AtomKind.REGULAR}


@typing_rule(LIFT_CONV, GROUP_CONV)
def _infer_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (z,) = types
    _needs_grid_rotations(ctx)
    _channels_are(ctx, z, _CONV_INPUT[ctx.op], 0)
    _kernel(ctx, attrs["kernel"])
    return (_out_regular(ctx, attrs["out"]),)


GROUP_POOL = define(
    "group_pool",
    "gcnn",
    (tensor("z"), attr("reduce", AttrKind.SYMBOL, "max", POOL_REDUCTIONS)),
    preset(_CONV, learned=False, linear_in=(), bias=False),
    "`k x scalar` over `torus`: each copy's |G| channels of `k x regular` (`GEO350`) reduced to "
    "one invariant scalar; a `C(4)` / `D(4)` torus (`GEO440`)",
)


@typing_rule(GROUP_POOL)
def _infer_group_pool(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (z,) = types
    _needs_grid_rotations(ctx)
    _channels_are(ctx, z, AtomKind.REGULAR, 0)
    copies = sum(t.mul for t in z.terms)
    return (FeatureType((Term(copies, SCALAR),), (TORUS,)),)
