"""Spectral operators on grid domains: the Fourier layer on a torus, spherical transforms and
the spherical Fourier layer on a sphere.

A field over a grid is ``[batch, channels, *grid]`` with scalar channels; the group moves the
grid points. Which symmetries hold, and how exactly on the discrete grid:

* ``spectral_conv`` (Li et al. 2021, FNO): a per-mode complex matrix in the Fourier basis
  commutes with every cyclic shift of the torus grid: ``T(d)``, exact.
* ``sfno_conv`` (Bonev et al. 2023, SFNO): forward SHT, a weight per degree ``l``, inverse SHT.
  By the Driscoll-Healy convolution theorem it commutes with every rotation of band-limited
  fields; on the grid, exactly with rotations about the pole by multiples of 2π/nlon. Weights
  per ``(l, m)`` commute only with the polar rotations (``SO(2)``), so under ``SO(3)`` they
  are a GEO409.
* Pointwise maps (``linear``, ``act``, ...) commute exactly with grid permutations; general
  rotations of the sphere move values between grid points, so there they hold only up to the
  aliasing of the non-linearities, which ``geoc check`` measures and reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from geoc.diagnostics import Diagnostic
from geoc.domains import SPECTRUM_AXIS, Domain, DomainKind
from geoc.groups import Geometric, Group, Rotations
from geoc.ops import (
    PLAIN,
    REGISTRY,
    AttrKind,
    OpContext,
    attr,
    contract,
    define,
    tensor,
    typing_rule,
)
from geoc.types import AtomKind, FeatureType

TORUS, SPHERE = DomainKind.TORUS.value, DomainKind.SPHERE.value
FIELD_AXES = frozenset({TORUS, SPHERE, SPECTRUM_AXIS})

#: What each spectral operator needs its input to be over.
_NEEDS = {"spectral_conv": TORUS, "sht": SPHERE, "sfno_conv": SPHERE, "isht": SPECTRUM_AXIS}
SFNO_FILTERS = ("degree", "degree_order")


def is_field_axis(axis: str) -> bool:
    """Values over ``axis`` are fields: a grid, or the coefficients of one."""
    return axis in FIELD_AXES


def is_field(ftype: FeatureType) -> bool:
    return bool(ftype.axes) and is_field_axis(ftype.axes[0])


def check_field_use(ctx: OpContext, types: Sequence[FeatureType]) -> None:
    """GEO311 for an operator that is not defined on fields, called on one."""
    traits = REGISTRY[ctx.op].traits
    for index, ftype in enumerate(types):
        # Coefficients are complex: only linear maps that commute with Wigner D act on them.
        if ftype.axes == (SPECTRUM_AXIS,) and not traits.spectra:
            raise ctx.error(
                "GEO311",
                f"`{ctx.op}` does not act on spherical-harmonic coefficients: `{ftype}`",
                arg=index,
                label=str(ftype),
                help="coefficients take `+`, `-`, a constant factor and `isht`; transform back "
                "with `isht(...)` first",
            )
        if is_field(ftype) and not traits.fields:
            raise ctx.error(
                "GEO311",
                f"`{ctx.op}` does not act on fields: `{ftype}`",
                arg=index,
                label=str(ftype),
                help="fields take `linear`, `mlp`, `act`, `+`, `-`, `*`, `concat`, "
                "`spectral_conv`, `sht`, `isht`, `sfno_conv`, the group convolutions "
                "(docs/gcnn.md) and `sum` / `mean` / `max` over a torus",
            )


def check_field_channels(ctx: OpContext, ftype: FeatureType, arg: int | None = None) -> None:
    """GEO310 unless every channel of a field is a scalar, or ``regular`` where a rotation
    group acts on a torus (group feature maps, docs/gcnn.md)."""
    if not is_field(ftype):
        return
    allowed = {AtomKind.SCALAR} | ({AtomKind.REGULAR} if rotates_grid(ctx.group) else set())
    bad = [a for a in ftype.atoms if a.kind not in allowed and str(a) != "0e"]
    if bad:
        raise ctx.error(
            "GEO310",
            f"a field over `{ftype.axes[0]}` carries scalar channels, not `{bad[0]}`",
            arg=arg,
            label=str(ftype),
            help=_channels_help(ctx.group),
        )


def _channels_help(group: Group) -> str:
    if rotates_grid(group):
        return "write the channels as `k x scalar` (images) or `k x regular` (group feature maps)"
    return "write the channels as `k x scalar`: the group moves the grid, not the channels"


#: Orders of the rotations that map a square grid onto itself (multiples of 90°).
GRID_ROTATION_ORDERS = (1, 2, 4)


def rotates_grid(group: Group) -> bool:
    """Whether ``group`` is ``C(n)`` / ``D(n)``, alone or with ``T(2)``: rotations (and
    reflections) of a 2-D torus grid about its origin (docs/gcnn.md). Whether they map the
    grid onto itself (n | 4, a square grid for n = 4) is :func:`grid_symmetry_error`'s call."""
    factor = group.matrix
    if factor is None or factor.family not in ("C", "D"):
        return False
    others = [f for f in group.factors if f is not factor]
    translations = [f for f in others if f == Geometric(2, Rotations.NONE, True)]
    return len(translations) == len(others) <= 1


