"""Spectral operators on grid domains: the Fourier layer on a torus, spherical transforms and
the spherical Fourier layer on a sphere.

A field over a grid is ``[batch, channels, *grid]`` with scalar channels; the group moves the
grid points. Which symmetries hold, and how exactly on the discrete grid:

* ``spectral_conv`` (Li et al. 2021, FNO): a per-mode complex matrix in the Fourier basis
  commutes with every cyclic shift of the torus grid: ``T(d)``, exact. Under rotations and
  reflections of the grid (``C(4)``, ``D(4)``, with or without ``T(2)``) its weights are real
  and tied over each orbit of modes, ``W(g k) = W(k)``, on the square band ``|k_j| < m`` that
  every element maps onto itself: the spectrum of a real kernel invariant under the group
  (real, as the kernel is even when the group holds the rotation by π; kept real otherwise too,
  which only narrows the layer).
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
from geoc.domains import SPECTRUM_AXIS, Domain, is_spectrum_axis, spectrum_axis, spectrum_band
from geoc.domains.grid import SPHERE, TORUS, check_field_channels, rotates_grid
from geoc.groups import Rotations
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.euclidean import FIELD_LAYER
from geoc.ops.spectral_variants import CUTOFFS, MIXINGS, check_variants
from geoc.types import AtomKind, FeatureType, scalars

#: What each spectral operator needs its input to be over.
_NEEDS = {
    "spectral_conv": TORUS,
    "grid_coords": TORUS,
    "latitude": SPHERE,
    "sht": SPHERE,
    "sfno_conv": SPHERE,
    "isht": SPECTRUM_AXIS,
}
SFNO_FILTERS = ("degree", "degree_order")


# ---------------------------------------------------------------------------------------------
# Typing rules

#: Spectral layers take fields channel-first and are linear in their coordinates (manifold
#: points: GEO321, see FIELD_LAYER).
_SPECTRAL = preset(
    PLAIN,
    *("fields", "channel_first", "learned"),
    euclidean=FIELD_LAYER,
    linear_in=("z",),
    commutes_gather=False,
)
_TRANSFORM = preset(_SPECTRAL, learned=False)


def _input_over(ctx: OpContext, types: Sequence[FeatureType]) -> FeatureType:
    """The one input, over the grid the operator needs (GEO312 otherwise)."""
    (ftype,) = types
    want = _NEEDS[ctx.op]
    if want == SPECTRUM_AXIS and len(ftype.axes) == 1 and is_spectrum_axis(ftype.axes[0]):
        return ftype  # coefficients of any band
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


def same_axis_out(
    ctx: OpContext, source: FeatureType, out: FeatureType, what: str = "grid"
) -> FeatureType:
    """``out`` over ``source``'s axis (its grid, or its modes): GEO305 for ``out`` written over
    another; GEO310 for channels a field does not carry."""
    if out.axes and out.axes != source.axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` keeps its input's {what} ({source.axes[0]}), not {', '.join(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    result = out.with_axes(source.axes)
    check_field_channels(ctx, result)
    return result


def kept_modes(ctx: OpContext, modes: Any, grid: tuple[int, ...]) -> tuple[int, ...]:
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
    (
        tensor("z"),
        attr("out", AttrKind.TYPE),
        attr("modes", AttrKind.ANY),
        attr("mixing", AttrKind.SYMBOL, "full", MIXINGS, written_only=True),
        attr("cutoff", AttrKind.SYMBOL, "box", CUTOFFS, written_only=True),
        attr("bound", AttrKind.FLOAT, 0.0, written_only=True),
    ),
    _SPECTRAL,
    "`out` over `torus`: the FNO's Fourier layer, FFT, a complex `c(z) x c(out)` matrix per kept "
    "mode, inverse FFT (Li et al. 2021); input over a torus (`GEO312`), `modes` (one integer or "
    "one per dimension) within the Nyquist limit (`GEO313`); commutes exactly with `T(d)`. "
    "McCabe et al. 2023: `mixing=depthwise` one complex weight per (channel, mode), `out` the "
    "input's channels (`GEO334`); `cutoff=disc` the modes `|k| < m` (one `m`, `GEO335`); "
    "`bound=B` each mode's filter norm at most `B` (`GEO336`); under grid rotations `GEO531`",
)


@typing_rule(SPECTRAL_CONV)
def _infer_spectral_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A Fourier multiplier is a convolution, so it commutes with cyclic shifts; under grid
    rotations its weights are tied over each orbit of modes (``W(g k) = W(k)``, real) on a band
    every element maps onto itself, so it commutes with them too (:func:`rotation_band`).
    Depthwise, disc-masked and bounded filters are Fourier multipliers too (T(d) only)."""
    z = _input_over(ctx, types)
    modes = kept_modes(ctx, attrs["modes"], ctx.domain.grid)
    if rotates_grid(ctx.group):
        rotation_band(ctx, modes)
    out = same_axis_out(ctx, z, attrs["out"])
    check_variants(ctx, z, out, modes, attrs)  # McCabe et al.: still Fourier multipliers
    return (out,)


