"""Runtime kernels called by geoc-generated modules. Plain PyTorch, no geoc imports.

This file is copied next to every exported module (``geoc compile -o DIR``), so a compiled
model runs wherever torch does; the families' kernels import :func:`safe_norm` from it, and it
imports :func:`radius_neighbours` from ``neighbour_kernels`` (the export rewrites those
imports). Conventions: values over an axis are ``[axis, channels]``; global values are
``[channels]``, or ``[num_graphs, channels]`` when a ``batch`` vector assigns nodes to graphs.
Edges are a tuple ``(src, dst, mask)``: an edge runs ``src -> dst``; ``mask`` is None or a 0/1
float per edge (static-shape edge sets of one graph keep every ordered pair of distinct nodes
and mask the ones that are not edges, which keeps shapes independent of data for
``torch.compile(fullgraph=True)`` and ``torch.export``; no self-pair is ever fed, so a masked
pair never holds ``pos[dst] - pos[src] = 0``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.neighbour_kernels import radius_neighbours
from geoc.backends.torch_fx.common.precision_kernels import accumulate, settle

Edges = tuple[Tensor, Tensor, Tensor | None]


# --- edges ------------------------------------------------------------------------------------


def _all_pairs(n: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Every ordered pair (src, dst) of n nodes; edge e = dst * n + src."""
    index = torch.arange(n, device=device)
    return index.repeat(n), index.repeat_interleave(n)


