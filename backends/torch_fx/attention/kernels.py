"""Softmax over segments: the edges into each node, or the elements of each graph.

Torch only (copied next to exported modules). ``w = exp(s - m) / Σ exp(s - m)`` per segment and
channel, ``m`` the segment's max, detached (softmax does not depend on it, and its gradient
would only add terms that cancel). Masked entries of a static edge layout get ``-inf`` before
the max and weight 0; a segment with no live entry has no entry at all, or only masked ones,
and its denominator, 0, is replaced by 1 before the division, so nothing is NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import Edges
from geoc.backends.torch_fx.common.precision_kernels import accumulate, settle


def segment_softmax(
    scores: Tensor, index: Tensor, size: int, mask: Tensor | None, temperature: float
) -> Tensor:
    """``scores`` ``[n, channels]`` normalised over the rows sharing an ``index`` in
    ``[0, size)``, channel by channel; rows with ``mask == 0`` get weight 0. Where autograd
    records on a CPU, :class:`_SegmentSoftmax` gives the same weights with a backward written
    out (a few passes over ``[n, channels]`` instead of autograd's through every step)."""
    if _analytic_backward(scores):
        return _SegmentSoftmax.apply(scores, index, size, mask, temperature)
    return _segment_softmax(scores, index, size, mask, temperature)


def _analytic_backward(scores: Tensor) -> bool:
    """Recording, on plain float32/float64 CPU tensors, outside ``torch.compile`` and
    ``torch.func`` (which trace or transform the composite form like any torch code)."""
    return (
        torch.is_grad_enabled()
        and scores.requires_grad
        and type(scores) in (Tensor, torch.nn.Parameter)
        and scores.device.type == "cpu"
        and scores.dtype in (torch.float32, torch.float64)
        and not torch.compiler.is_compiling()
        and not torch._C._functorch.is_functorch_wrapped_tensor(scores)
    )


class _SegmentSoftmax(torch.autograd.Function):
    """``∂s = (g w - w Σ_segment g w) / T``; where autograd records the backward itself
    (``create_graph``) it is the composite form's, so a second derivative exists."""

    @staticmethod
    def forward(ctx, scores: Tensor, index: Tensor, size: int, mask, temperature: float):
        weights = _segment_softmax(scores, index, size, mask, temperature)
        ctx.save_for_backward(scores, index, weights)
        ctx.size, ctx.mask, ctx.temperature = size, mask, temperature
        return weights

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        scores, index, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: a backward autograd can differentiate again
            with torch.enable_grad():
                again = _segment_softmax(scores, index, ctx.size, ctx.mask, ctx.temperature)
                (found,) = torch.autograd.grad(again, scores, grad, create_graph=True)
            return found, None, None, None, None
        weighted = grad * weights  # masked rows and empty segments: weight 0, gradient 0
        total = weighted.new_zeros((ctx.size, weighted.shape[-1])).index_add(0, index, weighted)
        found = weighted.sub_(weights * total.index_select(0, index))
        return found / ctx.temperature if ctx.temperature != 1.0 else found, None, None, None, None


def _segment_softmax(
    scores: Tensor, index: Tensor, size: int, mask: Tensor | None, temperature: float
) -> Tensor:
    acc = accumulate(scores)  # half precision sums in float32 (precision_kernels.py)
    if temperature != 1.0:
        acc = acc / temperature
    if mask is not None:
        acc = acc.masked_fill(mask.unsqueeze(-1) == 0, float("-inf"))
    rows = index.unsqueeze(-1).expand_as(acc)
    top = acc.new_full((size, acc.shape[-1]), float("-inf"))
    top = top.scatter_reduce(0, rows, acc.detach(), "amax", include_self=False)
    top = top.masked_fill(torch.isneginf(top), 0.0)  # a segment without live rows: any shift
    exp = torch.exp(acc - top.index_select(0, index))  # <= 1; masked rows: exp(-inf) = 0
    total = acc.new_zeros((size, acc.shape[-1])).index_add(0, index, exp)
    total = torch.where(total > 0, total, torch.ones_like(total))  # live segments: total >= 1
    return settle(exp / total.index_select(0, index), scores.dtype)


def edge_softmax(scores: Tensor, edges: Edges, num_nodes: int, temperature: float) -> Tensor:
    """Over the edges into each destination node (a node without edges has no entry)."""
    _, dst, mask = edges
    return segment_softmax(scores, dst, num_nodes, mask, temperature)


def pool_softmax(
    scores: Tensor,
    index: Tensor | None,
    num_graphs: int,
    mask: Tensor | None,
    temperature: float,
) -> Tensor:
    """Over the elements of each graph of a batch (``index`` their graph; None: one graph)."""
    if index is None:
        index = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        num_graphs = 1
    return segment_softmax(scores, index, num_graphs, mask, temperature)


# --- dense multi-head attention ---------------------------------------------------------------


def _split(x: Tensor, heads: int) -> Tensor:
    """``[n, heads * d]`` as ``[1, heads, n, d]``."""
    return x.reshape(x.shape[0], heads, x.shape[1] // heads).transpose(0, 1).unsqueeze(0)


def dense_attention(
    q: Tensor, k: Tensor, v: Tensor, index: Tensor | None, heads: int, causal: bool = False
) -> Tensor:
    """``softmax(q_h k_hᵀ / √d) v_h`` per head, all to all within each graph (``index`` the
    graph of each row; a block-diagonal mask, so the rows' order does not matter); ``causal``:
    row ``i`` sees only the rows ``j <= i`` of its graph (a sequence's tokens, in order). Every
    row sees itself, so no row is fully masked. The fused kernels have no second derivative
    (forces, gradient penalties): on a CPU where autograd records, :class:`_CpuAttention` runs
    aten's fused forward and backward and, only where a second derivative is asked for, the
    composite form's backward; elsewhere while recording (accelerators, tracing) and in float64
    (checking) the composite form runs; inference runs the fused kernel."""
    mask = None if index is None else index.unsqueeze(1) == index.unsqueeze(0)
    if causal:
        mask = _causal_mask(q.shape[0], q.device, mask)
    one_sequence = causal and index is None  # the fused kernel's own causal path
    out = heads_attention(_split(q, heads), _split(k, heads), _split(v, heads), mask, one_sequence)
    return out.squeeze(0).transpose(0, 1).reshape(v.shape[0], v.shape[1])


def _causal_mask(n: int, device: torch.device, same_graph: Tensor | None) -> Tensor:
    """``j <= i``, within each graph where a batch is given."""
    rows = torch.arange(n, device=device)
    earlier = rows.unsqueeze(0) <= rows.unsqueeze(1)
    return earlier if same_graph is None else earlier & same_graph


def heads_attention(
    qh: Tensor, kh: Tensor, vh: Tensor, mask: Tensor | None, is_causal: bool = False
) -> Tensor:
    """``[1, heads, n, d]`` queries, keys, values: the fused or composite form, as
    :func:`dense_attention` says. No query row may be fully masked. ``is_causal``: ``mask`` is
    the lower triangle, which the fused kernel then applies itself (SDPA's ``is_causal``)."""
    recording = torch.is_grad_enabled() and (
        qh.requires_grad or kh.requires_grad or vh.requires_grad
    )
    if qh.dtype == torch.float64:
        return _composite(qh, kh, vh, mask)
    flash = qh.shape[-1] == vh.shape[-1] and kh.shape[-2] > 0  # what aten's CPU kernel takes
    if recording and flash and qh.device.type == "cpu" and not torch.compiler.is_compiling():
        return _CpuAttention.apply(qh, kh, vh, mask)
    if recording:
        return _composite(qh, kh, vh, mask)
    if is_causal:
        return torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    return torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)


def _composite(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """Attention as ordinary differentiable operations (autograd differentiates it twice)."""
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class _CpuAttention(torch.autograd.Function):
    """aten's CPU flash attention, forward and backward, as fast as the fused
    ``scaled_dot_product_attention``; where autograd records the backward itself
    (``create_graph``), the backward is the composite form's, so a second derivative exists."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        additive = None  # the kernel takes the mask as scores to add, in the query's dtype
        if mask is not None:
            additive = torch.zeros(mask.shape, dtype=q.dtype, device=q.device)
            additive = additive.masked_fill(~mask, float("-inf"))
        out, logsumexp = flash(q, k, v, attn_mask=additive)
        ctx.save_for_backward(q, k, v, out, logsumexp)
        ctx.mask, ctx.additive = mask, additive
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        q, k, v, out, logsumexp = ctx.saved_tensors
        wanted = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph: a backward autograd can differentiate again
            inputs = [t for t, want in zip((q, k, v), wanted, strict=True) if want]
            with torch.enable_grad():
                found = iter(torch.autograd.grad(_composite(q, k, v, ctx.mask), inputs, grad,
                                                 create_graph=True))  # fmt: skip
            return (*(next(found) if want else None for want in wanted), None)
        backward = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
        grads = backward(
            grad.contiguous(), q, k, v, out, logsumexp, 0.0, False, attn_mask=ctx.additive
        )
        return (*(g if want else None for g, want in zip(grads, wanted, strict=True)), None)


def attention_pool(
    k: Tensor, v: Tensor, seed: Tensor, index: Tensor | None, num_graphs: int, heads: int
) -> Tensor:
    """Learned queries ``seed`` ``[seeds * heads * d]`` per graph: ``Σ_j softmax_j(s_ih ·
    k_jh / √d) v_jh`` over each graph's rows (``index`` their graph; None: one graph,
    ``[channels]``), seed by seed (``[seeds * v channels]``, seed-major)."""
    n, d = k.shape[0], k.shape[1] // heads
    seeds = seed.shape[0] // k.shape[1]
    scores = (k.reshape(n, 1, heads, d) * seed.reshape(seeds, heads, d)).sum(-1) / d**0.5
    weights = pool_softmax(scores.reshape(n, seeds * heads), index, num_graphs, None, 1.0)
    values = v.reshape(n, 1, heads, v.shape[1] // heads)
    weighted = weights.reshape(n, seeds, heads, 1) * values
    weighted = weighted.reshape(n, seeds * v.shape[1])
    if index is None:
        return weighted.sum(0)
    return weighted.new_zeros((num_graphs, weighted.shape[1])).index_add(0, index, weighted)
