"""The O(3) Clebsch–Gordan tensor product kernel. Plain PyTorch and the standard library only:
this file is copied verbatim next to exported models.

``tensor_product(x1, x2, weight, cg, weight_index, meta)`` computes, for every path
``p = (a, b, c)`` of a plan (``geoc.backends.torch_fx.o3.tp_plan``),

    out_c[z, w, k] += α_p Σ_{u,v} W_p[u, v, w] Σ_{i,j} C_p[i, j, k] x1_a[z, u, i] x2_b[z, v, j]

(``full``, e3nn's "uvw"), or the same with ``W_p[u, v]`` and ``w = u`` (``channelwise``,
"uvu"). Everything that depends on the irreps comes in as arguments: the constant tensors of
the plan (``cg``: every path's ``α_p C_p`` laid out for step 1; ``weight_index``: the flat
weight vector's permutation into kernel order) and ``meta``, static nested tuples of ints. The
code has no data-dependent control flow, so it traces under ``torch.compile`` and
``torch.export`` (the only branch on sizes, chunks of a large batch on one CPU thread, is off
while tracing). Algorithm and costs: ``docs/tensor_product.md``.

1. ``n = x2 @ cg``: one matmul gives, per sample, the operator ``Σ_j α_p C_p[:, j, :] x2_b[j]``
   of every path, grouped by the input irrep ``a`` of ``x1`` it acts on (a "slot"), each
   slot's group split into "blocks" by output irrep ``c``.
2. Per slot with ``l_a > 0``, one batched matmul applies all of its operators to all ``mul1``
   copies of ``x1_a`` at once: ``y[z, (c, k, path, v), u]``.
3. Channel weights. ``full``: per output irrep one matmul over its blocks from every slot with
   ``l_a > 0`` (batch and ``k`` folded into its rows); a scalar ``x1_a`` is weighted first,
   then multiplied by its ``n``. ``channelwise``: a broadcast product per block (a scalar
   ``x1_a`` weighted first likewise).
4. Per output irrep one transpose into e3nn's layout ``[z, (w, k)]``, then one concatenation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import Edges, scatter_sum

#: Connection modes (``meta[0]``).
FULL = 0
CHANNELWISE = 1

#: A block of a slot: (output irrep c, its dim, rows R = Σ_paths mul2, weight part index).
Block = tuple[int, int, int, int]
#: A slot: (input irrep a, mul1, dim of a, blocks).
Slot = tuple[int, int, int, tuple[Block, ...]]
#: An output irrep: (mul, dim).
Out = tuple[int, int]
Parts, Slots, Outs = tuple[Tensor, ...], tuple[Slot, ...], tuple[Out, ...]
#: (mode, dim1, dim2, dim_out, weight_numel, x1 split sizes, n split sizes, weight split sizes,
#: slots, outputs as (mul, dim) per output irrep).
Meta = tuple[
    int,
    int,
    int,
    int,
    int,
    tuple[int, ...],
    tuple[int, ...],
    tuple[int, ...],
    tuple[Slot, ...],
    tuple[Out, ...],
]


def tensor_product(
    x1: Tensor, x2: Tensor, weight: Tensor, cg: Tensor, weight_index: Tensor, meta: Meta
) -> Tensor:
    """``x1 ⊗ x2`` weighted by ``weight`` (``[weight_numel]`` shared by every sample, or
    ``[..., weight_numel]`` per sample), for ``x1 [..., dim1]`` and ``x2 [..., dim2]``;
    returns ``[..., dim_out]``. Leading dimensions broadcast."""
    lead, x1, x2, w = _flat_inputs(x1, x2, weight, weight_index, meta)
    chunk = _chunk_size(x1, meta)
    if chunk is None or chunk >= x1.shape[0]:
        out = _join(_product_blocks(x1, x2, w, cg, meta), meta[9], x1)
    else:  # on a CPU, a chunk's intermediates stay in cache from one step to the next
        x1s = x1.split(chunk)
        ws = w.split(chunk) if w.dim() > 1 else [w] * len(x1s)
        pieces = zip(x1s, x2.split(chunk), ws, strict=True)
        out = torch.cat(
            [_join(_product_blocks(a, b, w, cg, meta), meta[9], a) for a, b, w in pieces]
        )
    return out.reshape(*lead, meta[3])


def tensor_product_summed(
    x1: Tensor,
    x2: Tensor,
    weight: Tensor,
    cg: Tensor,
    weight_index: Tensor,
    meta: Meta,
    edges: Edges,
    num_nodes: int,
) -> Tensor:
    """``scatter_sum(tensor_product(...), edges, num_nodes)`` for per-edge ``x1``, ``x2`` and
    ``weight`` (``[E, ...]``): each output irrep is summed into the nodes before the irreps are
    joined, so the join (whose gradient is cut back into one piece per irrep, and each piece's
    second derivative is a zero-filled copy of the whole) runs on nodes rather than edges."""
    _, x1, x2, w = _flat_inputs(x1, x2, weight, weight_index, meta)
    blocks = _product_blocks(x1, x2, w, cg, meta)
    summed = [
        None if b is None else scatter_sum(_irrep_layout(b), edges, num_nodes) for b in blocks
    ]
    return torch.cat(
        [
            x1.new_zeros(num_nodes, mul * dim) if b is None else b
            for b, (mul, dim) in zip(summed, meta[9], strict=True)
        ],
        dim=1,
    )


#: Bytes of intermediates (the CG products) a chunk of the batch may hold on a CPU: chunks of
#: about this size keep each step's operands in cache between steps (measured on a 2-core
#: EPYC, 1 MiB L2 per core, 1 thread: 2-4 MiB ran the lmax-2 and lmax-4 products of
#: bench/tp_vs_e3nn.py 15-25% faster than the whole batch of 4096 at once, 1 MiB slower again).
CHUNK_BYTES = 3 << 20


def _chunk_size(x1: Tensor, meta: Meta) -> int | None:
    """How many samples to run at once; None (all of them) on accelerators, while tracing
    (``torch.compile`` and ``torch.export`` plan their own loops, and the loop over chunks
    would depend on the batch size) and with several intra-op threads (each op's fork and
    join would be paid per chunk: at 2 threads on a loaded 2-core machine chunks ran up to 1.5x
    slower); on one CPU thread as many as keep the CG products within ``CHUNK_BYTES``, at
    least 256."""
    batch = x1.shape[0]
    if x1.device.type != "cpu" or torch.compiler.is_compiling() or not isinstance(batch, int):
        return None  # a symbolic batch (fake tensors, unbacked edge counts) too
    if torch.get_num_threads() > 1:
        return None
    floats = sum(dim * r * slot[1] for slot in meta[8] for _, dim, r, _ in slot[3])
    return max(256, CHUNK_BYTES // max(1, floats * x1.element_size()))


def _flat_inputs(
    x1: Tensor, x2: Tensor, weight: Tensor, weight_index: Tensor, meta: Meta
) -> tuple[torch.Size, Tensor, Tensor, Tensor]:
    """The broadcast leading shape, ``x1 [z, dim1]``, ``x2 [z, dim2]`` and the weights in
    kernel order (``[numel]`` or ``[z, numel]``): gathered once, whatever the chunks."""
    _, dim1, dim2, _, numel = meta[:5]
    lead = torch.broadcast_shapes(x1.shape[:-1], x2.shape[:-1])
    if weight.dim() > 1:
        lead = torch.broadcast_shapes(lead, weight.shape[:-1])
        weight = weight.expand(*lead, numel).reshape(-1, numel)
    x1 = x1.expand(*lead, dim1).reshape(-1, dim1)
    x2 = x2.expand(*lead, dim2).reshape(-1, dim2)
    return lead, x1, x2, weight.index_select(-1, weight_index)


def _product_blocks(
    x1: Tensor, x2: Tensor, w: Tensor, cg: Tensor, meta: Meta
) -> list[Tensor | None]:
    """Each output irrep's ``[z, k, mul]`` block (None: no path reaches it)."""
    mode, _, _, _, _, x1_sizes, n_sizes, w_sizes, slots, outs = meta
    if len(slots) == 0:
        return [None] * len(outs)
    x1_parts = torch.split(x1, x1_sizes, dim=1)
    n_parts = torch.split(x2 @ cg, n_sizes, dim=1)
    w_parts = torch.split(w, w_sizes, dim=-1)
    run = _full if mode == FULL else _channelwise
    return run(x1_parts, n_parts, w_parts, slots, outs)