def _distinct_pairs(n: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Every ordered pair of distinct nodes, no self-pair: edge ``e = dst * (n - 1) + j``,
    ``src = j`` below ``dst`` and ``j + 1`` from it on (a static ``n (n - 1)`` layout)."""
    others = max(n - 1, 0)
    dst = torch.arange(n, device=device).repeat_interleave(others)
    j = torch.arange(others, device=device).repeat(n)
    return j + (j >= dst).long(), dst


def _candidates(n: int, batch: Tensor | None, device: torch.device) -> tuple[Tensor, Tensor]:
    """The pairs an edge rule chooses from, grouped by ``dst`` (``n`` or ``n - 1`` per node):
    one graph: the distinct pairs (a masked self-pair would still feed ``pos[dst] - pos[src]
    = 0`` to singular functions); a batch: all pairs, compacted afterwards."""
    return _distinct_pairs(n, device) if batch is None else _all_pairs(n, device)


def _pair_mask(src: Tensor, dst: Tensor, batch: Tensor | None) -> Tensor:
    mask = src != dst
    if batch is not None:
        mask = mask & (batch[src] == batch[dst])
    return mask


def _finish(src: Tensor, dst: Tensor, mask: Tensor, dtype: torch.dtype, compact: bool) -> Edges:
    if compact:  # an exact edge list: fewer messages, data-dependent size (eager mode)
        keep = mask.nonzero().squeeze(-1)
        return src[keep], dst[keep], None
    return src, dst, mask.to(dtype)


def _pair_sqdist(pos: Tensor, src: Tensor, dst: Tensor, pos_dst: Tensor | None = None) -> Tensor:
    """``|pos_dst[dst] - pos[src]|²`` per pair (``pos_dst``: ``pos`` itself, or the points of a
    second axis), without gradient (edge sets are discrete). Each pair's value is computed
    from its two points alone, so permuting either axis permutes these numbers bit for bit,
    and coincident points give exactly 0."""
    with torch.no_grad():
        return ((pos if pos_dst is None else pos_dst)[dst] - pos[src]).pow(2).sum(-1)


def _shapes_must_be_static(pos: Tensor) -> bool:
    """Whether the module is being traced (``torch.compile``, ``torch.export``, ``make_fx``,
    fx symbolic tracing) rather than run: traced graphs keep shapes independent of data."""
    symbolic = getattr(torch.fx, "_symbolic_trace", None)  # private: absent in some versions
    tracing = symbolic is not None and symbolic.is_fx_symbolic_tracing()  # fx and make_fx
    return torch.compiler.is_compiling() or tracing or type(pos) is not Tensor


def _data_dependent_shapes_traced() -> bool:
    """Whether dynamo is tracing with data-dependent output sizes kept in the graph (the
    compiled path sets ``capture_dynamic_output_shape_ops``): then an ``O(E)`` edge list traces
    as it runs, its length an unbacked size, instead of ``N²`` masked candidates."""
    config = torch._dynamo.config  # private, read only: absent configs mean "not captured"
    captured = getattr(config, "capture_dynamic_output_shape_ops", False)
    return torch.compiler.is_dynamo_compiling() and bool(captured)


def full_edges(pos: Tensor, batch: Tensor | None) -> Edges:
    """Every ordered pair of distinct nodes of the same graph, grouped by ``dst`` (ascending),
    sources ascending within a group. One graph: the static distinct-pair layout. A batch run
    eagerly or compiled with data-dependent sizes captured: the pairs themselves, ``O(E)``
    (:func:`_pairs_within_graphs`); otherwise traced: every pair of the batch, compacted."""
    if batch is None:
        src, dst = _distinct_pairs(pos.shape[0], pos.device)
        return src, dst, None
    if not _shapes_must_be_static(pos) or _data_dependent_shapes_traced():
        src, dst = _pairs_within_graphs(batch)
        return src, dst, None
    src, dst = _all_pairs(pos.shape[0], pos.device)
    return _finish(src, dst, _pair_mask(src, dst, batch), pos.dtype, True)


def _pairs_within_graphs(
    batch_src: Tensor, batch_dst: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Every (src, dst) pair of one graph, ``dst``-major, from the graphs' sizes alone (no
    ``n_src * n_dst`` candidates; the batches need not be sorted). Element ``d`` receives from
    the members of its graph in index order: the ``j``-th of its edges comes from member ``j``.
    One axis (``batch_dst`` None): distinct nodes only, member ``j + 1`` from ``d``'s own place
    on. Between two axes (``axes_kernels``): every member. One host sync (eager only): the pair
    count, which sizes the result."""
    one_axis = batch_dst is None
    batch_dst = batch_src if batch_dst is None else batch_dst
    members = torch.argsort(batch_src, stable=True)  # src elements grouped by graph
    graph_of_member = batch_src.index_select(0, members)
    first = torch.searchsorted(graph_of_member, batch_dst)  # where each dst's graph starts
    count = torch.searchsorted(graph_of_member, batch_dst, right=True) - first - int(one_axis)
    n_dst, device = batch_dst.shape[0], batch_dst.device
    dst = torch.repeat_interleave(torch.arange(n_dst, device=device), count)
    j = torch.arange(dst.shape[0], device=device) - (torch.cumsum(count, 0) - count)[dst]
    at = first.index_select(0, dst) + j
    if one_axis:  # skip d itself: from its place in the graph on, one member further
        place = torch.empty_like(members).scatter_(0, members, torch.arange(n_dst, device=device))
        at = at + (j >= (place - first).index_select(0, dst)).long()
    return members.index_select(0, at), dst


def radius_edges(pos: Tensor, batch: Tensor | None, r: float) -> Edges:
    """Pairs of distinct nodes of the same graph closer than ``r`` (strictly: ``|d| < r``).

    Run eagerly, the exact list from :func:`radius_neighbours` (cell lists above a few hundred
    atoms, linear in time and memory), ordered by ``dst`` then ``src``. Traced, the static
    layouts (every distinct pair of one graph, masked; all pairs of a batch, compacted), whose
    shapes do not depend on the positions.

    Not tie-safe at the cutoff: a pair within rounding of ``r`` may flip under a rotation
    (a model is continuous there only if its messages vanish at ``r``, as ``radial_basis``'s
    envelope makes them)."""
    static = _shapes_must_be_static(pos)
    if not static and pos.shape[-1] <= 3:  # the search is 1- to 3-D
        src, dst, _ = radius_neighbours(pos, r, batch)
        return src, dst, None
    src, dst = _candidates(pos.shape[0], batch, pos.device)
    close = _pair_sqdist(pos, src, dst) < r * r
    compact = batch is not None or not static  # eager: an exact list
    return _finish(src, dst, _pair_mask(src, dst, batch) & close, pos.dtype, compact)


def knn_edges(pos: Tensor, batch: Tensor | None, k: int, tol: float) -> Edges:
    """Each node receives edges from every other node of its graph whose distance is at most
    ``(1 + tol) d_k``, ``d_k`` its ``k``-th smallest distance to the others (all of them if
    the graph has ``k`` or fewer others).

    So neighbours tied with the k-th are all included: the edge set depends on the distances
    alone (exactly permutation-invariant) and is rotation- and translation-invariant whenever
    no distance lies within rounding of ``(1 + tol) d_k``; a node whose gap after the k-th
    neighbour exceeds ``tol`` gets exactly ``k`` edges. Coincident points have ``d = 0``.
    """
    return _nearest(pos, batch, k, tol, None)


def ball_edges(pos: Tensor, batch: Tensor | None, r: float, k: int, tol: float) -> Edges:
    """PointNet++'s ball query, order-independent: :func:`knn_edges` among the other nodes
    closer than ``r`` (``d_k`` the k-th smallest distance below ``r``; every node within ``r``
    where there are at most ``k``), never the first ``k`` in memory order. Exact under
    isometries whenever no distance lies within rounding of ``r`` or of ``(1 + tol) d_k``."""
    return _nearest(pos, batch, k, tol, r)


def _nearest(pos: Tensor, batch: Tensor | None, k: int, tol: float, r: float | None) -> Edges:
    """knn (``r`` None) or ball: the candidates farther than ``r`` count as absent."""
    n = pos.shape[0]
    src, dst = _candidates(n, batch, pos.device)
    allowed = _pair_mask(src, dst, batch)
    sq = _pair_sqdist(pos, src, dst)
    if r is not None:
        allowed = allowed & (sq < r * r)
    per_node = src.shape[0] // n if n else 0
    if k > per_node:  # fewer candidates than k: every allowed node of the graph
        kth = sq.new_full((n,), float("inf"))
    else:
        rows = sq.masked_fill(~allowed, float("inf")).reshape(n, per_node)
        kth = rows.topk(k, dim=1, largest=False).values[:, -1]
    near = sq <= kth[dst] * (1.0 + tol) ** 2
    return _finish(src, dst, allowed & near, pos.dtype, batch is not None)


def given_edges(edge_index: Tensor) -> Edges:
    """``edge_index`` as PyTorch Geometric has it: row 0 = src, row 1 = dst."""
    return edge_index[0], edge_index[1], None


def live_rows(values: Tensor, edges: Edges) -> Tensor:
    """Values over built edges as a module returns them: one row per edge, the masked pairs
    of a static layout left out (in the order of :func:`edge_list`)."""
    mask = edges[2]
    return values if mask is None else values[mask != 0]


def edge_list(edges: Edges) -> Tensor:
    """The built edges as PyTorch Geometric has them, ``[2, E]`` (row 0 src, row 1 dst),
    masked pairs left out: the rows of every output over edges, in order."""
    src, dst, mask = edges
    pairs = torch.stack((src, dst))
    return pairs if mask is None else pairs[:, mask != 0]


def edge_batch(edges: Edges, batch: Tensor | None) -> Tensor | None:
    """The graph of each edge (that of its destination)."""
    return None if batch is None else batch[edges[1]]


# --- scatter (edges -> nodes) -----------------------------------------------------------------


def _masked(values: Tensor, mask: Tensor | None) -> Tensor:
    return values if mask is None else values * mask.unsqueeze(-1)


def scatter_sum(values: Tensor, edges: Edges, num_nodes: int) -> Tensor:
    _, dst, mask = edges
    acc = accumulate(values)  # half precision adds in float32 (precision_kernels.py)
    out = acc.new_zeros((num_nodes, values.shape[-1]))
    return settle(out.index_add(0, dst, _masked(acc, mask)), values.dtype)


def scatter_mean(values: Tensor, edges: Edges, num_nodes: int) -> Tensor:
    _, dst, mask = edges
    acc = accumulate(values)
    weight = acc.new_ones(dst.shape[0]) if mask is None else mask.to(acc.dtype)
    count = acc.new_zeros(num_nodes).index_add(0, dst, weight)
    total = scatter_sum(acc, edges, num_nodes) / count.clamp(min=1).unsqueeze(-1)
    return settle(total, values.dtype)


def scatter_max(values: Tensor, edges: Edges, num_nodes: int) -> Tensor:
    _, dst, mask = edges
    acc = accumulate(values)  # one dtype with the mask's, as in the sums
    if mask is not None:
        acc = acc.masked_fill(mask.unsqueeze(-1) == 0, float("-inf"))
    out = acc.new_full((num_nodes, values.shape[-1]), float("-inf"))
    out = out.scatter_reduce(0, dst.unsqueeze(-1).expand_as(acc), acc, "amax")
    return settle(out.masked_fill(torch.isneginf(out), 0.0), values.dtype)  # no edge: 0, as PyG


# --- pooling (an axis -> per graph) -----------------------------------------------------------


def _weights(values: Tensor, mask: Tensor | None) -> Tensor:
    return values.new_ones(values.shape[0]) if mask is None else mask.to(values.dtype)


def pool_sum(values: Tensor, index: Tensor | None, num_graphs: int, mask: Tensor | None) -> Tensor:
    acc = _masked(accumulate(values), mask)  # half precision adds in float32 (precision_kernels.py)
    if index is None:
        return settle(acc.sum(0), values.dtype)
    total = acc.new_zeros((num_graphs, values.shape[-1])).index_add(0, index, acc)
    return settle(total, values.dtype)


def pool_mean(values: Tensor, index: Tensor | None, num_graphs: int, mask: Tensor | None) -> Tensor:
    acc = accumulate(values)
    total = pool_sum(acc, index, num_graphs, mask)
    weight = _weights(acc, mask)
    if index is None:
        return settle(total / weight.sum().clamp(min=1), values.dtype)
    count = acc.new_zeros(num_graphs).index_add(0, index, weight)
    return settle(total / count.clamp(min=1).unsqueeze(-1), values.dtype)


def pool_max(values: Tensor, index: Tensor | None, num_graphs: int, mask: Tensor | None) -> Tensor:
    acc = accumulate(values)
    if mask is not None:
        acc = acc.masked_fill(mask.unsqueeze(-1) == 0, float("-inf"))
    if index is None:  # the max over an empty set has no value: 0, as for a graph without nodes
        empty = acc.new_full(acc.shape[1:], float("-inf"))
        out = acc.amax(0) if acc.shape[0] else empty
    else:
        out = acc.new_full((num_graphs, values.shape[-1]), float("-inf"))
        out = out.scatter_reduce(0, index.unsqueeze(-1).expand_as(acc), acc, "amax")
    return settle(out.masked_fill(torch.isneginf(out), 0.0), values.dtype)


def count_graphs(batch: Tensor | None, num_graphs: int | None) -> int:
    """The number of graphs: given, or read off ``batch`` (eager mode), or 1."""
    if batch is None:
        return 1
    if num_graphs is not None:
        return num_graphs
    return int(batch.max()) + 1 if batch.numel() else 0


def per_graph(value: Tensor, batch: Tensor | None, num_graphs: int) -> Tensor:
    """A global input as every operator sees it: with a ``batch``, one row per graph, a
    shared ``[C]`` repeated (a view); for one graph as given, ``[C]`` or ``[1, C]``."""
    if batch is None or value.ndim == 2:
        return value
    return value.expand(num_graphs, value.shape[-1])


def broadcast(value: Tensor, index: Tensor | None, length: int) -> Tensor:
    """A global value along an axis of ``length`` whose elements belong to graphs ``index``:
    ``[graphs, C]`` is gathered graph by graph; ``[C]`` (one value for every graph) and a single
    graph's ``[1, C]`` are repeated. Never tensor broadcasting: ``[C]`` indexed by ``index``
    would read channels as graphs."""
    if value.ndim == 1 or index is None:
        return value.expand(length, value.shape[-1])
    return value[index]


def broadcast_batched(value: Tensor, like: Tensor, channel_dim: int) -> Tensor:
    """A global value of a domain whose values lead with their sample (fields ``[B, *grid, C]``
    or ``[B, C, *grid]``, weight spaces ``[B, P, C]``), as a constant value shaped like ``like``
    with its own channels: ``[B, C]`` (per sample) or ``[C]`` (shared by every sample) gets
    size-1 dimensions at the other axes' positions, then is expanded (a view, no copy)."""
    channels = value.shape[-1]
    shape = [1] * like.ndim
    shape[0] = value.shape[0] if value.ndim == 2 else 1
    shape[channel_dim] = channels
    target = list(like.shape)
    target[channel_dim] = channels
    return value.reshape(shape).expand(target)


# --- fields on a grid: [batch, channels, *grid] -------------------------------------------------


def channel_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A 1×1 map of a field's channels, ``[B, C, *grid] -> [B, O, *grid]``.

    One batched matmul over the flattened grid keeps the result channel-first and contiguous
    (moving channels last for ``F.linear`` and back costs ~3× more, forward and backward).
    """
    batch = x.shape[0]
    flat = x.flatten(2)  # not reshape(batch, C, -1): -1 is ambiguous for an empty batch
    weights = weight.expand(batch, -1, -1)
    if bias is None:
        out = torch.bmm(weights, flat)
    else:
        out = torch.baddbmm(bias[None, :, None].expand(batch, -1, flat.shape[2]), weights, flat)
    return out.reshape(x.shape[0], weight.shape[0], *x.shape[2:])


# --- channels ---------------------------------------------------------------------------------


def copy_sqnorm(x: Tensor, terms: tuple[tuple[int, int], ...]) -> Tensor:
    """One squared norm per copy; ``terms`` lists (multiplicity, dimension) in layout order."""
    pieces, start = [], 0
    for mul, dim in terms:
        block = x[..., start : start + mul * dim]
        pieces.append(block.reshape(*x.shape[:-1], mul, dim).pow(2).sum(-1))
        start += mul * dim
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, -1)


def copy_norm(x: Tensor, terms: tuple[tuple[int, int], ...]) -> Tensor:
    """One norm per copy, with a gradient of 0 (not NaN) at the origin."""
    sq = copy_sqnorm(x, terms)
    positive = sq > 0
    return torch.where(positive, sq.clamp(min=torch.finfo(sq.dtype).tiny).sqrt(), 0.0)


def copy_dot(a: Tensor, b: Tensor, terms: tuple[tuple[int, int], ...]) -> Tensor:
    """One inner product per copy."""
    pieces, start = [], 0
    for mul, dim in terms:
        prod = a[..., start : start + mul * dim] * b[..., start : start + mul * dim]
        pieces.append(prod.reshape(*prod.shape[:-1], mul, dim).sum(-1))
        start += mul * dim
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, -1)


def per_copy_scale(scale: Tensor, x: Tensor, component_copy: Tensor) -> Tensor:
    """Multiply every component of ``x`` by the scalar of its copy."""
    return scale.index_select(-1, component_copy) * x


def irrep_linear(
    x: Tensor,
    weights: list[Tensor],
    in_index: list[Tensor],
    dims: tuple[int, ...],
    out_perm: Tensor,
    biases: list[Tensor | None],
) -> Tensor:
    """Schur-block linear map: for each irrep type k, ``y_k = W_k x_k`` mixing copies only.

    ``in_index[k]`` gathers the components of all copies of type k (copy-major), ``dims[k]``
    is the irrep dimension, and ``out_perm`` puts the concatenated blocks in output order.
    """
    outs = []
    for weight, index, dim, bias in zip(weights, in_index, dims, biases, strict=True):
        xk = x.index_select(-1, index).unflatten(-1, (-1, dim))  # leading axes may be empty
        yk = torch.einsum("...id,oi->...od", xk, weight)
        if bias is not None:
            yk = yk + bias.unsqueeze(-1)
        outs.append(yk.flatten(-2))
    return torch.cat(outs, -1).index_select(-1, out_perm)


def safe_norm(x: Tensor, keepdim: bool = False) -> Tensor:
    """``|x|`` over the last dimension, never below ``sqrt(tiny)`` (``tiny``: the smallest
    normal number of the dtype), so dividing by it is safe.

    Gradient: ``x / |x|`` where ``|x|² >= tiny``, and exactly 0 at ``x = 0`` (the clamp is flat
    there), not the NaN of ``torch.linalg.norm``; the second derivative at 0 is 0 as well.
    """
    sq = x.pow(2).sum(-1, keepdim=keepdim)
    return sq.clamp(min=torch.finfo(sq.dtype).tiny).sqrt()


def unit_vector(v: Tensor) -> Tensor:
    """``v / |v|`` over the last dimension, for ``v`` of any normal scale; 0, with derivatives
    0, where every component is 0 or subnormal (coincident points: no direction).

    Divides ``v`` by its largest component (a constant) before normalising, and gates the zero
    rows before any division, so no intermediate under- or overflows: the first derivative is
    finite everywhere, the second wherever its true size, ``~|v|^-2``, is a float (``|v|`` above
    ``~sqrt(tiny)``: 1e-154 in float64). ``x / safe_norm(x)`` overflows ``|v|^-3`` in its
    second derivative from ``|v| < 1e-103``; ``F.normalize`` has a 1e12 gradient at 0.
    """
    tiny = torch.finfo(v.dtype).tiny
    scale = v.detach().abs().amax(-1, keepdim=True)
    nonzero = scale >= tiny
    scaled = v / torch.where(nonzero, scale, 1.0)  # largest component ±1 (zero rows: < tiny)
    sq = torch.where(nonzero, scaled.pow(2).sum(-1, keepdim=True), 1.0)
    return torch.where(nonzero, scaled / sq.sqrt(), 0.0)


def install(module: torch.nn.Module, name: str, value: Tensor, parameter: bool) -> None:
    """Register ``value`` as the parameter or buffer with the dotted ``name`` (``a.b.weight``),
    creating empty submodules on the way: how a compiled module and its export get their state.
    """
    *path, leaf = name.split(".")
    for part in path:
        if not hasattr(module, part):
            module.add_module(part, torch.nn.Module())
        module = getattr(module, part)
    if parameter:
        module.register_parameter(leaf, torch.nn.Parameter(value))
    else:
        module.register_buffer(leaf, value)


def activation(dotted: str | None) -> Callable[[Tensor], Tensor]:
    """The torch function of an activation by its dotted name (``torch.nn.functional.silu``, as
    geoc's activation table gives it); None is the identity."""
    if dotted is None:
        return lambda x: x
    return functools.reduce(getattr, dotted.split(".")[1:], torch)
