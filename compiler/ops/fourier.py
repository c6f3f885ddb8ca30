"""Fourier coefficients of torus fields, typed on the spectrum, and the maps that act on them.

``fft(z, modes=m)`` takes a real field over ``torus(n_1, ..., n_d)`` to its complex Fourier
coefficients over the axis ``fourier<m>`` (:func:`geoc.domains.grid.fourier_axis`): the kept
modes are part of the type. ``ifft(c)`` takes them back to a field on the grid of the model's
fields. In between, nonlinearities act in Fourier space, as in the stable autoregressive
neural operators of McCabe et al. (arXiv:2306.10619), which apply their nonlinearity to the
spectrum rather than on the grid.

Why only some maps are allowed: a cyclic shift by ``t`` multiplies the mode ``k`` of every
channel by the same phase ``exp(-2πi k·t/n)``. A map of the coefficients commutes with every
shift exactly when, mode by mode, it commutes with multiplying by a unit complex number:

* ``mod_act(c, fn)``: ``c · fn(|c| + b) / |c|`` (modReLU, Arjovsky et al. 2016, with any
  activation): a real factor that depends on ``|c|`` only, which a phase keeps;
* ``mode_linear(c, out)``: one complex channel matrix at every mode (linear over C);
* ``mode_filter(c)``: one complex weight per (channel, mode), a Fourier multiplier;
* ``+``, ``-`` and a real constant factor of coefficients of the same modes.

A function of the real and imaginary parts one by one (``act``, ``mlp``, a bias) does not
commute with a rotation of the complex plane: ``GEO337``. Under grid rotations (``C(4)``,
``D(4)``) a rotation also permutes the modes, which these weights do not follow: ``GEO531``.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.domains.grid import (
    TORUS,
    fourier_axis,
    fourier_modes,
    is_fourier_axis,
    rotates_grid,
)
from geoc.ops import PLAIN, AttrKind, OpContext, attr, define, preset, tensor, typing_rule
from geoc.ops.euclidean import FIELD_LAYER
from geoc.ops.layers import check_activation
from geoc.ops.spectral import kept_modes, same_axis_out
from geoc.types import FeatureType

#: Maps of fields and coefficients, channel-first (``[batch, channels, *grid or modes]``), of
#: their coordinates: manifold points are GEO321 (FIELD_LAYER).
_FOURIER = preset(
    PLAIN,
    *("fields", "channel_first"),
    euclidean=FIELD_LAYER,
    linear_in=("z",),
    commutes_gather=False,
)
#: Maps of Fourier coefficients (``spectra``: values over a coefficient axis).
_ON_COEFFICIENTS = preset(_FOURIER, "spectra", linear_in=("c",))


def _not_under_rotations(ctx: OpContext) -> None:
    if rotates_grid(ctx.group):
        raise ctx.error(
            "GEO531",
            f"`{ctx.op}` under {ctx.group}: a grid rotation permutes the Fourier modes, and "
            "Fourier coefficients typed for that are not built",
            label=f"{ctx.op} under grid rotations",
            help="declare `symmetry T(d)` (the shifts only turn each mode's phase), or use "
            "`spectral_conv`, whose plain layer ties its weights over the orbits of modes",
        )


def _field(ctx: OpContext, ftype: FeatureType) -> FeatureType:
    """The input of ``fft``: a field over the declared torus grid (GEO312 otherwise)."""
    if ftype.axes != (TORUS,):
        raise ctx.error(
            "GEO312",
            f"`fft` needs a field over `{TORUS}`, but its input is `{ftype}`",
            arg=0,
            label=str(ftype),
            help="`fft` transforms a field on the declared torus grid; on a sphere use `sht`",
        )
    return ftype


def _coefficients(ctx: OpContext, ftype: FeatureType) -> FeatureType:
    """An input of Fourier coefficients (GEO312 otherwise)."""
    if len(ftype.axes) != 1 or not is_fourier_axis(ftype.axes[0]):
        raise ctx.error(
            "GEO312",
            f"`{ctx.op}` needs Fourier coefficients (over `fourier…`), but its input is `{ftype}`",
            arg=0,
            label=str(ftype),
            help="take the coefficients of a torus field with `fft(z, modes=m)` first",
        )
    _not_under_rotations(ctx)
    return ftype


def coefficient_modes(ctx: OpContext, ftype: FeatureType) -> tuple[int, ...]:
    """The kept modes per grid dimension of coefficients of type ``ftype``."""
    modes = fourier_modes(ftype.axes[0], len(ctx.domain.grid))
    assert modes is not None, "typed: coefficients over a fourier axis"
    return modes


FFT = define(
    "fft",
    "spectral",
    (tensor("z"), attr("modes", AttrKind.ANY)),
    _FOURIER,
    "complex Fourier coefficients over `fourier<m>` (`[batch, channels, 2 m_1, ..., 2 m_{d-1}, "
    "m_d]`: frequencies `0..m-1, -m..-1` on every axis but the last, the real FFT's half "
    "spectrum `0..m-1` on the last), normalised by the number of grid points; input over the "
    "torus (`GEO312`), `modes` within the Nyquist limit (`GEO313`); a shift turns each mode's "
    "phase; under grid rotations `GEO531`",
)


@typing_rule(FFT)
def _infer_fft(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """The DFT is linear, and a shift by ``t`` multiplies its mode ``k`` by
    ``exp(-2πi k·t/n)``: the action the coefficient axis carries (``fourier<m>``)."""
    (z,) = types
    _field(ctx, z)
    _not_under_rotations(ctx)
    modes = kept_modes(ctx, attrs["modes"], ctx.domain.grid)
    return (z.with_axes((fourier_axis(modes),)),)


IFFT = define(
    "ifft",
    "spectral",
    (tensor("c"),),
    preset(_ON_COEFFICIENTS, linear_in=("c",)),
    "back over `torus`: the real field on the grid of the model's fields whose kept Fourier "
    "coefficients are `c` (the others zero; the imaginary parts a real field cannot carry, at "
    "the frequencies 0 and n/2 of the last axis, dropped); input over `fourier<m>` (`GEO312`)",
)


@typing_rule(IFFT)
def _infer_ifft(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """The inverse DFT is linear and turns the phase ``exp(-2πi k·t/n)`` of every mode back
    into the shift by ``t``; dropping the imaginary part at the frequencies 0 and n/2 of the
    last axis commutes with it, as those phases are real there."""
    (c,) = types
    _coefficients(ctx, c)
    return (c.with_axes((TORUS,)),)


MOD_ACT = define(
    "mod_act",
    "spectral",
    (tensor("c"), attr("fn", AttrKind.SYMBOL)),
    preset(_ON_COEFFICIENTS, "learned", linear_in=()),
    "same type: `c · fn(|c| + b) / |c|` per coefficient (modReLU with any activation `fn`; "
    "`b` a learned real bias per channel, 0 at first), 0 where `|c|` is below the machine "
    "epsilon (so that its derivatives stay finite); input over `fourier<m>` (`GEO312`); a "
    "map of the real and imaginary parts one by one (`act`) is `GEO337`",
)


@typing_rule(MOD_ACT)
def _infer_mod_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A real factor that depends on ``|c|`` only: a shift multiplies ``c`` by a unit complex
    number, which keeps ``|c|`` and so commutes with the factor."""
    (c,) = types
    check_activation(ctx, attrs["fn"])
    return (_coefficients(ctx, c),)


