"""Cross-attention over an edge set ``A -> B``: queries over ``B``, keys and values over ``A``
(or any of them per edge), weights normalised over the edges into each ``B`` element.

Torch only (copied next to exported modules). Two forms: :func:`edge_attention` scores each
edge and normalises with the segment softmax (any rule, masked pairs of a traced layout
included); :func:`full_cross_attention` is the fused ``scaled_dot_product_attention`` with a
mask that keeps the pairs of each graph, for ``rule=full`` between two axes (the same pairs).
A ``B`` element with no pair (its graph has no ``A`` element) gets 0 in both, and no NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.attention.kernels import _split, heads_attention, segment_softmax
from geoc.backends.torch_fx.common.kernels import Edges


def edge_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    edges: Edges,
    size: int,
    heads: int,
    gather: tuple[bool, bool, bool],
    window: tuple[Tensor, Tensor, float] | None = None,
) -> Tensor:
    """``out_b = concat_h Σ_{e: a -> b} softmax_e(q_eh · k_eh / √d - |p_b - p_a|² / σ²) v_eh``;
    ``gather`` says which of ``q`` (over ``B``: read at ``dst``), ``k``, ``v`` (over ``A``: read
    at ``src``) are node values rather than edge values; ``window``: the positions of ``A``
    and ``B`` and ``σ`` (None: no window term)."""
    src, dst, mask = edges
    qe = q.index_select(0, dst) if gather[0] else q
    ke = k.index_select(0, src) if gather[1] else k
    ve = v.index_select(0, src) if gather[2] else v
    n, d = qe.shape[0], qe.shape[1] // heads
    scores = (qe.reshape(n, heads, d) * ke.reshape(n, heads, d)).sum(-1) / d**0.5
    if window is not None:
        at_src, at_dst, sigma = window
        gap = at_dst.index_select(0, dst) - at_src.index_select(0, src)
        scores = scores - (gap * gap).sum(-1, keepdim=True) / sigma**2
    weights = segment_softmax(scores, dst, size, mask, 1.0)
    weighted = weights.unsqueeze(-1) * ve.reshape(n, heads, ve.shape[1] // heads)
    weighted = weighted.reshape(n, ve.shape[1])
    return weighted.new_zeros((size, ve.shape[1])).index_add(0, dst, weighted)


def full_cross_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    index_q: Tensor | None,
    index_k: Tensor | None,
    heads: int,
) -> Tensor:
    """Every query row attends to the key rows of its own graph (``index_*`` the graph of each
    row; None: one graph). A query whose graph has no key row would have a fully masked row,
    which the fused kernels turn into NaN: it sees every key instead, and its output is then
    replaced by 0 (a ``where``, so no gradient flows from the rows it saw)."""
    mask = live = None
    if index_q is not None or index_k is not None:
        iq = _graphs(index_q, q)
        ik = _graphs(index_k, k)
        pairs = iq.unsqueeze(1) == ik.unsqueeze(0)
        live = pairs.any(1, keepdim=True)
        mask = pairs | ~live
    out = heads_attention(_split(q, heads), _split(k, heads), _split(v, heads), mask)
    out = out.squeeze(0).transpose(0, 1).reshape(q.shape[0], v.shape[1])
    if k.shape[0] == 0:  # no key at all: every query's softmax is over nothing
        return out.new_zeros(out.shape)
    if live is not None:
        out = torch.where(live, out, torch.zeros_like(out))
    return out


def _graphs(index: Tensor | None, x: Tensor) -> Tensor:
    """The graph of each row (all in graph 0 without a batch)."""
    if index is not None:
        return index
    return torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