def _full(
    x1_parts: Parts, n_parts: Parts, w_parts: Parts, slots: Slots, outs: Outs
) -> list[Tensor | None]:
    """The "uvw" product. A slot with ``l_a > 0``: one batched matmul for its CG products,
    then per output irrep one matmul over the blocks of every such slot. A scalar ``x1_a`` is
    weighted first (``_scalar_block``). A part of the weights lists the rows of the blocks
    of ``l_a > 0`` first, then those of scalar slots, each group in slot order."""
    batch = x1_parts[0].shape[0]
    ys: list[list[Tensor]] = [[] for _ in outs]
    row = [0] * len(outs)  # where each output's scalar blocks' rows start, then the next one
    for _, mul1, dim1, blocks in slots:
        for c, _, r, _ in blocks:
            row[c] += r * mul1 if dim1 > 1 else 0
    acc: list[Tensor | None] = [None] * len(outs)
    for slot, n in zip(slots, n_parts, strict=True):
        a, mul1, dim1, blocks = slot
        if dim1 > 1:
            for (c, dim, r, _), y in _slot_products(x1_parts[a], n, slot):
                ys[c].append(y.view(batch, dim, r * mul1))
            continue
        nbs = n.split([dim * r for _, dim, r, _ in blocks], dim=1)
        for (c, dim, r, part), nb in zip(blocks, nbs, strict=True):
            w = _weight_rows(w_parts[part], row[c], r * mul1, outs[c][0])
            row[c] += r * mul1
            acc[c] = _add(acc[c], _scalar_block(x1_parts[a], nb.view(batch, dim, r), w))
    for c, (mul, _) in enumerate(outs):
        if ys[c]:
            part = next(b[3] for s in slots for b in s[3] if b[0] == c)
            acc[c] = _add(acc[c], _mix(ys[c], w_parts[part], mul))
    return acc  # [z, k, w] per output irrep


