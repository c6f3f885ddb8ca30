"""Positions along a sequence (docs/language.md, "Sequences and causality"): ``rotary(x,
over=tokens)`` (RoPE, Su et al. 2021) and ``position_embedding(x, over=tokens)`` (a learned
vector per position, added).

Both read each token's position, its rank in its own sequence: they are a declared break of
the permutation symmetry (a permutation changes the positions), so under a group that permutes
the axis they are ``GEO488``; a sequence model with positions declares ``breaks S(tokens) by``
the values they compute, or ``symmetry trivial``.
Each acts on its own token and position alone, so along a causal sequence it reads only its
own token (trait ``causal``). The channels they move are plain numbers: invariant inputs only
(``GEO490``).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.domains import DomainKind
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, not_invariant
from geoc.types import FeatureType

#: The traits of both: token by token with the token's position, so not past a gather.
POSITIONAL = preset(PLAIN, "causal", commutes_gather=False)

ROTARY = define(
    "rotary",
    "sequence",
    (
        tensor("x"),
        attr("over", AttrKind.SYMBOL),
        attr("heads", AttrKind.INT, 1),
        attr("base", AttrKind.FLOAT, 10000.0),
    ),
    preset(POSITIONAL, linear_in=("x",)),
    "rotary position embedding (RoPE): the channels of each of `heads` equal parts, in pairs "
    "`(x_i, x_{i+d/2})`, rotated by the angle `p · base^(-2i/d)` of the token's position `p` "
    "in its sequence (`over` a `sequence` axis, else `GEO388`; widths divisible by `2·heads`, "
    "`GEO389`); invariant `x` (`GEO490`), no `S(over)` (`GEO488`)",
)

POSITION_EMBEDDING = define(
    "position_embedding",
    "sequence",
    (tensor("x"), attr("over", AttrKind.SYMBOL), attr("max_len", AttrKind.INT)),
    preset(POSITIONAL, "learned", linear_in=("x",)),
    "`x` plus a learned vector of its width per position `p < max_len` of the token in its "
    "sequence (GPT-2's position embedding; a longer sequence is `GEO650` at run time); `over` "
    "a `sequence` axis (`GEO388`); invariant `x` (`GEO490`), no `S(over)` (`GEO488`)",
)


@typing_rule(ROTARY, POSITION_EMBEDDING)
def _infer_positional(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Token by token, a map of the token's invariant channels chosen by its position: the
    result is invariant channels on the token's row (the contract refuses any group that
    would permute the rows, since the positions would not follow them)."""
    (x,) = types
    over = attrs["over"]
    if ctx.domain.kind is not DomainKind.SEQUENCE or ctx.domain.axis != over:
        raise ctx.error(
            "GEO388",
            f"`{ctx.op}(..., over={over})` reads token positions, which only a `sequence` axis has",
            attr="over",
            label=f"over={over}",
            help="declare `domain sequence(tokens)` and write `over=tokens`",
        )
    if x.axes != (over,):
        raise ctx.error(
            "GEO388",
            f"`{ctx.op}(..., over={over})` moves values over `{over}`; this one is over "
            f"{axes_text(x.axes)}",
            arg=0,
            label=str(x),
            help=f"take a value declared `over {over}`",
        )
    _check_sizes(ctx, x, attrs)
    return (x,)


def _check_sizes(ctx: OpContext, x: FeatureType, attrs: dict) -> None:
    """GEO389: rotary pairs fill whole heads; a table has at least one position."""
    width = ctx.group.type_dim(x)
    if ctx.op == ROTARY:
        heads, problem = attrs.get("heads", 1), ""
        if heads < 1:
            problem = f"`heads={heads}`: at least one head"
        elif width % (2 * heads):
            problem = f"{width} channels do not split into {heads} heads of channel pairs"
        elif attrs.get("base", 10000.0) <= 0:
            problem = "`base` must be positive"
        if problem:
            help = f"project with `linear(x, n x scalar)` to a width divisible by {2 * heads}"
            raise ctx.error("GEO389", f"`rotary`: {problem}", label=f"heads={heads}", help=help)
    elif attrs["max_len"] < 1:
        raise ctx.error(
            "GEO389",
            f"`position_embedding(..., max_len={attrs['max_len']})`: at least one position",
            attr="max_len",
            label="max_len < 1",
            help="give the longest sequence the model reads",
        )


@contract(ROTARY, POSITION_EMBEDDING)
def _positional_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """Positions break a permutation of the axis (GEO488); the channels must be plain numbers
    (GEO490): a rotation of channel pairs or an added vector commutes with no other action."""
    (x,) = types
    over = attrs["over"]
    if over in ctx.group.permuted_axes:
        return [
            ctx.diagnostic(
                "GEO488",
                f"`{ctx.op}` reads each token's position, which `S({over})` does not keep: a "
                "sequence with positions has no permutation symmetry",
                label=f"positions of `{over}`",
                help=f"declare the break: `breaks S({over}) by VALUE` naming the values "
                f"computed with positions (`q = {ctx.op}(...)`), or drop `S({over})` "
                "(`symmetry trivial`)",
            )
        ]
    moving = not_invariant(ctx, x)
    if moving:
        return [
            ctx.diagnostic(
                "GEO490",
                f"`{ctx.op}` of `{moving[0]}`: it mixes or shifts channels as plain numbers, "
                f"which {ctx.group} moves",
                arg=0,
                label=str(x),
                help="take invariant channels: `linear(x, n x scalar)`",
            )
        ]
    return []
