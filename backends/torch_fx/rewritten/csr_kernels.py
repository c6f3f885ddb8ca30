"""Edge products without per-edge feature rows: ``x[dst]·y[src]`` per edge (a sampled
product) and ``Σ_j w_ij v_j`` into each node (a sparse product), through the edges stored
compressed by destination and by source.

Torch only (copied next to exported modules). Gathering ``[E, C]`` rows, multiplying them and
scattering them back writes and reads several tensors of ``E·C`` floats each way; these
kernels read the ``[N, C]`` node rows in place, which on a CPU is several times faster
(bench/attention.py --graph). Each is a :class:`torch.autograd.Function` whose backward is
again a sparse product; where a second derivative is asked for (``create_graph``) the backward
is the composite form's (gather, multiply, scatter), which autograd differentiates again. The
sparse path runs on the CPU in float32 and float64 on plain tensors outside ``torch.compile``;
elsewhere (accelerators, fake or meta tensors when tracing, ``torch.func`` transforms, half
precision) the composite form runs: the same function, written with gathers.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import Edges, scatter_sum

#: The edges sorted by destination (their order, the row starts, the source of each) and by
#: source (order, row starts, destination of each): ``edge_csr``'s result.
Csr = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]

_PLAIN = (Tensor, torch.nn.Parameter)


def edge_csr(edges: Edges, num_nodes: int) -> Csr | None:
    """The edges compressed by destination and by source (no host read: a stable sort and a
    cumulative count); None where no sparse product will run (edges off the CPU, traced)."""
    src, dst, _ = edges
    if not _sparse_place(src):
        return None
    return (*_compressed(dst, src, num_nodes), *_compressed(src, dst, num_nodes))


def _compressed(rows: Tensor, cols: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor]:
    # 32-bit keys sort several times faster than 64-bit ones; a stable sort keeps each row's
    # edges in their given order, so the sums are the same from run to run
    keys = rows.to(torch.int32) if size < 2**31 else rows
    order = torch.argsort(keys, stable=True)
    # scatter_add refuses an index outside [0, size) at either end, as a gather would: the
    # sparse products trust their indices (no invariant checks), so none reaches them
    counts = torch.zeros(size, dtype=rows.dtype, device=rows.device)
    counts = counts.scatter_add(0, rows, torch.ones_like(rows))
    crow = torch.cat((counts.new_zeros(1), counts.cumsum(0)))
    return order, crow, cols.index_select(0, order)


def _sparse(*values: Tensor) -> bool:
    """Whether the sparse path runs (see the module's docstring). Under ``torch.func``
    transforms (``grad``, ``vmap``: wrapped tensors) the composite form runs, which they
    differentiate and batch like any other torch code."""
    return all(_sparse_place(v) and v.dtype in (torch.float32, torch.float64) for v in values)


def _sparse_place(value: Tensor) -> bool:
    return (
        not torch.compiler.is_compiling()
        and type(value) in _PLAIN
        and value.device.type == "cpu"
        and not torch._C._functorch.is_functorch_wrapped_tensor(value)
    )


def _matrix(crow: Tensor, col: Tensor, values: Tensor, rows: int, cols: int) -> Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, (rows, cols), check_invariants=False)


def _sampled(order: Tensor, crow: Tensor, col: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``a[row_e]·b[col_e]`` per edge, in the edges' own order (``order`` sorts them)."""
    pattern = _matrix(crow, col, a.new_zeros(col.shape[0]), a.shape[0], b.shape[0])
    dots = torch.sparse.sampled_addmm(pattern, a, b.t(), beta=0.0).values()
    return torch.empty_like(dots).index_copy_(0, order, dots)


def _product(order: Tensor, crow: Tensor, col: Tensor, w: Tensor, v: Tensor, rows: int) -> Tensor:
    """``Σ_e w_e v[col_e]`` into each row: the sparse matrix of weights ``w`` times ``v``."""
    return _matrix(crow, col, w.index_select(0, order), rows, v.shape[0]) @ v


# --- x[dst]·y[src] ----------------------------------------------------------------------------


def edge_dot(x: Tensor, y: Tensor, edges: Edges, csr: Csr | None) -> Tensor:
    """``[E]``: ``x[dst_e]·y[src_e]`` for every edge (``x``, ``y`` ``[N, C]``)."""
    if csr is not None and _sparse(x, y):
        return _EdgeDot.apply(x, y, edges[0], edges[1], csr)
    return _dot_composite(x, y, edges)


def edge_bilinear(
    x: Tensor, y: Tensor, weight: Tensor, bias: Tensor | None, edges: Edges, csr: Csr | None
) -> Tensor:
    """``[E, K]``: ``Σ_c W_kc x[dst]_c y[src]_c (+ b_k)`` per edge: the weight scales ``x`` per
    node and each output column is one :func:`edge_dot`."""
    columns = [edge_dot(x * row, y, edges, csr) for row in weight]
    out = torch.stack(columns, -1)
    return out if bias is None else out + bias


def _dot_composite(x: Tensor, y: Tensor, edges: Edges) -> Tensor:
    src, dst, _ = edges
    return (x.index_select(0, dst) * y.index_select(0, src)).sum(-1)


class _EdgeDot(torch.autograd.Function):
    """Forward a sampled product; backward ``∂x = G y``, ``∂y = Gᵀ x`` with ``G`` the sparse
    matrix of the scores' gradients (both sparse products, ``Gᵀ`` stored by source)."""

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, src: Tensor, dst: Tensor, csr: Csr) -> Tensor:
        ctx.save_for_backward(x, y, src, dst, *csr)
        return _sampled(csr[0], csr[1], csr[2], x, y)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, y, src, dst, *csr = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: a backward autograd can differentiate again
            grads = _composite_grads(_dot_composite, (x, y), (src, dst, None), grad, ctx)
            return (*grads, None, None, None)
        gx = _product(*csr[:3], grad, y, x.shape[0]) if ctx.needs_input_grad[0] else None
        gy = _product(*csr[3:], grad, x, y.shape[0]) if ctx.needs_input_grad[1] else None
        return gx, gy, None, None, None


