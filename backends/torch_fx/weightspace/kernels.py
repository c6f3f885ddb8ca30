"""Weight-space kernels: packing an MLP's weights, the DWSNet layer, the invariant readout.

Navon et al., *Equivariant Architectures for Learning in Deep Weight Spaces*, ICML 2023. A
weight-space value is one tensor ``[batch, P, channels]``: the entries of ``W_1, b_1, W_2, b_2,
...`` (each row-major) on one flat axis. The layout tables (``sizes``, ``blocks``, ``terms``)
are plain tuples of ints built at compile time by ``geoc.ops.weightspace.WeightSpace.plan``;
see that module for the closed form of the equivariant maps. Torch only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Block = tuple[int, tuple[int, ...], tuple[int, ...], int]  # offset, shape, order, permuted axes
Member = tuple[int, tuple[int, ...]]  # block, dims to average over and broadcast back


def layer_shapes(sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The shapes of ``W_1, b_1, ..., W_L, b_L`` for layer sizes ``(d0, ..., dL)``."""
    out: list[tuple[int, ...]] = []
    for i in range(1, len(sizes)):
        out += [(sizes[i], sizes[i - 1]), (sizes[i],)]
    return out


def pack(layers: list[Tensor], sizes: tuple[int, ...], channels: int) -> Tensor:
    """``[W_1, b_1, ..., W_L, b_L]`` (``W_i: [batch, d_i, d_{i-1}, c]``, ``b_i: [batch, d_i,
    c]``; the channel axis may be left out when ``c == 1``) as one ``[batch, P, c]`` tensor."""
    shapes = layer_shapes(sizes)
    if len(layers) != len(shapes):
        raise ValueError(
            f"a weight space of an MLP {list(sizes)} takes {len(shapes)} tensors "
            f"[W_1, b_1, ..., W_{len(sizes) - 1}, b_{len(sizes) - 1}], got {len(layers)}"
        )
    parts = []
    for index, (value, shape) in enumerate(zip(layers, shapes, strict=True)):
        if channels == 1 and value.dim() == len(shape) + 1:
            value = value.unsqueeze(-1)
        if value.dim() != len(shape) + 2 or tuple(value.shape[1:]) != (*shape, channels):
            name = f"{'Wb'[index % 2]}_{index // 2 + 1}"
            raise ValueError(
                f"{name} must be [batch, {', '.join(map(str, shape))}, {channels}], "
                f"got {list(value.shape)}"
            )
        parts.append(value.reshape(value.shape[0], -1, channels))
    return torch.cat(parts, 1)


def unpack(x: Tensor, sizes: tuple[int, ...]) -> list[Tensor]:
    """The inverse of :func:`pack`: ``[W_1, b_1, ..., W_L, b_L]``, each with its channels."""
    shapes = layer_shapes(sizes)
    pieces = torch.split(x, [math.prod(list(s)) for s in shapes], 1)
    return [p.reshape(x.shape[0], *s, x.shape[-1]) for p, s in zip(pieces, shapes, strict=True)]


def _canonical(x: Tensor, block: Block) -> Tensor:
    """One block of ``x [batch, P, c]`` as ``[batch, *permuted axes, fixed entries x c]``."""
    offset, shape, order, permuted = block
    batch, channels = x.shape[0], x.shape[-1]
    part = x[:, offset : offset + math.prod(list(shape))].reshape(batch, *shape, channels)
    part = part.permute(0, *[a + 1 for a in order], len(shape) + 1)
    return part.reshape(batch, *[shape[a] for a in order[:permuted]], -1)


def _flat(value: Tensor, block: Block, channels: int) -> Tensor:
    """The inverse of :func:`_canonical`: ``[batch, entries, channels]``."""
    _, shape, order, _ = block
    batch = value.shape[0]
    value = value.reshape(batch, *[shape[a] for a in order], channels)
    inverse = [order.index(a) + 1 for a in range(len(order))]
    value = value.permute(0, *inverse, len(shape) + 1)
    return value.reshape(batch, math.prod(list(shape)), channels)


def dws_linear(
    x: Tensor,
    blocks: tuple[Block, ...],
    terms: tuple[tuple[Member, ...], ...],
    weights: list[Tensor],
    bias: Tensor | None,
    channels: int,
) -> Tensor:
    """The equivariant linear layer ``[batch, P, c_in] -> [batch, P, c_out]``.

    Per term: average each member block over its dims, concatenate the channels, one matrix
    (``weights[t]``), broadcast the result back over the same dims of each member; the bias
    joins the first term (every block averaged completely: the invariant part).
    """
    views = [_canonical(x, block) for block in blocks]
    outs: list[Tensor | None] = [None] * len(blocks)
    for index, (members, weight) in enumerate(zip(terms, weights, strict=True)):
        pooled = [views[b].mean(dims) if dims else views[b] for b, dims in members]
        joined = pooled[0] if len(pooled) == 1 else torch.cat(pooled, -1)
        mixed = torch.nn.functional.linear(joined, weight, bias if index == 0 else None)
        widths = [_fixed_size(blocks[b]) * channels for b, _ in members]
        for (b, dims), piece in zip(members, torch.split(mixed, widths, -1), strict=True):
            for dim in dims:
                piece = piece.unsqueeze(dim)
            outs[b] = piece if outs[b] is None else outs[b] + piece
    return torch.cat([_flat(o, block, channels) for o, block in zip(outs, blocks, strict=True)], 1)


def _fixed_size(block: Block) -> int:
    _, shape, order, permuted = block
    return math.prod([shape[a] for a in order[permuted:]])


def dws_pool(x: Tensor, blocks: tuple[Block, ...], reduce: str) -> Tensor:
    """The invariant readout ``[batch, P, c] -> [batch, Σ fixed entries x c]``: each block
    reduced (``mean``, ``sum`` or ``max``) over its permuted axes, concatenated."""
    parts = []
    for block in blocks:
        view = _canonical(x, block)
        dims = list(range(1, block[3] + 1))
        if dims and reduce == "max":
            view = view.amax(dims)
        elif dims:
            view = view.sum(dims) if reduce == "sum" else view.mean(dims)
        parts.append(view)
    return torch.cat(parts, -1)


def dws_flatten(x: Tensor) -> Tensor:
    """Every entry of every block, in the flat layout: ``[batch, P x c]``."""
    return x.reshape(x.shape[0], -1)
