"""Weight-space kernels: packing a network's weights, the DWSNet / UNF layer, the invariant
readout, and the padding mask of batches of several widths.

Navon et al., *Equivariant Architectures for Learning in Deep Weight Spaces*, ICML 2023; Zhou et
al., *Permutation Equivariant Neural Functionals*, 2023. A weight-space value is one tensor
``[batch, P, channels]``: the entries of ``W_1, b_1, W_2, b_2, ...`` (or conv kernels ``K_i``,
each row-major) on one flat axis. The layout tables (``shapes``, ``blocks``, ``terms``,
``mask plan``) are plain tuples of ints built at compile time by
``geoc.domains.weightspace_layout.WeightSpace``; see ``geoc.ops.weightspace`` for the closed
form of the equivariant maps. A ``mask`` (``[batch, P, 1]``, 1 on a network's true entries)
makes every mean run over the true widths only and zeroes the padding. Torch only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Block = tuple[int, tuple[int, ...], tuple[int, ...], int]  # offset, shape, order, permuted axes
Member = tuple[int, tuple[int, ...]]  # block, dims to average over and broadcast back
Shapes = tuple[tuple[int, ...], ...]
MaskPlan = tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # shape, widths column per axis
TiedMap = tuple[int, int, str, tuple[tuple[str, int], ...], int]  # source, target, einsum, ...


def pack(
    layers: list[Tensor], shapes: Shapes, channels: int, names: tuple[str, ...] = ()
) -> Tensor:
    """``[W_1, b_1, ..., W_L, b_L]`` (each ``[batch, *shape, c]``; the channel axis may be left
    out when ``c == 1``) as one ``[batch, P, c]`` tensor."""
    names = names or tuple(f"layer {i}" for i in range(len(shapes)))
    if len(layers) != len(shapes):
        raise ValueError(
            f"this weight space takes {len(shapes)} tensors [{', '.join(names)}], got {len(layers)}"
        )
    parts = []
    for value, shape, name in zip(layers, shapes, names, strict=True):
        if channels == 1 and value.dim() == len(shape) + 1:
            value = value.unsqueeze(-1)
        if value.dim() != len(shape) + 2 or tuple(value.shape[1:]) != (*shape, channels):
            raise ValueError(
                f"{name} must be [batch, {', '.join(map(str, shape))}, {channels}], "
                f"got {list(value.shape)}"
            )
        parts.append(value.reshape(value.shape[0], -1, channels))
    return torch.cat(parts, 1)


def unpack(x: Tensor, shapes: Shapes, mask: Tensor | None = None) -> list[Tensor]:
    """The inverse of :func:`pack`: ``[W_1, b_1, ..., W_L, b_L]``, each with its channels (the
    padding zeroed where there is a ``mask``)."""
    x = x if mask is None else x * mask
    pieces = torch.split(x, [math.prod(list(s)) for s in shapes], 1)
    return [p.reshape(x.shape[0], *s, x.shape[-1]) for p, s in zip(pieces, shapes, strict=True)]


def padding_mask(widths: Tensor, plan: MaskPlan, like: Tensor) -> Tensor:
    """``[batch, P, 1]`` in ``like``'s dtype: 1 where every neuron index of the entry is below
    its layer's true width (``widths [batch, hidden layers]``), 0 on the padding."""
    parts = []
    for shape, columns in plan:
        keep = torch.ones((widths.shape[0], *shape), dtype=torch.bool, device=like.device)
        for axis, (n, column) in enumerate(zip(shape, columns, strict=True)):
            if column >= 0:
                index = torch.arange(n, device=like.device)
                inside = index < widths[:, column : column + 1]  # [batch, n]
                view = [widths.shape[0]] + [1] * len(shape)
                view[axis + 1] = n
                keep = keep & inside.reshape(view)
        parts.append(keep.reshape(widths.shape[0], -1))
    return torch.cat(parts, 1).unsqueeze(-1).to(like.dtype)


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
    mask: Tensor | None = None,
    tied: tuple[TiedMap, ...] = (),
    tied_targets: tuple[tuple[int, int], ...] = (),
    tied_weights: tuple[Tensor, ...] | list[Tensor] = (),
) -> Tensor:
    """The equivariant linear layer ``[batch, P, c_in] -> [batch, P, c_out]``.

    Per term: average each member block over its dims, concatenate the channels, one matrix
    (``weights[t]``), broadcast the result back over the same dims of each member; the bias
    joins the first term (every block averaged completely: the invariant part). With a
    ``mask`` the averages run over the true entries only and the padding comes out zero. Under
    skips, the ``tied`` orbit maps add their part, one matrix per target block
    (``tied_weights``, in the order of ``tied_targets``).
    """
    x = x if mask is None else x * mask
    views = [_canonical(x, block) for block in blocks]
    counts = [None if mask is None else _canonical(mask, block)[..., :1] for block in blocks]
    outs: list[Tensor | None] = [None] * len(blocks)
    for index, (members, weight) in enumerate(zip(terms, weights, strict=True)):
        pooled = [_mean(views[b], counts[b], dims) for b, dims in members]
        joined = pooled[0] if len(pooled) == 1 else torch.cat(pooled, -1)
        mixed = torch.nn.functional.linear(joined, weight, bias if index == 0 else None)
        widths = [_fixed_size(blocks[b]) * channels for b, _ in members]
        for (b, dims), piece in zip(members, torch.split(mixed, widths, -1), strict=True):
            for dim in dims:
                piece = piece.unsqueeze(dim)
            outs[b] = piece if outs[b] is None else outs[b] + piece
    if tied:
        counts = None if mask is None else [_canonical(mask, b)[..., :1] for b in blocks]
        for b, piece in _tied(views, counts, tied, tied_targets, tied_weights):
            outs[b] = piece if outs[b] is None else outs[b] + piece
    out = torch.cat([_flat(o, block, channels) for o, block in zip(outs, blocks, strict=True)], 1)
    return out if mask is None else out * mask


