"""Edge sets between two axes of a model over several axes (docs/language.md, "Several axes").
Plain PyTorch; copied next to exported modules like every kernel module.

An edge set ``(src, dst, mask)`` joins elements of a ``src`` axis to elements of a ``dst`` axis
(``src`` indexes the first, ``dst`` the second), grouped by ``dst`` ascending, sources
ascending within a group, and never joins two graphs of a batch (``batch_src`` / ``batch_dst``:
the graph of each element, None for one graph). Run eagerly the list is exact (``mask`` None);
traced (``torch.compile``, ``torch.export``) every pair of the two axes is kept and the pairs
that are not edges are masked, so shapes never depend on the data. (Between an axis and itself
the lowering calls the point cloud's own rules, ``kernels.full_edges`` ...: no self-pair.)

Eagerly the candidates are the pairs within each graph (``O(sum over graphs of n_src n_dst)``);
traced, every pair of the batch (``O(n_src * n_dst)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import (
    Edges,
    _pair_sqdist,
    _pairs_within_graphs,
    _shapes_must_be_static,
)
from geoc.backends.torch_fx.common.validate_kernels import InputError, _require


def _pairs(n_src: int, n_dst: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Every (src, dst) pair, ``dst``-major: pair ``e = dst * n_src + src``."""
    src = torch.arange(n_src, device=device).repeat(n_dst)
    dst = torch.arange(n_dst, device=device).repeat_interleave(n_src)
    return src, dst


def _static(like: Tensor) -> bool:
    """Shapes independent of the data: traced, or a device without values (``meta``)."""
    return _shapes_must_be_static(like) or like.device.type == "meta"


