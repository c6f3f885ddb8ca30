"""The layout of a weight space and the action of ``S(hidden)`` on it (docs/weightspace.md).

A weight space is a list of *blocks*, the weights ``W_i`` (or conv kernels ``K_i``) and biases
``b_i`` of a network with layer sizes ``(d0, ..., dL)``. Each array axis of a block belongs to a
layer (a neuron or channel index) or is *spatial* (a kernel offset, ``SPATIAL``). Permuting the
neurons of a hidden layer (rows of its weight, entries of its bias, the input axis of the next
weight) leaves the network's function unchanged:

* ``mlp=[d0, ..., dL]``: ``W_i [d_i, d_(i-1)]``, ``b_i [d_i]`` (``nn.Linear``).
* ``cnn=[c0, ..., cL], kernel=k, head=[n1, ..., n_out]``: conv layers ``K_i [c_i, c_(i-1), k,
  k]``, ``b_i [c_i]`` (``nn.Conv2d``), global average pooling, then linear head layers; the
  pooling maps channel ``j`` of the last conv layer to input ``j`` of the head, so the head's
  columns move with it. The ``k x k`` offsets are never permuted (NFN / UNF: extra features).
* ``residual=[i, ...]``: layer ``i`` adds its input back (``h_i = act(W_i h_(i-1) + b_i) +
  h_(i-1)``), so layers ``i - 1`` and ``i`` must move by one permutation: skips *tie* layers.

The layout is plain data used by the typing rules, the lowering and ``geoc check``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from geoc.domains.base import Domain, DomainKind

SPATIAL = -1  # the layer of a kernel-offset axis: no permutation moves it


@dataclass(frozen=True)
class Block:
    """One weight ``W_i`` / kernel ``K_i`` or bias ``b_i``: where it sits and which axes are
    permuted."""

    name: str  # "W2", "b2", "K1", "Whead"
    layers: tuple[int, ...]  # the layer of each array axis: W_i -> (i, i - 1), K_i adds SPATIALs
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

    @property
    def shown(self) -> str:
        """As users write it: ``W_2``, ``K_1``, ``W_head``."""
        return f"{self.name[0]}_{self.name[1:]}"


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
    """A network's weight space: layer sizes ``(d0, ..., dL)`` (maxima when ``padded``), the
    first ``conv`` layers after ``d0`` convolutions with ``kernel x kernel`` kernels, and the
    layers ``skips`` that add their input back."""

    sizes: tuple[int, ...]
    conv: int = 0
    kernel: int = 0
    skips: tuple[int, ...] = ()
    padded: bool = False

    @classmethod
    def of(cls, domain: Domain) -> WeightSpace:
        assert domain.kind is DomainKind.WEIGHTSPACE, domain
        return cls(domain.layers, domain.conv, domain.kernel, domain.skips, domain.padded)

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @cached_property
    def permuted(self) -> frozenset[int]:
        """The layers whose neurons ``S(hidden)`` permutes: hidden, with at least two."""
        return frozenset(k for k in range(1, self.depth) if self.sizes[k] >= 2)

    @cached_property
    def tied(self) -> dict[int, int]:
        """Each hidden layer's class under the skips: the first layer of its chain of skips
        (layers joined by a skip move by one permutation)."""
        out = {k: k for k in range(1, self.depth)}
        for i in sorted(self.skips):
            out[i] = out[i - 1]
        return out

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        out, offset = [], 0
        for i in range(1, self.depth + 1):
            for name, layers in self._block_axes(i):
                shape = tuple(self.kernel if k == SPATIAL else self.sizes[k] for k in layers)
                axes = range(len(layers))
                order = tuple(
                    sorted(axes, key=lambda a, layers=layers: layers[a] not in self.permuted)
                )
                hidden = tuple(layers[a] for a in order if layers[a] in self.permuted)
                block = Block(name, layers, shape, offset, order, hidden)
                out.append(block)
                offset += block.size
        return tuple(out)

    def _block_axes(self, i: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
        if i <= self.conv:
            return (f"K{i}", (i, i - 1, SPATIAL, SPATIAL)), (f"b{i}", (i,))
        if not self.conv:
            return (f"W{i}", (i, i - 1)), (f"b{i}", (i,))
        head = "head" if self.depth == self.conv + 1 else f"head{i - self.conv}"
        return (f"W{head}", (i, i - 1)), (f"b{head}", (i,))

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The array shape of each block, in calling-convention order."""
        return tuple(b.shape for b in self.blocks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.shown for b in self.blocks)

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

    @cached_property
    def tied_maps(self) -> tuple:
        """The maps skips add (``weightspace_tied``): per map ``(source, target, einsum,
        factors, tuples summed)``; empty without skips."""
        from geoc.domains.weightspace_tied import tied_maps

        return tied_maps(self)

    @cached_property
    def tied_targets(self) -> tuple[tuple[int, int], ...]:
        """Per block some mixed map reaches: the block and its matrix's input width per
        channel (the fixed sizes of the maps' sources, in order)."""
        widths: dict[int, int] = {}
        for source, target, *_ in self.tied_maps:
            widths[target] = widths.get(target, 0) + self.blocks[source].fixed_size
        return tuple(sorted(widths.items()))

    def parameter_count(self, c_in: int, c_out: int, bias: bool = True) -> int:
        """Coefficients of ``dws_linear``: the dimension of the equivariant maps (and bias)."""
        linear = sum(self.term_width(t) ** 2 for t in self.terms)
        linear += sum(self.blocks[b].fixed_size * w for b, w in self.tied_targets)
        return linear * c_in * c_out + (self.invariant_width * c_out if bias else 0)

    def plan(self) -> tuple[tuple, tuple]:
        """Static tables for the runtime kernels (plain tuples of ints): per block
        ``(offset, shape, order, number of permuted axes)``; per term its members
        ``(block, dims to average and broadcast over)``."""
        blocks = tuple((b.offset, b.shape, b.order, len(b.hidden)) for b in self.blocks)
        return blocks, tuple(t.members for t in self.terms)

    def mask_plan(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """For padding: per block its shape and, per axis, the column of the widths tensor
        that bounds it (hidden layer ``k``: column ``k - 1``) or -1 (never padded)."""
        hidden = range(1, self.depth)
        return tuple(
            (b.shape, tuple(k - 1 if k in hidden else -1 for k in b.layers)) for b in self.blocks
        )

    # --- the group: neuron permutations, tied across skips ---

    def random_permutations(
        self, rng: np.random.Generator, widths: dict[int, int] | None = None
    ) -> dict[int, np.ndarray]:
        """A random non-identity permutation of the neurons of every permuted layer, one per
        class of tied layers; with ``widths`` (padding), of the first ``widths[k]`` neurons
        only (the padding stays where it is)."""
        by_class: dict[int, np.ndarray] = {}
        out = {}
        for k in sorted(self.permuted):
            if self.tied[k] not in by_class:
                n = self.sizes[k] if widths is None else widths[k]
                perm = rng.permutation(n)
                if n >= 2 and np.array_equal(perm, np.arange(n)):
                    perm[[0, 1]] = perm[[1, 0]]
                by_class[self.tied[k]] = np.concatenate([perm, np.arange(n, self.sizes[k])])
            out[k] = by_class[self.tied[k]]
        return out

    def random_widths(self, rng: np.random.Generator) -> dict[int, int]:
        """True widths for a padded space, tied layers alike: at least 2 where the maximum is,
        so a permutation still moves something."""
        by_class: dict[int, int] = {}
        for k in range(1, self.depth):
            low = min(2, self.sizes[k])
            by_class.setdefault(self.tied[k], int(rng.integers(low, self.sizes[k] + 1)))
        return {k: by_class[self.tied[k]] for k in range(1, self.depth)}

    def flat_permutation(self, perms: dict[int, np.ndarray]) -> np.ndarray:
        """The same element on the flat axis: new entry ``q`` is old entry ``index[q]``.

        Convention of ``geoc check``: new neuron ``j`` of layer ``k`` is old neuron
        ``perms[k][j]``; so ``W_i'[j, l] = W_i[σ_i[j], σ_{i-1}[l]]`` and ``b_i'[j] = b_i[σ_i[j]]``.
        """
        parts = []
        for block in self.blocks:
            pairs = zip(block.layers, block.shape, strict=True)
            axes = [perms.get(k, np.arange(n)) for k, n in pairs]
            grid = np.ix_(*axes)
            parts.append(block.offset + np.arange(block.size).reshape(block.shape)[grid].ravel())
        return np.concatenate(parts)


def _subsets(items: tuple[int, ...]) -> list[tuple[bool, ...]]:
    return [
        tuple(bool(mask >> j & 1) for j in range(len(items))) for mask in range(2 ** len(items))
    ]


def _subset(items: tuple[int, ...], chosen: tuple[bool, ...]) -> tuple[int, ...]:
    return tuple(k for k, keep in zip(items, chosen, strict=True) if keep)