def _tied(
    views: list[Tensor],
    counts: list[Tensor] | None,
    tied: tuple[TiedMap, ...],
    targets: tuple[tuple[int, int], ...],
    weights: tuple[Tensor, ...] | list[Tensor],
) -> list[tuple[int, Tensor]]:
    """Each orbit map of the skips: the sum over its index tuples by their number (a constant
    of the layout; padded, the same einsum on the mask), gathered per target block, one matrix
    each."""
    gathered: dict[int, list[Tensor]] = {}
    for source, target, equation, factors, number in tied:
        like = views[source]
        tables = [_factor(kind, n, like) for kind, n in factors]
        total = torch.einsum(equation, views[source], *tables)
        if counts is not None:
            total = total / torch.einsum(equation, counts[source], *tables).clamp_min(1)
        else:
            total = total / number
        gathered.setdefault(target, []).append(total)
    out = []
    for (target, _), weight in zip(targets, weights, strict=True):
        parts = gathered[target]
        joined = parts[0] if len(parts) == 1 else torch.cat(parts, -1)
        out.append((target, torch.nn.functional.linear(joined, weight)))
    return out


def _factor(kind: str, n: int, like: Tensor) -> Tensor:
    """``ones`` (broadcast), ``eye`` (a diagonal) or ``apart`` (``1 - I``: distinct indices)."""
    if kind == "ones":
        return torch.ones(n, dtype=like.dtype, device=like.device)
    eye = torch.eye(n, dtype=like.dtype, device=like.device)
    return eye if kind == "eye" else 1 - eye


def _mean(view: Tensor, count: Tensor | None, dims: tuple[int, ...]) -> Tensor:
    """The mean over ``dims`` (of a masked view: the sum over the true entries by their
    number, at least one: the widths are checked to be at least 1)."""
    if not dims:
        return view
    if count is None:
        return view.mean(dims)
    return view.sum(dims) / count.sum(dims).clamp_min(1)


def _fixed_size(block: Block) -> int:
    _, shape, order, permuted = block
    return math.prod([shape[a] for a in order[permuted:]])


def dws_pool(
    x: Tensor, blocks: tuple[Block, ...], reduce: str, mask: Tensor | None = None
) -> Tensor:
    """The invariant readout ``[batch, P, c] -> [batch, Σ fixed entries x c]``: each block
    reduced (``mean``, ``sum`` or ``max``) over its permuted axes (the true entries only, with
    a ``mask``), concatenated."""
    parts = []
    for block in blocks:
        view = _canonical(x, block)
        keep = None if mask is None else _canonical(mask, block)[..., :1]
        dims = list(range(1, block[3] + 1))
        if dims and reduce == "max":
            if keep is not None:  # padding never wins: the lowest value of the dtype there
                view = torch.where(keep > 0, view, torch.finfo(view.dtype).min)
            view = view.amax(dims)
        elif dims and reduce == "sum":
            view = (view if keep is None else view * keep).sum(dims)
        elif dims:
            view = _mean(view if keep is None else view * keep, keep, tuple(dims))
        parts.append(view)
    return torch.cat(parts, -1)


def dws_flatten(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Every entry of every block, in the flat layout: ``[batch, P x c]`` (padding zeroed)."""
    x = x if mask is None else x * mask
    return x.reshape(x.shape[0], -1)