def _candidates(
    n_src: int, like: Tensor, batch_src: Tensor | None, batch_dst: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The pairs a rule chooses from, ``dst``-major, and which of them lie within one graph
    (None: all do). Eagerly with a batch only the pairs within each graph; traced every pair
    of the two axes, masked (static shapes)."""
    n_dst, device = like.shape[0], like.device
    if batch_src is None or batch_dst is None:
        return (*_pairs(n_src, n_dst, device), None)
    if _static(like):
        src, dst = _pairs(n_src, n_dst, device)
        return src, dst, batch_src[src] == batch_dst[dst]
    return (*_pairs_within_graphs(batch_src, batch_dst), None)


def _finish(src: Tensor, dst: Tensor, keep: Tensor | None, like: Tensor) -> Edges:
    """The exact list run eagerly; traced (or on ``meta``) the masked pairs (a masked pair adds
    nothing to a sum, mean or max)."""
    if _static(like):
        mask = torch.ones_like(src, dtype=like.dtype) if keep is None else keep.to(like.dtype)
        return src, dst, mask
    if keep is None:
        return src, dst, None
    index = keep.nonzero().squeeze(-1)
    return src[index], dst[index], None


def cross_full_edges(
    src_like: Tensor,
    dst_like: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
) -> Edges:
    """Every (src, dst) pair within one graph (``*_like``: any value over each axis)."""
    src, dst, within = _candidates(src_like.shape[0], dst_like, batch_src, batch_dst)
    return _finish(src, dst, within, dst_like)


def cross_radius_edges(
    pos_src: Tensor,
    pos_dst: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
    r: float,
) -> Edges:
    """Pairs within one graph closer than ``r`` (strictly)."""
    src, dst, within = _candidates(pos_src.shape[0], pos_dst, batch_src, batch_dst)
    close = _pair_sqdist(pos_src, src, dst, pos_dst) < r * r
    return _finish(src, dst, close if within is None else within & close, pos_dst)


def cross_knn_edges(
    pos_src: Tensor,
    pos_dst: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
    k: int,
    tol: float,
) -> Edges:
    """Each ``dst`` element receives an edge from every ``src`` element of its graph within
    ``(1 + tol) d_k``, ``d_k`` its ``k``-th smallest distance to them (all of them where the
    graph has at most ``k``): ties with the k-th are all included, as in ``knn_edges``."""
    return _cross_nearest(pos_src, pos_dst, batch_src, batch_dst, k, tol, None)


def cross_ball_edges(
    pos_src: Tensor,
    pos_dst: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
    r: float,
    k: int,
    tol: float,
) -> Edges:
    """PointNet++'s ball query, order-independent: :func:`cross_knn_edges` among the ``src``
    elements closer than ``r`` (strictly), never the first ``k`` in memory order; a ``dst``
    element with none within ``r`` gets no edge."""
    return _cross_nearest(pos_src, pos_dst, batch_src, batch_dst, k, tol, r)


def _cross_nearest(
    pos_src: Tensor,
    pos_dst: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
    k: int,
    tol: float,
    r: float | None,
) -> Edges:
    """knn (``r`` None) or ball: candidates at ``r`` or farther count as absent (infinitely
    far), so the k-th distance is taken among those within ``r``."""
    n_src, n_dst = pos_src.shape[0], pos_dst.shape[0]
    src, dst, within = _candidates(n_src, pos_dst, batch_src, batch_dst)
    grouped = within is None and batch_src is not None and batch_dst is not None
    sq = _pair_sqdist(pos_src, src, dst, pos_dst)
    if r is not None:
        close = sq < r * r
        within = close if within is None else within & close
        sq = sq.masked_fill(~close, float("inf"))  # ranked last, never a neighbour
    if grouped:
        kth = _kth_per_group(sq, dst, n_dst, k)  # eager, pairs of each graph only
    elif k > n_src:  # no graph has more than k: every src element of the graph
        kth = sq.new_full((n_dst,), float("inf"))
    else:  # every pair of the two axes, those of other graphs at infinity
        rows = sq if within is None else sq.masked_fill(~within, float("inf"))
        kth = rows.reshape(n_dst, n_src).topk(k, dim=1, largest=False).values[:, -1]
    near = sq <= kth[dst] * (1.0 + tol) ** 2
    return _finish(src, dst, near if within is None else within & near, pos_dst)


def _kth_per_group(sq: Tensor, dst: Tensor, n_dst: int, k: int) -> Tensor:
    """The ``k``-th smallest of each ``dst``'s values (``dst``-major, contiguous groups of any
    size), infinity for a group of at most ``k``: one padded row per ``dst``."""
    count = torch.bincount(dst, minlength=n_dst)
    width = int(count.max()) if n_dst else 0
    if k > width:
        return sq.new_full((n_dst,), float("inf"))
    at = torch.arange(dst.shape[0], device=dst.device) - (torch.cumsum(count, 0) - count)[dst]
    rows = sq.new_full((n_dst, width), float("inf"))
    rows[dst, at] = sq
    return rows.topk(k, dim=1, largest=False).values[:, -1]


def check_axis_batch(
    batch_axis: object,
    name: str,
    batch: object,
    num_graphs: object,
    elements: Tensor | None,
) -> None:
    """``batch_<axis>``: given exactly when ``batch`` is, ``[n]`` integer graph indices (``n``
    the rows of the values over the axis, ``elements``) in ``[0, num_graphs)``, ``num_graphs``
    given or read off ``batch`` (a graph may have no element of the axis)."""
    if (batch_axis is None) != (batch is None):
        given, missing = ("batch", name) if batch_axis is None else (name, "batch")
        why = f"`{given}` is given but not `{missing}`: pass both (one graph: neither)"
        raise InputError("GEO615", missing, why)
    if batch_axis is None:
        return
    if not isinstance(batch_axis, Tensor) or batch_axis.ndim != 1:
        got = list(batch_axis.shape) if isinstance(batch_axis, Tensor) else type(batch_axis)
        raise InputError("GEO615", name, f"expected [n] graph indices, got {got}")
    if batch_axis.is_floating_point() or batch_axis.dtype == torch.bool:
        raise InputError("GEO615", name, f"expected integer graph indices, got {batch_axis.dtype}")
    if elements is not None and batch_axis.shape[0] != elements.shape[0]:
        rows = elements.shape[0]
        raise InputError("GEO612", name, f"has {batch_axis.shape[0]} entries for {rows} elements")
    if not batch_axis.numel():
        return
    limit = num_graphs if num_graphs is not None else _graph_count(batch)
    ok = ((batch_axis >= 0) & (batch_axis < limit)).all()
    _require(ok, "GEO615", name, "graph indices must lie in [0, num_graphs)")


def _graph_count(batch: object) -> Tensor | int:
    """``max(batch) + 1`` as a tensor (no host read), 0 for an empty ``batch``."""
    return batch.max() + 1 if isinstance(batch, Tensor) and batch.numel() else 0