def _rotation_error(group: Group, domain: Domain) -> str | None:
    """Why the rotation group ``group`` (:func:`rotates_grid`) has no exact action on the
    torus ``domain`` (None when it has one)."""
    grid = domain.grid
    n = group.matrix.n
    if len(grid) != 2:
        return (
            f"`{group.matrix}` rotates a 2-D grid; a {len(grid)}-D torus carries `T({len(grid)})`"
        )
    if n not in GRID_ROTATION_ORDERS:
        return (
            "only rotations by multiples of 90° map grid points to grid points: "
            "`C(4)`, `D(4)` (or `C(2)`, `D(2)`, `C(1)`, `D(1)`), with `T(2)` for shifts"
        )
    if n == 4 and grid[0] != grid[1]:
        return (
            f"a 90° rotation maps the {grid[0]}x{grid[1]} grid onto itself only when it is "
            "square; use `torus(n, n)`, or `C(2)` / `D(2)`"
        )
    return None


def grid_symmetry_error(group: Group, domain: Domain) -> str | None:
    """Why ``group`` has no action on a grid domain (None when it has one).

    A torus ``torus(n1, ..., nd)`` carries the cyclic shifts ``T(d)``; a square 2-D torus also
    ``C(4)`` / ``D(4)`` (rotations by 90° and reflections about the origin), alone or with
    ``T(2)`` (the wallpaper groups p4 / p4m); a sphere carries ``SO(3)``, or ``SO(2)`` about
    its polar axis.
    """
    if not domain.is_field or not group.factors:
        return None
    geo = group.geometric
    alone = len(group.factors) == 1 and geo is not None
    if domain.kind is DomainKind.TORUS:
        d = len(domain.grid)
        if rotates_grid(group):
            return _rotation_error(group, domain)
        if alone and geo.rotations is Rotations.NONE and geo.n == d:
            return None
        rotations = ", and a square 2-D one `C(4)` / `D(4)` with or without `T(2)`"
        return f"a {d}-D torus carries the cyclic shifts `T({d})`" + (rotations if d == 2 else "")
    if alone and geo.rotations is Rotations.SO and not geo.translations and geo.n in (2, 3):
        return None
    return "a sphere carries the rotations `SO(3)`, or `SO(2)` about its polar axis"


# ---------------------------------------------------------------------------------------------
# Typing rules

#: Spectral layers take fields channel-first and are linear in them.
_SPECTRAL = dataclasses.replace(
    PLAIN, fields=True, channel_first=True, learned=True, linear_in=("z",), commutes_gather=False
)
_TRANSFORM = dataclasses.replace(_SPECTRAL, learned=False)


def _input_over(ctx: OpContext, ftype: FeatureType) -> None:
    want = _NEEDS[ctx.op]
    if ftype.axes != (want,):
        other = {TORUS: "sfno_conv", SPHERE: "spectral_conv"}
        hint = {
            TORUS: f"on a sphere use `{other[TORUS]}`",
            SPHERE: f"on a torus use `{other[SPHERE]}`",
            SPECTRUM_AXIS: "`isht` inverts `sht`: feed it the coefficients `sht(...)` returns",
        }[want]
        raise ctx.error(
            "GEO312",
            f"`{ctx.op}` needs a field over `{want}`, but its input is `{ftype}`",
            arg=0,
            label=str(ftype),
            help=hint,
        )