MODE_LINEAR = define(
    "mode_linear",
    "spectral",
    (tensor("c"), attr("out", AttrKind.TYPE)),
    preset(_ON_COEFFICIENTS, "learned", linear_in=("c",)),
    "`out` over the same modes: one complex `c(c) x c(out)` channel matrix, the same at every "
    "mode, no bias (a constant added to every mode is no set of coefficients); input over "
    "`fourier<m>` (`GEO312`)",
)


@typing_rule(MODE_LINEAR)
def _infer_mode_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """A shift multiplies every channel of a mode by the same phase, which commutes with a
    complex-linear map of the channels."""
    (c,) = types
    _coefficients(ctx, c)
    return (same_axis_out(ctx, c, attrs["out"], "modes"),)


MODE_FILTER = define(
    "mode_filter",
    "spectral",
    (tensor("c"),),
    preset(_ON_COEFFICIENTS, "learned", linear_in=("c",)),
    "same type: one learned complex weight per (channel, kept mode), a depthwise Fourier "
    "multiplier (`spectral_conv(..., mixing=depthwise)` without its transforms); input over "
    "`fourier<m>` (`GEO312`)",
)


@typing_rule(MODE_FILTER)
def _infer_mode_filter(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Multiplying a coefficient by a complex weight commutes with multiplying it by the phase
    of a shift."""
    (c,) = types
    return (_coefficients(ctx, c),)
