"""What torus and sphere domains share: fields, their channels, the operators that act on
them, and the diagnostic for a group without an action on the grid."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains.base import (
    Domain,
    DomainKind,
    DomainRules,
    check_channels,
    is_spectrum_axis,
)
from geoc.groups import Geometric, Group, Rotations
from geoc.types import AtomKind, FeatureType

if TYPE_CHECKING:
    from geoc.ops import OpContext, OpDef
    from geoc.ops.traits import Traits

TORUS, SPHERE, GRID = DomainKind.TORUS.value, DomainKind.SPHERE.value, DomainKind.GRID.value
FIELD_AXES = frozenset({TORUS, SPHERE, GRID})
#: The flat grids (periodic or not) whose fields `restrict` / `prolong` resample.
FLAT_AXES = (TORUS, GRID)


def scaled_axis(base: str, scale: Fraction) -> str:
    """The axis of a field over the flat grid ``base`` (``torus`` or ``grid``) at ``scale``
    times the domain's resolution per dimension: ``torus`` (1), ``torus_over2`` (restricted by
    2), ``torus_times2`` (prolonged by 2), ``torus_times3_over2``; names, so that types print
    and parse back, and fields of different resolutions (shapes) never combine (GEO305)."""
    times = f"_times{scale.numerator}" if scale.numerator != 1 else ""
    over = f"_over{scale.denominator}" if scale.denominator != 1 else ""
    return f"{base}{times}{over}"


_SCALED = re.compile(
    r"(?P<base>[a-z]+)(?:_times(?P<num>[1-9][0-9]*))?(?:_over(?P<den>[1-9][0-9]*))?"
)


def axis_scale(axis: str) -> tuple[str, Fraction] | None:
    """The flat grid and resolution of a :func:`scaled_axis` (None: not such an axis)."""
    found = _SCALED.fullmatch(axis)
    if found is None or found["base"] not in FLAT_AXES:
        return None
    return found["base"], Fraction(int(found["num"] or 1), int(found["den"] or 1))


#: The axis of an image turned into its canonical orientation (``canonicalise``): the grid's
#: rotations do not move its points (they act on its channels only).
CANONICAL_TORUS = f"{TORUS}_canon"


def is_canonical_axis(axis: str) -> bool:
    return axis == CANONICAL_TORUS


#: The axis of a torus field's Fourier coefficients: ``fourier12`` (12 modes on every axis),
#: ``fourier12_8`` (one count per axis). The kept modes are part of the type, so coefficients
#: of two truncations (two shapes) never combine (GEO305), and the name prints and parses back.
FOURIER = "fourier"
_FOURIER = re.compile(r"fourier(?P<modes>[1-9][0-9]*(?:_[1-9][0-9]*)*)")


def fourier_axis(modes: Sequence[int]) -> str:
    """The axis of the coefficients ``fft(z, modes=...)`` keeps (one count when all agree)."""
    counts = (modes[0],) if len(set(modes)) == 1 else tuple(modes)
    return FOURIER + "_".join(map(str, counts))


def fourier_modes(axis: str, dims: int) -> tuple[int, ...] | None:
    """The modes per grid dimension of a :func:`fourier_axis` (None: not such an axis)."""
    found = _FOURIER.fullmatch(axis)
    if found is None:
        return None
    counts = tuple(int(m) for m in found["modes"].split("_"))
    return counts * dims if len(counts) == 1 else counts


def is_fourier_axis(axis: str) -> bool:
    return _FOURIER.fullmatch(axis) is not None


def is_coefficient_axis(axis: str) -> bool:
    """Values over ``axis`` are complex coefficients of a field: spherical-harmonic ones (over
    ``spectrum``) or Fourier ones of a torus field (over ``fourier…``)."""
    return is_spectrum_axis(axis) or is_fourier_axis(axis)


def is_field_axis(axis: str) -> bool:
    """Values over ``axis`` are fields: a grid (of any resolution, or turned canonical), or the
    coefficients of one (of any band)."""
    return (
        axis in FIELD_AXES
        or is_coefficient_axis(axis)
        or axis_scale(axis) is not None
        or is_canonical_axis(axis)
    )


def is_grid_axis(axis: str) -> bool:
    """``axis`` indexes the points of a grid (a torus or grid of any resolution, a canonical
    torus, a sphere): values over it are fields ``[batch, channels, *grid]``, pooled over every
    point."""
    return axis == SPHERE or axis_scale(axis) is not None or is_canonical_axis(axis)


def is_field(ftype: FeatureType) -> bool:
    return bool(ftype.axes) and is_field_axis(ftype.axes[0])


#: What an operator's traits must allow for each kind of field value: (the value is of the kind,
#: the traits allow it, the code, what the kind is called, what takes it).
FieldUse = tuple[Callable[[FeatureType], bool], Callable[["Traits"], bool], str, str, str]
_FIELD_USES: tuple[FieldUse, ...] = (
    # Coefficients are complex: only linear maps that commute with Wigner D act on them.
    (
        lambda ftype: len(ftype.axes) == 1 and is_spectrum_axis(ftype.axes[0]),
        lambda traits: traits.spectra,
        "GEO311",
        "spherical-harmonic coefficients",
        "coefficients take `+`, `-`, a constant factor and `isht`; transform back "
        "with `isht(...)` first",
    ),
    # A shift by t multiplies the mode k by exp(-2πi k·t/n): a map of the real and imaginary
    # parts one by one does not commute with that rotation of the complex plane.
    (
        lambda ftype: len(ftype.axes) == 1 and is_fourier_axis(ftype.axes[0]),
        lambda traits: traits.spectra,
        "GEO337",
        "Fourier coefficients (a shift multiplies each mode by a phase, which this map does "
        "not commute with)",
        "Fourier coefficients take `mod_act` (a function of |c| times the phase), "
        "`mode_linear`, `mode_filter`, `+`, `-` and `ifft`; or go back with `ifft(c)` first",
    ),
    (
        is_field,
        lambda traits: traits.fields,
        "GEO311",
        "fields",
        "fields take `linear`, `mlp`, `act`, `+`, `-`, `*`, `concat`, "
        "`spectral_conv`, `sht`, `isht`, `sfno_conv`, `fft`, the group convolutions "
        "(docs/gcnn.md) and `sum` / `mean` / `max` over a torus",
    ),
)


def check_field_use(ctx: OpContext, op: OpDef, types: Sequence[FeatureType]) -> None:
    """GEO311 for an operator whose traits do not take fields (or spherical-harmonic
    coefficients), on one; GEO337 for one that does not take Fourier coefficients; GEO305 for
    coefficients of two bands (two shapes) in one call."""
    _one_band(ctx, types)
    for index, ftype in enumerate(types):
        for is_kind, allowed, code, kind, takes in _FIELD_USES:
            if is_kind(ftype) and not allowed(op.traits):
                raise ctx.error(
                    code,
                    f"`{ctx.op}` does not act on {kind}: `{ftype}`",
                    arg=index,
                    label=str(ftype),
                    help=takes,
                )


def _one_band(ctx: OpContext, types: Sequence[FeatureType]) -> None:
    bands = [
        (i, t.axes[0]) for i, t in enumerate(types) if t.axes and is_coefficient_axis(t.axes[0])
    ]
    for index, axis in bands[1:]:
        if axis != bands[0][1]:
            raise ctx.error(
                "GEO305",
                f"`{ctx.op}` combines coefficients over {bands[0][1]} with coefficients over "
                f"{axis}: their bands (and shapes) differ",
                arg=index,
                label=f"over {axis}",
                help="give every `sht` the same `lmax` (`spectrum` is the band the grid "
                "transforms exactly, the default), every `fft` the same `modes`",
            )


def check_field_broadcast(
    ctx: OpContext, value: FeatureType, axes: tuple[str, ...], arg: int
) -> None:
    """A global value meets fields as the constant field equal to it at every grid point: its
    channels must be a field's (GEO310). Spherical-harmonic coefficients have no such constant
    (a constant field is degree 0 alone; an equal value at every (l, m) is not equivariant):
    GEO314."""
    if axes and is_coefficient_axis(axes[0]):
        sphere = is_spectrum_axis(axes[0])
        raise ctx.error(
            "GEO314",
            f"`{ctx.op}` cannot broadcast the global value `{value}` onto "
            f"{'spherical-harmonic' if sphere else 'Fourier'} coefficients: a global value is "
            "no set of coefficients",
            arg=arg,
            label=f"{value}, no axis",
            help="combine it with the field before `sht(...)`, or after `isht(...)`"
            if sphere
            else "combine it with the field before `fft(...)`, or after `ifft(...)`",
        )
    made = f"`{ctx.op}` would make the global `{value}` a constant field, but a field"
    check_field_channels(ctx, value.with_axes(axes), arg, made)


def check_field_channels(
    ctx: OpContext, ftype: FeatureType, arg: int | None = None, what: str = "a field"
) -> None:
    """GEO310 unless every channel of a field is a scalar, or ``regular`` where a rotation
    group acts on a torus (group feature maps, docs/gcnn.md), or a hyperbolic point over a
    flat grid whose group only moves the points (:func:`takes_points`)."""
    if not is_field(ftype):
        return
    allowed = {AtomKind.SCALAR} | ({AtomKind.REGULAR} if rotates_grid(ctx.group) else set())
    if takes_points(ctx.group, ftype.axes[0]):
        allowed |= POINT_FIELD_KINDS
    where = f"{what} over `{ftype.axes[0]}`"
    check_channels(ctx, ftype, allowed, "GEO310", where, _channels_help(ctx.group), arg)


#: The manifolds whose points a flat grid's field may carry at each grid point (HCNN, Poincaré
#: ResNet): the group leaves such a point alone and moves the grid.
POINT_FIELD_KINDS = frozenset({AtomKind.LORENTZ, AtomKind.POINCARE})


def takes_points(group: Group, axis: str) -> bool:
    """Whether fields over ``axis`` may carry Lorentz or Poincaré points: a torus or grid (of any
    resolution) under a group that moves its points without acting on the channels (shifts, or
    none). Rotations of the grid are left out: the rotated group's manifold operators would
    type the points' tangent vectors as vectors (``rotated``), which a grid's channels are not."""
    return axis_scale(axis) is not None and not rotates_grid(group)


def check_field_results(
    ctx: OpContext, types: Sequence[FeatureType], results: Sequence[FeatureType]
) -> None:
    """GEO310 for a manifold result over a flat grid that its fields cannot carry (an SPD
    matrix per grid point; any point where the group rotates the grid), so that a typing
    rule that keeps its input's axes never makes one."""
    for ftype in results:
        if ftype.has_manifold and is_field(ftype) and axis_scale(ftype.axes[0]) is not None:
            check_field_channels(ctx, ftype, None, f"`{ctx.op}` would make a field, but a field")