def _add(acc: Tensor | None, term: Tensor) -> Tensor:
    return term if acc is None else acc + term


def _weight_rows(w: Tensor, start: int, rows: int, mul: int) -> Tensor:
    """Rows ``start:start + rows`` of a ``full`` weight part ``[(a, r, u), w]``, as
    ``[rows, mul]`` (shared) or ``[z, rows, mul]`` (per sample)."""
    if w.dim() == 1:
        return w.view(-1, mul)[start : start + rows]
    return w.view(w.shape[0], -1, mul)[:, start : start + rows]


def _mix(ys: list[Tensor], w: Tensor, mul: int) -> Tensor:
    """``[z, k, (a, path, v, u)] @ W -> [z, k, mul]``: one matmul for the blocks of an output
    with ``l_a > 0``, concatenated along the contraction; their weights are the part's first
    rows."""
    y = torch.cat(ys, dim=2) if len(ys) > 1 else ys[0]
    batch, dim, rows = y.shape
    w = _weight_rows(w, 0, rows, mul)
    if w.dim() > 2:
        return torch.bmm(y, w)
    flat = y.reshape(batch * dim, rows)  # a copy unless a single block made y
    return (flat @ w).view(batch, dim, mul)


def _scalar_block(x1a: Tensor, nb: Tensor, w: Tensor) -> Tensor:
    """``Σ_r nb[z, k, r] (x1_a W_r)[z, w]`` for a scalar ``x1_a``: weighting first costs
    ``mul1 mul`` per ``r`` rather than ``dim_c mul1 mul``, and the CG product becomes a
    product with ``nb`` (``[z, dim_c, r]``) on the output side."""
    batch, _, r = nb.shape
    mul1, mul = x1a.shape[1], w.shape[-1]
    if w.dim() == 3:  # per sample: [z, (r, u), w] -> [z, r, w]
        xw = torch.matmul(x1a.view(batch, 1, 1, mul1), w.view(batch, r, mul1, mul))
    else:  # [(r, u), w] -> [u, (r, w)]
        xw = x1a @ w.view(r, mul1, mul).transpose(0, 1).reshape(mul1, r * mul)
    xw = xw.view(batch, r, mul)
    return nb * xw if r == 1 else torch.bmm(nb, xw)  # [z, k, w]