def rotation_band(ctx: OpContext, modes: Sequence[int]) -> int:
    """``m``: under grid rotations the kept modes are ``|k_1|, |k_2| < m``, a square centred on
    0 that the rotations and reflections map onto itself, inside every axis's Nyquist band
    (``m <= n // 2``), so one weight per orbit of modes is well defined (GEO313 otherwise)."""
    limit = min(ctx.domain.grid) // 2
    if len(set(modes)) != 1 or not modes[0] <= limit:
        raise ctx.error(
            "GEO313",
            f"under {ctx.group} `spectral_conv` keeps the same modes on every axis, at most "
            f"{limit}, so that rotations map the kept modes onto themselves; got "
            f"`modes={list(modes)}`",
            label="modes",
            help=f"write one integer, `modes=m` with 1 <= m <= {limit}",
        )
    return modes[0]


@contract(SPECTRAL_CONV)
def _spectral_conv_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """GEO413: group feature maps (`regular` channels) would need weights that also permute
    the channels, ``W(g k) = ρ(g) W(k) ρ(g)⁻¹``, which are not built."""
    (z,) = types
    if all(atom.kind is AtomKind.SCALAR for atom in z.atoms):
        return []
    return [
        ctx.diagnostic(
            "GEO413",
            f"`spectral_conv` of `{z.with_axes(())}` under {ctx.group}: its per-mode weights "
            "mix channels that the group permutes (`regular`), and weights that permute them "
            "along are not built",
            arg=0,
            label=str(z.with_axes(())),
            help="pool the group axis first (`group_pool(z)`) or map to scalars with "
            "`linear(z, k x scalar)`",
        )
    ]


