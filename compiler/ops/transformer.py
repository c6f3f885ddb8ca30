"""Small typed pieces of normalised transformers (nGPT, Loshchilov et al. 2024, arXiv:2410.01131):
``channel_scale(x, init, base)``, a learned per-channel scale in nGPT's scaled parametrisation,
and ``head_normalize(x, heads)``, each head's channels divided by their norm (nGPT's q and k).

Both treat channels as plain numbers: invariant inputs only (``GEO491``).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import not_invariant
from geoc.types import FeatureType

CHANNEL_SCALE = define(
    "channel_scale",
    "transformer",
    (
        tensor("x"),
        attr("init", AttrKind.FLOAT, 1.0),
        attr("base", AttrKind.FLOAT, 1.0),
        attr("power", AttrKind.INT, 1, written_only=True),
    ),
    preset(PLAIN, "learned", "ambient", linear_in=("x",)),
    "`x * s^power` channel by channel, `s = p · init / base` with the learned `p` starting at "
    "`base` (nGPT's scaled parametrisation: `s` starts at `init`, `p` trains at the scale "
    "`base`, `> 0`, else `GEO492`; `power=2`: one `s` for both sides of a product, as nGPT's "
    "`s_qk` scales q and k, `power` 1 or 2, else `GEO492`); same type; invariant `x` (`GEO491`)",
)

HEAD_NORMALIZE = define(
    "head_normalize",
    "transformer",
    (tensor("x"), attr("heads", AttrKind.INT, 1)),
    preset(PLAIN, "ambient", "euclidean_norm"),
    "the channels of each of `heads` equal parts divided by their norm (0 stays 0), as nGPT "
    "normalises queries and keys per head; same type; widths divisible by `heads` (`GEO379`); "
    "invariant `x` (`GEO491`)",
)


@typing_rule(CHANNEL_SCALE, HEAD_NORMALIZE)
def _infer_channelwise(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Invariant channels mapped to invariant channels on the same element: a function of the
    element's own numbers, which no group element moves; the type stays the input's."""
    (x,) = types
    if ctx.op == CHANNEL_SCALE and attrs.get("power", 1) not in (1, 2):
        raise ctx.error(
            "GEO492",
            f"`channel_scale(..., power={attrs['power']})`: the power is 1 or 2",
            attr="power",
            label="power",
            help="`power=2` applies one learned scale to both factors of a product (nGPT's s_qk)",
        )
    if ctx.op == CHANNEL_SCALE and attrs.get("base", 1.0) <= 0:
        raise ctx.error(
            "GEO492",
            f"`channel_scale(..., base={attrs['base']})`: the scale of the parameter must be > 0",
            attr="base",
            label="base <= 0",
            help="nGPT uses `base = 1 / sqrt(d_model)` for its eigen learning rates",
        )
    heads = attrs.get("heads", 1)
    width = ctx.group.type_dim(x)
    if ctx.op == HEAD_NORMALIZE and (heads < 1 or width % heads):
        raise ctx.error(
            "GEO379",
            f"`head_normalize`: {width} channels do not split into {heads} heads",
            attr="heads",
            label=f"heads={heads}",
            help="give `heads` a divisor of the width",
        )
    return (x,)


@contract(CHANNEL_SCALE, HEAD_NORMALIZE)
def _channelwise_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """A scale per channel or a norm over a head's channels mixes copies as plain numbers."""
    (x,) = types
    moving = not_invariant(ctx, x)
    if not moving:
        return []
    return [
        ctx.diagnostic(
            "GEO491",
            f"`{ctx.op}` of `{moving[0]}`: it treats channels as plain numbers, which "
            f"{ctx.group} moves",
            arg=0,
            label=str(x),
            help="take invariant channels: `linear(x, n x scalar)`",
        )
    ]
