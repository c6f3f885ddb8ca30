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

from collections.abc import Sequence
from typing import Any

from geoc.diagnostics import Diagnostic
from geoc.domains import SPECTRUM_AXIS
from geoc.domains.grid import SPHERE, TORUS, check_field_channels
from geoc.groups import Rotations
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.types import FeatureType

#: What each spectral operator needs its input to be over.
_NEEDS = {"spectral_conv": TORUS, "sht": SPHERE, "sfno_conv": SPHERE, "isht": SPECTRUM_AXIS}
SFNO_FILTERS = ("degree", "degree_order")


# ---------------------------------------------------------------------------------------------
# Typing rules

#: Spectral layers take fields channel-first and are linear in them.
_SPECTRAL = preset(
    PLAIN, "fields", "channel_first", "learned", linear_in=("z",), commutes_gather=False
)
_TRANSFORM = preset(_SPECTRAL, learned=False)


def _input_over(ctx: OpContext, types: Sequence[FeatureType]) -> FeatureType:
    """The one input, over the grid the operator needs (GEO312 otherwise)."""
    (ftype,) = types
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
    return ftype


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
    z = _input_over(ctx, types)
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
    z = _input_over(ctx, types)
    sphere_bandwidth(ctx, attrs["lmax"])
    return (z.with_axes((SPECTRUM_AXIS,)),)


ISHT = define(
    "isht",
    "spectral",
    (tensor("c"),),
    preset(_TRANSFORM, "spectra", linear_in=("c",)),
    "back over `sphere`: the inverse transform of coefficients over `spectrum` (`GEO312`)",
)


@typing_rule(ISHT)
def _infer_isht(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    c = _input_over(ctx, types)
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
    z = _input_over(ctx, types)
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
