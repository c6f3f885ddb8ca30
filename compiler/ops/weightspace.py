"""Weight spaces: a network's weights and biases as a domain, and the DWSNet / UNF layers
acting on them.

Navon, Shamsian, Achituve, Fetaya, Chechik & Maron, *Equivariant Architectures for Learning in
Deep Weight Spaces*, ICML 2023 (DWSNets); Zhou, Yang, Burns, Jiang, Sokota, Kolter & Finn,
*Permutation Equivariant Neural Functionals* (NFN), NeurIPS 2023, and *Universal Neural
Functionals* (UNF), 2024. See docs/weightspace.md; the layout and the group action live in
``geoc.domains.weightspace_layout``.

A value ``c x scalar over weights`` carries ``c`` channels on each of the ``P`` weights and
biases of the network (MLP, or CNN with a linear head), laid out on one flat axis ``W_1, b_1,
W_2, b_2, ...`` (each row-major). ``symmetry S(hidden)`` permutes the neurons (channels) of
every hidden layer at once, tied across skips, which leaves the network's function unchanged.

**The equivariant linear maps, in closed form.** Each block (``W_i``, ``K_i`` or ``b_i``) is a
tensor whose axes belong to layers; an axis is *permuted* (hidden layer, at least two neurons)
or *fixed* (input and output layers, and the ``k x k`` offsets of a conv kernel, which no
permutation moves: NFN / UNF treat them as extra features). The group of independent per-layer
permutations is a product over layers and each block a tensor product of per-layer permutation
representations, so a map between two blocks is a product of per-layer maps: on a permuted
layer both blocks share, the identity or "average, then broadcast" (the two
``S(n)``-equivariant maps ``R^n -> R^n``); on a permuted layer only the input has, an average;
only the output has, a broadcast; on a fixed axis, a dense matrix (fixed axes fold into the
channels). Summing over block pairs and grouping by the set ``R`` of permuted layers whose index
passes through unchanged, the whole layer is, for each such ``R``: average every block over its
permuted layers outside ``R``, concatenate the channels, one matrix, broadcast back to every
block that has ``R``. This spans exactly the equivariant maps of untied permutations (its
dimension matches ``geoc.solver``'s, tests/families/weightspace/) with a handful of matmuls,
never a ``P x P`` matrix; the bias is the invariant part. Under skips (tied layers) these
maps still commute (the tied permutations are a subgroup), and the layer adds the orbit maps
the tying allows (``geoc.domains.weightspace_tied``), so it spans the tied group's maps too.
With ``padded=true`` every mean runs over each network's true widths only.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.domains import HIDDEN_AXIS, WEIGHTS_AXIS, DomainKind
from geoc.domains.weightspace import check_scalar_channels, is_weight_value
from geoc.domains.weightspace_layout import Block, Term, WeightSpace
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    contract,
    define,
    init_attrs,
    preset,
    tensor,
    typing_rule,
)
from geoc.types import FeatureType, scalars

POOL_REDUCTIONS = ("mean", "sum", "max")

__all__ = ["Block", "Term", "WeightSpace", "is_weight_value"]


# ---------------------------------------------------------------------------------------------
# Typing rules

#: DWSNet layers: on weight-space values only.
_DWS = preset(PLAIN, "weights", linear_in=("x",), commutes_gather=False)


def _weights_input(ctx: OpContext, ftype: FeatureType) -> WeightSpace:
    if ctx.domain.kind is not DomainKind.WEIGHTSPACE or not is_weight_value(ftype):
        where = f"`{ftype}`" if ctx.domain.kind is DomainKind.WEIGHTSPACE else str(ctx.domain)
        raise ctx.error(
            "GEO344",
            f"`{ctx.op}` acts on values over `{WEIGHTS_AXIS}` of a weight space, not {where}",
            arg=0,
            label=str(ftype),
            help="declare `domain weightspace(mlp=[d0, d1, ..., dL])` and an input "
            f"`w: scalar over {WEIGHTS_AXIS}`",
        )
    return WeightSpace.of(ctx.domain)


DWS_LINEAR = define(
    "dws_linear",
    "weightspace",
    (tensor("x"), attr("out", AttrKind.TYPE), attr("bias", AttrKind.BOOL, True), *init_attrs()),
    preset(_DWS, "learned", "bias"),
    "`out` over `weights` (scalar channels, `GEO340`): DWSNet's / UNF's layer, every linear map "
    "that commutes with the hidden-neuron (channel) permutations of an MLP or CNN weight space "
    "(Navon et al. 2023; Zhou et al. 2023, kernel offsets as features), as means, one matrix "
    "per set of kept layers, broadcasts; the bias is the invariant part; padding masked; "
    "input over `weights` of a weight space (`GEO344`)",
)


@typing_rule(DWS_LINEAR)
def _infer_dws_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Over `weights`: per-layer identity, mean and broadcast maps (commuting with every
    neuron permutation, so with tied ones) plus orbit maps defined by index equalities only,
    which a permutation of a tied class preserves."""
    (x,) = types
    _weights_input(ctx, x)
    out: FeatureType = attrs["out"]
    if out.axes and out.axes != (WEIGHTS_AXIS,):
        raise ctx.error(
            "GEO305",
            f"`dws_linear` keeps its input's axis ({WEIGHTS_AXIS}), not {', '.join(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )
    result = out.with_axes((WEIGHTS_AXIS,))
    check_scalar_channels(ctx, result)
    return (result,)


DWS_POOL = define(
    "dws_pool",
    "weightspace",
    (tensor("x"), attr("reduce", AttrKind.SYMBOL, "mean", POOL_REDUCTIONS)),
    _DWS,
    "invariant readout `c(x)·F x scalar`: each weight, kernel and bias reduced over its "
    "permuted neurons (true widths only when padded), concatenated (`F`: fixed entries, e.g. 7 "
    "for `mlp=[2, 32, 32, 1]`); input over `weights` (`GEO344`)",
)


DWS_FLATTEN = define(
    "dws_flatten",
    "weightspace",
    (tensor("x"),),
    _DWS,
    "every weight and bias as one global vector `c(x)·P x scalar`, in the flat layout; not "
    "invariant under `S(hidden)`: `GEO430` (the plain-MLP baseline, for `symmetry trivial`)",
)


#: How many scalars per copy each readout gives: the invariant entries, or every entry.
_READOUT_WIDTH = {DWS_POOL: "invariant_width", DWS_FLATTEN: "size"}


@typing_rule(DWS_POOL, DWS_FLATTEN)
def _infer_readout(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Global: `dws_pool` reduces each block over all its permuted axes, so no permutation
    moves it; `dws_flatten` is not invariant, which its contract (GEO430) reports."""
    (x,) = types
    space = _weights_input(ctx, x)
    return (scalars(getattr(space, _READOUT_WIDTH[ctx.op]) * x.copies),)


@contract(DWS_FLATTEN)
def _flatten_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list:
    permuted = WeightSpace.of(ctx.domain).permuted
    if HIDDEN_AXIS not in ctx.group.permuted_axes or not permuted:
        return []
    return [
        ctx.diagnostic(
            "GEO430",
            f"`dws_flatten` lists every weight in a fixed order: permuting the neurons of hidden "
            f"layer{'s' if len(permuted) > 1 else ''} {', '.join(map(str, sorted(permuted)))} "
            "moves its entries, so it is not invariant under S(hidden)",
            arg=0,
            label=str(types[0]),
            help="pool with `dws_pool(w)` (invariant), or map with `dws_linear` first; flatten "
            "only under `symmetry trivial` (the plain-MLP baseline)",
        )
    ]