# --- Σ_j w_ij v_j -------------------------------------------------------------------------------


def edge_weighted_sum(
    w: Tensor, v: Tensor, edges: Edges, csr: Csr | None, num_nodes: int
) -> Tensor:
    """``[N, D]``: ``Σ_e w_e v[src_e]`` over the edges into each node (``w`` ``[E, 1]``, one
    weight per edge; masked edges of a static layout add nothing)."""
    mask = edges[2]
    if mask is not None:
        w = w * mask.unsqueeze(-1).to(w.dtype)
    if csr is not None and _sparse(w, v) and v.ndim == 2 and w.ndim == 2 and w.shape[1] == 1:
        return _WeightedSum.apply(w[:, 0], v, edges[0], edges[1], csr, num_nodes)
    return _sum_composite(w, v, edges, num_nodes)


def _sum_composite(w: Tensor, v: Tensor, edges: Edges, num_nodes: int) -> Tensor:
    src, dst, _ = edges
    weighted = w.reshape(w.shape[0], *([1] * (v.ndim - 1))) * v.index_select(0, src)
    return scatter_sum(weighted, (src, dst, None), num_nodes)


class _WeightedSum(torch.autograd.Function):
    """Forward ``W v`` with ``W`` the sparse matrix of the weights; backward ``∂v = Wᵀ g``
    (stored by source) and ``∂w_e = g[dst_e]·v[src_e]`` (a sampled product)."""

    @staticmethod
    def forward(
        ctx, w: Tensor, v: Tensor, src: Tensor, dst: Tensor, csr: Csr, num_nodes: int
    ) -> Tensor:
        ctx.save_for_backward(w, v, src, dst, *csr)
        ctx.num_nodes = num_nodes
        return _product(*csr[:3], w, v, num_nodes)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        w, v, src, dst, *csr = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: a backward autograd can differentiate again

            def composite(w: Tensor, v: Tensor, edges: Edges) -> Tensor:
                return _sum_composite(w.unsqueeze(-1), v, edges, ctx.num_nodes)

            grads = _composite_grads(composite, (w, v), (src, dst, None), grad, ctx)
            return (*grads, None, None, None, None)
        gw = _sampled(*csr[:3], grad, v) if ctx.needs_input_grad[0] else None
        gv = _product(*csr[3:], w, grad, v.shape[0]) if ctx.needs_input_grad[1] else None
        return gw, gv, None, None, None, None


# --- second derivatives -----------------------------------------------------------------------


def _composite_grads(fn, inputs: tuple[Tensor, ...], edges: Edges, grad: Tensor, ctx) -> list:
    """The gradients of ``fn(*inputs, edges)`` by autograd, recorded (second derivatives flow
    through the saved inputs to whatever computed them)."""
    wanted = ctx.needs_input_grad[: len(inputs)]
    with torch.enable_grad():
        chosen = [t for t, want in zip(inputs, wanted, strict=True) if want]
        found = iter(torch.autograd.grad(fn(*inputs, edges), chosen, grad, create_graph=True))
    return [next(found) if want else None for want in wanted]
