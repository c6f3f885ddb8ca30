"""Weight spaces: an MLP's weights and biases as a domain, and DWSNet layers acting on them.

Navon, Shamsian, Achituve, Fetaya, Chechik & Maron, *Equivariant Architectures for Learning in
Deep Weight Spaces*, ICML 2023 (DWSNets). See docs/weightspace.md.

The domain ``weightspace(mlp=[d0, d1, ..., dL])`` holds the weights ``W_i`` (``d_i x d_{i-1}``,
PyTorch's ``nn.Linear`` layout) and biases ``b_i`` (``d_i``) of an MLP, ``i = 1..L``. A value
``c x scalar over weights`` carries ``c`` channels on each of its ``P = Σ d_i (d_{i-1} + 1)``
entries, laid out on one flat axis ``W_1, b_1, W_2, b_2, ...`` (each row-major). Permuting the
neurons of a hidden layer ``k`` (rows of ``W_k``, entries of ``b_k``, columns of ``W_{k+1}``)
leaves the MLP's function unchanged; ``symmetry S(hidden)`` is the product of these
permutation groups over every hidden layer. Input and output neurons are not permuted, and
neither is a hidden layer of one neuron (``S(1)`` is trivial).

**The equivariant linear maps, in closed form.** Each block (``W_i`` or ``b_i``) is a tensor
whose axes belong to layers; an axis is *permuted* (hidden layer, at least two neurons) or
*fixed*. The group is a product over layers and each block a tensor product of per-layer
permutation representations, so a map between two blocks is a product of per-layer maps: on a
permuted layer both blocks share, the identity or "average, then broadcast" (the two
``S(n)``-equivariant maps ``R^n -> R^n``); on a permuted layer only the input has, an average;
only the output has, a broadcast; on a fixed layer, a dense matrix (fixed axes fold into the
channels). Summing over block pairs and grouping by the set ``R`` of permuted layers whose index
passes through unchanged, the whole layer is, for each such ``R``: average every block over its
permuted layers outside ``R``, concatenate the channels, one matrix, broadcast back to every
block that has ``R``. This spans exactly the equivariant maps (its dimension matches
``geoc.solver``'s, tests/families/weightspace/test_weightspace.py) with a handful of matmuls,
never a ``P x P`` matrix; the bias is the invariant part (one value per fixed index and
channel of each block).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geoc.domains import HIDDEN_AXIS, WEIGHTS_AXIS, Domain, DomainKind
from geoc.domains.weightspace import check_scalar_channels, is_weight_value
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


# ---------------------------------------------------------------------------------------------
# The layout of a weight space


@dataclass(frozen=True)
class Block:
    """One weight matrix ``W_i`` or bias ``b_i``: where it sits and which axes are permuted."""

    name: str  # "W2", "b2"
    layers: tuple[int, ...]  # the layer of each array axis: W_i -> (i, i - 1), b_i -> (i,)
    shape: tuple[int, ...]
    offset: int  # its first entry on the flat `weights` axis
    order: tuple[int, ...]  # its array axes, permuted layers first: the canonical layout
    hidden: tuple[int, ...]  # the permuted layers of those axes, in canonical order

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def fixed_size(self) -> int:
        """Entries per permuted index: the product of the fixed axes (folded into channels)."""
        return math.prod(self.shape[a] for a in self.order[len(self.hidden) :])


@dataclass(frozen=True)
class Term:
    """One group of the layer: the permuted layers ``kept`` pass through. Every block that has
    them (``members``: block, its other permuted dims) is averaged over those dims; the results
    are concatenated, mixed by one matrix, and broadcast back over the same dims of every
    member. Dims count in the canonical view ``[batch, *permuted, fixed x channels]``."""

    kept: tuple[int, ...]
    members: tuple[tuple[int, tuple[int, ...]], ...]

    @property
    def label(self) -> str:
        return "pool" if not self.kept else "h" + "h".join(map(str, self.kept))


@dataclass(frozen=True)
class WeightSpace:
    """The weight space of an MLP with layer sizes ``sizes = (d0, ..., dL)``."""

    sizes: tuple[int, ...]

    @classmethod
    def of(cls, domain: Domain) -> WeightSpace:
        assert domain.kind is DomainKind.WEIGHTSPACE, domain
        return cls(domain.layers)

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @cached_property
    def permuted(self) -> frozenset[int]:
        """The layers whose neurons ``S(hidden)`` permutes: hidden, with at least two."""
        return frozenset(k for k in range(1, self.depth) if self.sizes[k] >= 2)

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        out, offset = [], 0
        for i in range(1, self.depth + 1):
            for name, layers in ((f"W{i}", (i, i - 1)), (f"b{i}", (i,))):
                shape = tuple(self.sizes[k] for k in layers)
                axes = range(len(layers))
                order = tuple(
                    sorted(axes, key=lambda a, layers=layers: layers[a] not in self.permuted)
                )
                hidden = tuple(layers[a] for a in order if layers[a] in self.permuted)
                block = Block(name, layers, shape, offset, order, hidden)
                out.append(block)
                offset += block.size
        return tuple(out)

    @property
    def size(self) -> int:
        """P: the number of weights and biases."""
        return sum(b.size for b in self.blocks)

    @property
    def invariant_width(self) -> int:
        """Invariant linear features per channel: one per fixed index of each block."""
        return sum(b.fixed_size for b in self.blocks)

    @cached_property
    def terms(self) -> tuple[Term, ...]:
        """One term per set of permuted layers some block has (in canonical order)."""
        kept = {_subset(b.hidden, chosen) for b in self.blocks for chosen in _subsets(b.hidden)}
        return tuple(self._term(r) for r in sorted(kept, key=lambda r: (len(r), r)))

    def _term(self, kept: tuple[int, ...]) -> Term:
        def has(block: Block) -> bool:
            return set(kept) <= set(block.hidden)

        def others(block: Block) -> tuple[int, ...]:
            return tuple(j + 1 for j, k in enumerate(block.hidden) if k not in kept)

        return Term(kept, tuple((i, others(b)) for i, b in enumerate(self.blocks) if has(b)))

    def term_width(self, term: Term) -> int:
        """Rows (and columns) of a term's matrix per channel: its members' fixed sizes."""
        return sum(self.blocks[i].fixed_size for i, _ in term.members)

    def parameter_count(self, c_in: int, c_out: int, bias: bool = True) -> int:
        """Coefficients of ``dws_linear``: the dimension of the equivariant maps (and bias)."""
        linear = sum(self.term_width(t) ** 2 for t in self.terms) * c_in * c_out
        return linear + (self.invariant_width * c_out if bias else 0)

    def plan(self) -> tuple[tuple, tuple]:
        """Static tables for the runtime kernels (plain tuples of ints): per block
        ``(offset, shape, order, number of permuted axes)``; per term its members
        ``(block, dims to average and broadcast over)``."""
        blocks = tuple((b.offset, b.shape, b.order, len(b.hidden)) for b in self.blocks)
        return blocks, tuple(t.members for t in self.terms)

    # --- the group: neuron permutations ---

    def random_permutations(self, rng: np.random.Generator) -> dict[int, np.ndarray]:
        """A random non-identity permutation of the neurons of every permuted layer."""
        out = {}
        for k in sorted(self.permuted):
            perm = rng.permutation(self.sizes[k])
            if np.array_equal(perm, np.arange(len(perm))):
                perm[[0, 1]] = perm[[1, 0]]
            out[k] = perm
        return out

    def flat_permutation(self, perms: dict[int, np.ndarray]) -> np.ndarray:
        """The same element on the flat axis: new entry ``q`` is old entry ``index[q]``.

        Convention of ``geoc check``: new neuron ``j`` of layer ``k`` is old neuron
        ``perms[k][j]``; so ``W_i'[j, l] = W_i[σ_i[j], σ_{i-1}[l]]`` and ``b_i'[j] = b_i[σ_i[j]]``.
        """
        parts = []
        for block in self.blocks:
            axes = [perms.get(k, np.arange(self.sizes[k])) for k in block.layers]
            grid = np.ix_(*axes)
            parts.append(block.offset + np.arange(block.size).reshape(block.shape)[grid].ravel())
        return np.concatenate(parts)


def _subsets(items: tuple[int, ...]) -> list[tuple[bool, ...]]:
    return [
        tuple(bool(mask >> j & 1) for j in range(len(items))) for mask in range(2 ** len(items))
    ]


def _subset(items: tuple[int, ...], chosen: tuple[bool, ...]) -> tuple[int, ...]:
    return tuple(k for k, keep in zip(items, chosen, strict=True) if keep)


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
    "`out` over `weights` (scalar channels, `GEO340`): DWSNet's layer, every linear map that "
    "commutes with the hidden-neuron permutations (Navon et al. 2023), as means, one matrix per "
    "set of kept layers, broadcasts; the bias is the invariant part; input over `weights` of a "
    "weight space (`GEO344`)",
)


@typing_rule(DWS_LINEAR)
def _infer_dws_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
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
    "invariant readout `c(x)·F x scalar`: each weight and bias reduced over its permuted "
    "neurons, concatenated (`F`: fixed entries, e.g. 7 for `[2, 32, 32, 1]`); input over "
    "`weights` (`GEO344`)",
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