def _channelwise(
    x1_parts: Parts, n_parts: Parts, w_parts: Parts, slots: Slots, outs: Outs
) -> list[Tensor | None]:
    """The "uvu" product: per slot a batched matmul, per block a broadcast weighting."""
    acc: list[Tensor | None] = [None] * len(outs)
    for slot, n in zip(slots, n_parts, strict=True):
        run = _channelwise_scalar if slot[2] == 1 else _channelwise_slot
        for c, term in run(x1_parts[slot[0]], n, w_parts, slot):
            prev = acc[c]
            acc[c] = term if prev is None else prev + term  # [z, k, u]
    return acc


def _join(blocks: list[Tensor | None], outs: Outs, like: Tensor) -> Tensor:
    """``[z, dim_out]`` from each output irrep's ``[z, k, mul]`` block (None: no path reaches
    it, zeros)."""
    return torch.cat(
        [
            like.new_zeros(like.shape[0], mul * dim) if b is None else _irrep_layout(b)
            for b, (mul, dim) in zip(blocks, outs, strict=True)
        ],
        dim=1,
    )


def _irrep_layout(block: Tensor) -> Tensor:
    """``[z, k, mul]`` as e3nn's ``[z, (mul, k)]``."""
    return block.transpose(1, 2).reshape(block.shape[0], block.shape[1] * block.shape[2])


def _channel_weights(w: Tensor, batch: int, rows: int, mul1: int) -> Tensor:
    """A channelwise block's weights ``[(path, v), u]`` as ``[z or 1, rows, mul1]``."""
    return w.view(1, rows, mul1) if w.dim() == 1 else w.view(batch, rows, mul1)


def _channelwise_slot(
    x1a: Tensor, n: Tensor, w_parts: tuple[Tensor, ...], slot: Slot
) -> list[tuple[int, Tensor]]:
    """``Σ_r y[z, k, r, u] w[r, u]`` per block: ``[(c, [z, dim_c, mul1]), ...]``."""
    batch, mul1 = x1a.shape[0], slot[1]
    terms = []
    for (c, dim, r, part), y in _slot_products(x1a, n, slot):
        w = _channel_weights(w_parts[part], batch, r, mul1)
        terms.append((c, y.view(batch, dim, mul1) * w if r == 1 else (y * w.unsqueeze(1)).sum(2)))
    return terms


def _channelwise_scalar(
    x1a: Tensor, n: Tensor, w_parts: tuple[Tensor, ...], slot: Slot
) -> list[tuple[int, Tensor]]:
    """A scalar ``x1_a``: weights first (``w[r, u] x1_a[z, u]``), then ``n`` per block."""
    _, mul1, _, blocks = slot
    batch = x1a.shape[0]
    rows = [dim * r for _, dim, r, _ in blocks]
    terms = []
    for (c, dim, r, part), nb in zip(blocks, n.split(rows, 1), strict=True):
        xw = _channel_weights(w_parts[part], batch, r, mul1) * x1a.view(batch, 1, mul1)
        nb = nb.view(batch, dim, r)
        terms.append((c, nb * xw if r == 1 else torch.bmm(nb, xw)))
    return terms


def _slot_products(x1a: Tensor, n: Tensor, slot: Slot) -> list[tuple[Block, Tensor]]:
    """The CG products of one input irrep, per block ``[z, dim_c, R, mul1]`` (views) with
    ``R = (path, v)``: ``y[z, k, r, u] = Σ_i (α_p C_p x2)[z, k, r, i] x1_a[z, u, i]``."""
    _, mul1, dim1, blocks = slot
    batch = x1a.shape[0]
    rows = [dim * r for _, dim, r, _ in blocks]
    if dim1 == 1:  # an outer product: a broadcast, not a matmul with one-term sums
        y = n.view(batch, sum(rows), 1) * x1a.view(batch, 1, mul1)
    else:
        x1t = x1a.view(batch, mul1, dim1).transpose(1, 2)  # [z, i, u]
        y = torch.bmm(n.view(batch, sum(rows), dim1), x1t)  # [z, (c, k, path, v), u]
    parts = y.split(rows, dim=1)
    return [(b, p.view(batch, b[1], b[2], mul1)) for b, p in zip(blocks, parts, strict=True)]
