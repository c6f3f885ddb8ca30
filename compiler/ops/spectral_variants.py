"""Options of ``spectral_conv`` for stable autoregressive neural operators (McCabe et al.,
"Towards Stability of Autoregressive Neural Operators", TMLR 2023, arXiv:2306.10619).

Each option changes only the Fourier multiplier ``R(k)`` of the layer ``y = IDFT(R · DFT(x))``,
so each keeps the layer a convolution, and a convolution commutes exactly with every cyclic
shift of the torus grid (``T(d)``):

* ``mixing=depthwise``: one complex weight per (channel, mode), ``R(k)`` diagonal: the paper's
  depthwise spectral filters (channel mixing left to the pointwise ``linear`` beside it).
* ``cutoff=disc``: the kept modes are ``|k| < m`` (Euclidean norm of the integer frequency),
  a disc (ball in 3-D) inside the box ``|k_j| < m``; the mask is even in ``k``, so the
  multiplier stays the spectrum of a real kernel.
* ``bound=B``: each mode's filter (the complex scalar per channel, or the channel matrix per
  mode) is ``B tanh(|w|) w / |w|`` (``|w|`` the Frobenius norm), so its norm is at most ``B``
  and, by Parseval, ``‖K x‖ ≤ B ‖x‖``: the layer cannot amplify any frequency past ``B``.

Under grid rotations (``C(4)``, ``D(4)``) the options are not built (GEO531).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from geoc.domains.grid import rotates_grid
from geoc.ops import OpContext
from geoc.types import FeatureType

MIXINGS = ("full", "depthwise")
CUTOFFS = ("box", "disc")


def variant_attrs(attrs: dict) -> tuple[str, str, float]:
    """``(mixing, cutoff, bound)`` of a ``spectral_conv`` (written only where a spec writes
    them; the defaults are the plain FNO layer)."""
    return attrs.get("mixing", "full"), attrs.get("cutoff", "box"), float(attrs.get("bound", 0.0))


def check_variants(
    ctx: OpContext, z: FeatureType, out: FeatureType, modes: Sequence[int], attrs: dict
) -> None:
    """The options fit the layer: depthwise keeps the channels (GEO334), a disc needs the same
    modes on every axis (GEO335), a bound is a finite number >= 0 (GEO336), and none of them is
    built under grid rotations (GEO531)."""
    mixing, cutoff, bound = variant_attrs(attrs)
    if rotates_grid(ctx.group) and (mixing, cutoff, bound) != ("full", "box", 0.0):
        raise ctx.error(
            "GEO531",
            f"`spectral_conv` with `mixing={mixing}`, `cutoff={cutoff}`, `bound={bound:g}` under "
            f"{ctx.group}: filters tied over the orbits of grid rotations are built for the "
            "plain layer only",
            label="spectral_conv options",
            help="declare `symmetry T(d)` (every option commutes with the shifts), or drop "
            "`mixing`, `cutoff` and `bound`",
        )
    if mixing == "depthwise" and out.with_axes(()) != z.with_axes(()):
        raise ctx.error(
            "GEO334",
            f"a depthwise spectral filter keeps the channels of its input (`{z.with_axes(())}`),"
            f" but `out` is `{out.with_axes(())}`",
            label=str(out.with_axes(())),
            help=f"write `out` as `{z.with_axes(())}` and change the width with `linear`, or "
            "use `mixing=full`",
        )
    if cutoff == "disc" and len(set(modes)) != 1:
        raise ctx.error(
            "GEO335",
            f"`cutoff=disc` keeps the modes |k| < m, one radius for every axis; got "
            f"`modes={list(modes)}`",
            label="modes",
            help="write one integer, `modes=m`, or use `cutoff=box` for a box of modes",
        )
    if not math.isfinite(bound) or bound < 0:
        raise ctx.error(
            "GEO336",
            f"`bound={bound}` is not a filter bound: each mode's filter norm stays below it",
            label="bound",
            help="write a finite number > 0, e.g. `bound=1.0` (or leave it out: unbounded)",
        )