def _channels_help(group: Group) -> str:
    if rotates_grid(group):
        return "write the channels as `k x scalar` (images) or `k x regular` (group feature maps)"
    return (
        "write the channels as `k x scalar` (or one `lorentz(n)` / `poincare(n)` point per grid "
        "point): the group moves the grid, not the channels"
    )


def rotates_grid(group: Group) -> bool:
    """Whether ``group`` is ``C(n)`` / ``D(n)``, alone or with ``T(2)``: rotations (and
    reflections) of a 2-D torus grid about its origin (docs/gcnn.md). Whether they map the
    grid onto itself (n | 4, a square grid for n = 4) is the torus's call."""
    factor = group.matrix
    if factor is None or factor.family not in ("C", "D"):
        return False
    others = [f for f in group.factors if f is not factor]
    translations = [f for f in others if f == Geometric(2, Rotations.NONE, True)]
    return len(translations) == len(others) <= 1


def no_action(group: Group, domain: Domain, span: Span | None, why: str | None) -> None:
    """GEO408 when ``why`` says the group has no action on the grid domain."""
    if why:
        raise GeoError(
            Diagnostic(
                "GEO408",
                f"`{group}` does not act on the domain `{domain}`",
                span,
                label="no action on this grid",
                help=f"{why}; declare that (or `trivial`)",
            )
        )


def field_rules(
    kind: DomainKind,
    describe: Callable[[Domain], str],
    parse: Callable[..., Domain],
    symmetry_error: Callable[[Group, Domain], str | None],
    more_axes: tuple[str, ...] = (),
) -> DomainRules:
    """The rules of a grid domain: values over its grid axis (and ``more_axes``), fields with
    scalar (or ``regular``) channels, the operators whose traits take fields, and GEO408 when
    ``symmetry_error`` says the group has no action."""

    def check_symmetry(group: Group, domain: Domain, span: Span | None) -> None:
        no_action(group, domain, span, symmetry_error(group, domain))

    return DomainRules(
        kind,
        describe=describe,
        axes=lambda d: (d.axis, *more_axes),
        parse=parse,
        is_field=True,
        check_symmetry=check_symmetry,
        check_type=check_field_channels,
        check_use=check_field_use,
        check_result=check_field_results,
        check_broadcast=check_field_broadcast,
    )
