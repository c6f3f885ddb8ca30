"""MACE's symmetric contraction kernel. Plain PyTorch only: this file is copied verbatim next to
exported models.

``symmetric_contraction(a, species, weights, stages, gathers, meta)`` computes, per element and
channel ``c``, the features ``B_η(A_c)`` of every coupling path and their weighted sums
(``docs/symmetric_contraction.md``). It never forms a tensor power: order ``k`` is computed
from order ``k - 1`` by one sparse coupling step, so a product shared by several paths (the
prefix ``((A_1 A_2) L_2 A_3) L_3``) is computed once and every order reuses the one below it.

1. ``x = [.., D, k]``: every component of every irrep of ``a``, each a row of its ``k``
   channels (``a`` is e3nn's ``mul_ir`` layout ``[.., Σ_s k (2 l_s + 1)]``). Channels last, so
   every gather and sum below moves whole contiguous rows.
2. Per stage ``(left, right, column, coeff)``: the nonzero entries of the step's Clebsch–Gordan
   tables, ``X_k[.., column, :] += coeff · X_{k-1}[.., left, :] · x[.., right, :]``.
3. Per term of the output: its paths' features gathered from ``[x | X_2 | .. | X_ν]`` as
   ``[.., P, 2L + 1, k]``, weighted by ``W[species]`` (``[.., P, k]``) and summed over paths.

The code has no data-dependent control flow, so it traces under ``torch.compile`` and
``torch.export``; empty inputs give empty outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: One coupling step: (left column, right column, output column, coefficient) per entry.
Stage = tuple[Tensor, Tensor, Tensor, Tensor]
#: (channels k, slot dims, stage widths, per output term (paths, dim), species are labels).
Meta = tuple[int, tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...], bool]


def symmetric_contraction(
    a: Tensor,
    species: Tensor,
    weights: tuple[Tensor, ...],
    stages: tuple[Stage, ...],
    gathers: tuple[Tensor, ...],
    meta: Meta,
) -> Tensor:
    """``[.., Σ_t k (2 L_t + 1)]``: every term of the output, weighted per species."""
    channels, slot_dims, widths, terms, labels = meta
    lead = a.shape[:-1]
    x = _channels_last(a, channels, slot_dims)
    orders = [x]
    for (left, right, column, coeff), width in zip(stages, widths, strict=True):
        orders.append(_couple(orders[-1], x, left, right, column, coeff.to(a.dtype), width))
    features = torch.cat(orders, dim=-2)
    outs = []
    for table, gather, (paths, dim) in zip(weights, gathers, terms, strict=True):
        chosen = features.index_select(-2, gather).reshape(*lead, paths, dim, channels)
        w = _species_weights(table, species, labels).reshape(*lead, paths, 1, channels)
        summed = (chosen * w).sum(-3)  # [.., 2L + 1, k]
        outs.append(summed.transpose(-1, -2).reshape(*lead, channels * dim))
    return torch.cat(outs, dim=-1)


def _channels_last(a: Tensor, channels: int, slot_dims: tuple[int, ...]) -> Tensor:
    """``[.., D, k]`` from e3nn's ``[.., (k, d_1), (k, d_2), ..]``."""
    blocks = torch.split(a, [channels * d for d in slot_dims], dim=-1)
    lead = a.shape[:-1]
    return torch.cat(
        [
            b.reshape(*lead, channels, d).transpose(-1, -2)
            for b, d in zip(blocks, slot_dims, strict=True)
        ],
        dim=-2,
    )


def _couple(
    prev: Tensor,
    x: Tensor,
    left: Tensor,
    right: Tensor,
    column: Tensor,
    coeff: Tensor,
    width: int,
) -> Tensor:
    """One coupling step: ``out[.., column, :] += coeff · prev[.., left, :] · x[.., right, :]``
    (autograd keeps both gathered operands and the product, which ``index_add`` holds on to;
    ``scatter_add`` would not, but runs slower here)."""
    entries = (prev.index_select(-2, left) * coeff.unsqueeze(-1)) * x.index_select(-2, right)
    shape = (*entries.shape[:-2], width, entries.shape[-1])
    return entries.new_zeros(shape).index_add(-2, column, entries)


def _species_weights(table: Tensor, species: Tensor, labels: bool) -> Tensor:
    """Each element's row of ``table`` ``[n, P, k]``: picked by label, or mixed by scalars."""
    flat = table.reshape(table.shape[0], -1)
    if labels:
        return torch.nn.functional.embedding(species.reshape(-1), flat)
    return species @ flat