def exact_lmax(domain: Domain) -> int:
    """The largest band (degrees ``l < lmax``) whose transform the grid computes exactly.

    ``sht`` integrates ``f · Y_lm`` over the grid; for ``f`` and ``Y_lm`` of degrees ``< lmax``
    the integrand in ``cos θ`` is a polynomial of degree ``≤ 2 lmax - 2`` (same ``m``: the
    ``(1 - x²)^(m/2)`` factors multiply to a polynomial). Gauss-Legendre on ``nlat`` nodes is
    exact to degree ``2 nlat - 1``: ``lmax ≤ nlat``; Clenshaw-Curtis (equiangular) to degree
    ``nlat - 1``: ``lmax ≤ (nlat + 1) // 2``. The DFT over ``nlon`` longitudes keeps the real
    and imaginary parts of the orders ``|m| < nlon / 2`` only: ``lmax ≤ (nlon + 1) // 2``.
    Within both, ``sht(isht(a)) = a`` for every band-limited ``a``, so rotations act on the
    coefficients by the Wigner matrices of each degree, exactly (checked numerically against
    direct evaluation in tests/families/spectral/test_spectral_contracts.py)."""
    nlat, nlon = domain.grid
    quadrature = (nlat + 1) // 2 if domain.quadrature == "equiangular" else nlat
    return min(quadrature, (nlon + 1) // 2)


def sphere_bandwidth(ctx: OpContext, lmax: int) -> tuple[int, int]:
    """``(lmax, mmax)``: the requested degree bound (0 = the grid's exact default), and
    triangular truncation for the orders."""
    nlat, nlon = ctx.domain.grid
    exact = exact_lmax(ctx.domain)
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


def coefficient_axis(ctx: OpContext, lmax: int) -> str:
    """The axis of ``sht``'s coefficients of band ``lmax``: it carries the band, so that only
    coefficients of one band (one shape) add."""
    band, _ = sphere_bandwidth(ctx, lmax)
    return spectrum_axis(None if band == exact_lmax(ctx.domain) else band)


def coefficient_band(domain: Domain, axis: str) -> int:
    """The ``lmax`` of coefficients over ``axis`` (``spectrum``: the grid's exact band)."""
    band = spectrum_band(axis)
    return exact_lmax(domain) if band is None else band


SHT = define(
    "sht",
    "spectral",
    (tensor("z"), attr("lmax", AttrKind.INT, 0)),
    _TRANSFORM,
    "coefficients over `spectrum`, complex `[batch, channels, lmax, mmax]`: the orthonormal real "
    "spherical-harmonic transform (`lmax=0`: the degree the grid integrates exactly); input over "
    "a sphere (`GEO312`), `lmax <= nlat` (`GEO313`), under `SO(3)` within the exact band "
    "(`GEO412`); over `spectrum(lmax=L)` for another band; rotations act on them by Wigner D",
)


@typing_rule(SHT)
def _infer_sht(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Coefficients over the band's axis: ``sht`` is linear, and within the grid's exact band
    (``GEO412`` under SO(3) beyond it) rotations act on them by Wigner D, degree by degree."""
    z = _input_over(ctx, types)
    return (z.with_axes((coefficient_axis(ctx, attrs["lmax"]),)),)


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
    "(`GEO312`); under `SO(3)` `lmax` within the band the grid transforms exactly (`GEO412`) "
    "and `degree_order` is `GEO409` (it commutes only with polar rotations)",
)


@typing_rule(SFNO_CONV)
def _infer_sfno_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    z = _input_over(ctx, types)
    sphere_bandwidth(ctx, attrs["lmax"])
    return (same_axis_out(ctx, z, attrs["out"]),)


def _rotates_sphere(ctx: OpContext) -> bool:
    """The group holds rotations that move latitudes (SO(3)), not only polar ones."""
    geo = ctx.group.geometric
    return geo is not None and geo.rotations is not Rotations.NONE and geo.n == 3


@contract(SHT)
def _band_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    """GEO412: under SO(3), a band past what the grid integrates exactly (:func:`exact_lmax`).
    Polar rotations by grid steps commute with the transform at any band: they only shift the
    longitudes, which the DFT of each latitude ring follows exactly."""
    lmax, exact = attrs["lmax"], exact_lmax(ctx.domain)
    if not _rotates_sphere(ctx) or lmax <= exact:
        return []
    nlat, nlon = ctx.domain.grid
    return [
        ctx.diagnostic(
            "GEO412",
            f"`lmax={lmax}` is past the band that the {ctx.domain.quadrature} {nlat} x {nlon} "
            f"grid transforms exactly (lmax <= {exact}), so it is not equivariant under "
            f"{ctx.group}: the quadrature aliases degrees into one another",
            label=f"lmax={lmax}",
            help=f"keep `lmax <= {exact}` (or leave it out: that is the default), or refine the "
            "grid: the exact band is nlat (legendre_gauss) or (nlat + 1) // 2 (equiangular), "
            "and at most (nlon + 1) // 2",
        )
    ]


@contract(SFNO_CONV)
def _sfno_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    found = _band_contract(ctx, types, attrs)
    if found:
        return found
    if attrs["filter"] == "degree_order" and _rotates_sphere(ctx):
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


# ---------------------------------------------------------------------------------------------
# Absolute grid coordinates (declared symmetry breaking)


GRID_COORDS = define(
    "grid_coords",
    "spectral",
    (tensor("like"),),
    preset(_TRANSFORM, euclidean=None, linear_in=(), commutes_gather=False),  # reads the grid
    "`d x scalar over torus`: the coordinates of every grid point of the d-D torus of `like` "
    "(its batch), `x_j = i_j / n_j` in [0, 1), neuraloperator's `GridEmbeddingND` with its "
    "default boundaries `[[0, 1], ...]`; a shift moves the grid under them, so translations "
    "must be declared broken (`breaks T(d) by ...`), else `GEO470`",
)


@typing_rule(GRID_COORDS)
def _infer_grid_coords(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Fixed numbers per grid point: invariant channels under any group that moves no grid
    point, which the contract (GEO470) requires."""
    like = _input_over(ctx, types)
    return (scalars(len(ctx.domain.grid)).with_axes(like.axes),)


@contract(GRID_COORDS)
def _grid_coords_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    if ctx.group.geometric is None and not rotates_grid(ctx.group):
        return []
    moved = "shifts" if ctx.group.translations else "rotations"
    return [
        ctx.diagnostic(
            "GEO470",
            f"absolute grid coordinates are not equivariant under the {moved} of {ctx.group}",
            label="absolute coordinates",
            help=f"declare `breaks T({len(ctx.domain.grid)}) by <value>` after `symmetry` if the "
            "model reads the grid coordinates on purpose (FNO as published); the check then "
            "verifies what remains"
            if ctx.group.translations and not rotates_grid(ctx.group)
            else "breaking grid rotations is not built: declare `symmetry T(d)` and break it",
        )
    ]


LATITUDE = define(
    "latitude",
    "spectral",
    (tensor("like"),),
    preset(_TRANSFORM, euclidean=None, linear_in=(), commutes_gather=False),  # reads the grid
    "`scalar over sphere`: the latitude of every grid point of the sphere of `like` (its batch), "
    "in radians, π/2 at the north pole (the first row); rotations about the polar axis keep it, "
    "other rotations do not: under `SO(3)` declare `breaks SO(3) to SO(2) by ...`, else `GEO471`",
)


@typing_rule(LATITUDE)
def _infer_latitude(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A fixed number per grid row: invariant under the rotations about the polar axis, which
    move grid points along their row; the contract (GEO471) refuses any other rotation."""
    like = _input_over(ctx, types)
    return (scalars(1).with_axes(like.axes),)


@contract(LATITUDE)
def _latitude_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    if not _rotates_sphere(ctx):
        return []
    return [
        ctx.diagnostic(
            "GEO471",
            f"the latitude is not equivariant under {ctx.group}: a rotation off the polar axis "
            "moves grid points between latitudes",
            label="absolute latitude",
            help="declare `breaks SO(3) to SO(2) by <value>` after `symmetry` if the model reads "
            "the latitude on purpose: the rotations about the polar axis remain, and are checked",
        )
    ]