def _out_type(ctx: OpContext, source: FeatureType, out: FeatureType) -> FeatureType:
    if out.axes and out.axes != source.axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` keeps its input's grid ({source.axes[0]}), not {', '.join(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    result = out.with_axes(source.axes)
    check_field_channels(ctx, result)
    return result


def _modes(ctx: OpContext, modes: Any, grid: tuple[int, ...]) -> tuple[int, ...]:
    """``modes=m`` (every dimension) or ``modes=[m1, ..., md]``, each within the Nyquist limit."""
    per_dim = (modes,) * len(grid) if isinstance(modes, int) else tuple(modes)
    limits = (*tuple(n // 2 for n in grid[:-1]), grid[-1] // 2 + 1)
    valid = len(per_dim) == len(grid) and all(
        isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= lim
        for m, lim in zip(per_dim, limits, strict=False)
    )
    if not valid:
        raise ctx.error(
            "GEO313",
            f"`modes={list(per_dim) if len(per_dim) > 1 else per_dim[0]}` does not fit the grid "
            f"{'x'.join(map(str, grid))}",
            label="modes",
            help=f"keep 1 to {', '.join(map(str, limits))} modes per dimension (one integer, "
            f"or a list of {len(grid)})",
        )
    return per_dim


SPECTRAL_CONV = define(
    "spectral_conv",
    "spectral",
    (tensor("z"), attr("out", AttrKind.TYPE), attr("modes", AttrKind.ANY)),
    _SPECTRAL,
    "`out` over `torus`: the FNO's Fourier layer, FFT, a complex `c(z) x c(out)` matrix per kept "
    "mode, inverse FFT (Li et al. 2021); input over a torus (`GEO312`), `modes` (one integer or "
    "one per dimension) within the Nyquist limit (`GEO313`); commutes exactly with `T(d)`",
)


@typing_rule(SPECTRAL_CONV)
def _infer_spectral_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (z,) = types
    _input_over(ctx, z)
    _modes(ctx, attrs["modes"], ctx.domain.grid)
    return (_out_type(ctx, z, attrs["out"]),)


def sphere_bandwidth(ctx: OpContext, lmax: int) -> tuple[int, int]:
    """``(lmax, mmax)``: the requested degree bound (0 = the grid's exact default), and
    triangular truncation for the orders."""
    nlat, nlon = ctx.domain.grid
    exact = (nlat + 1) // 2 if ctx.domain.quadrature == "equiangular" else nlat
    exact = min(exact, (nlon + 1) // 2)  # orders past nlon/2 do not fit the longitudes
    lmax = lmax or exact
    if not 1 <= lmax <= nlat:
        raise ctx.error(
            "GEO313",
            f"`lmax={lmax}` does not fit a sphere grid of {nlat} latitudes",
            label="lmax",
            help=f"keep 1 <= lmax <= {nlat}; {exact} (the default) is what this grid's "
            "quadrature integrates exactly",
        )
    return lmax, min(lmax, nlon // 2 + 1)


SHT = define(
    "sht",
    "spectral",
    (tensor("z"), attr("lmax", AttrKind.INT, 0)),
    _TRANSFORM,
    "coefficients over `spectrum`, complex `[batch, channels, lmax, mmax]`: the orthonormal real "
    "spherical-harmonic transform (`lmax=0`: the degree the grid integrates exactly); input over "
    "a sphere (`GEO312`), `lmax <= nlat` (`GEO313`); rotations act on them by Wigner D",
)


@typing_rule(SHT)
def _infer_sht(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (z,) = types
    _input_over(ctx, z)
    sphere_bandwidth(ctx, attrs["lmax"])
    return (z.with_axes((SPECTRUM_AXIS,)),)


ISHT = define(
    "isht",
    "spectral",
    (tensor("c"),),
    dataclasses.replace(_TRANSFORM, spectra=True, linear_in=("c",)),
    "back over `sphere`: the inverse transform of coefficients over `spectrum` (`GEO312`)",
)


@typing_rule(ISHT)
def _infer_isht(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (c,) = types
    _input_over(ctx, c)
    return (c.with_axes((SPHERE,)),)


SFNO_CONV = define(
    "sfno_conv",
    "spectral",
    (
        tensor("z"),
        attr("out", AttrKind.TYPE),
        attr("lmax", AttrKind.INT, 0),
        attr("filter", AttrKind.SYMBOL, "degree", SFNO_FILTERS),
    ),
    _SPECTRAL,
    "`out` over `sphere`: the SFNO's spectral layer, SHT, a complex matrix per degree l (or per "
    "(l, m) with `filter=degree_order`), inverse SHT (Bonev et al. 2023); input over a sphere "
    "(`GEO312`); `degree_order` under `SO(3)` is `GEO409` (it commutes only with polar rotations)",
)


@typing_rule(SFNO_CONV)
def _infer_sfno_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (z,) = types
    _input_over(ctx, z)
    sphere_bandwidth(ctx, attrs["lmax"])
    return (_out_type(ctx, z, attrs["out"]),)


@contract(SFNO_CONV)
def _sfno_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    geo = ctx.group.geometric
    full_rotations = geo is not None and geo.rotations is not Rotations.NONE and geo.n == 3
    if attrs["filter"] == "degree_order" and full_rotations:
        return [
            ctx.diagnostic(
                "GEO409",
                f"a filter per (l, m) is not equivariant under {ctx.group}: it commutes only "
                "with rotations about the polar axis",
                label="filter=degree_order",
                help="use `filter=degree` (a weight per degree l, Driscoll-Healy), or declare "
                "`symmetry SO(2)` (rotations about the pole) if that is the symmetry you want",
            )
        ]
    return []
