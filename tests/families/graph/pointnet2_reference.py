"""PointNet++'s layers in plain PyTorch, written from the paper (Qi et al. 2017, "PointNet++:
Deep Hierarchical Feature Learning on Point Sets in a Metric Space", section 3) with geoc's
order-independent neighbour rules, for tests to compare the geoc layers against.

* Ball query (3.2, "grouping layer"): each centre's neighbours are the points within radius
  ``r``; the paper's kernel takes the first ``k`` found, which depends on memory order, so here
  the ``k`` nearest, every point tied with the ``k``-th (within ``tol``) included, as
  ``ball(r, k, tol)`` defines it.
* Set abstraction (3.2): each group's points as their features concatenated with their
  coordinates relative to the centre, a shared MLP (a linear map and ReLU per layer, applied
  to every point of every group), and a max over each group (an empty group gives 0).
* Multi-scale grouping (3.3): set abstraction at several radii, features concatenated.
* Feature propagation (3.4): inverse-distance weighted interpolation of the coarse features
  from the ``k`` nearest centres (``w = 1 / d²``, ``d²`` floored at 1e-16), concatenated with
  the fine points' skip features, then a shared MLP ("unit pointnet").

Groups are dense ``[centres, K]`` index tables with a mask, as in the paper's implementation;
the batch vectors keep every group inside one point cloud. Batch normalisation is left out
(it is not part of the layer's definition, and geoc's ``mlp`` has none).
"""

from __future__ import annotations

import torch
from torch import Tensor

Layer = tuple[Tensor, Tensor]  # (weight [out, in], bias [out]), nn.Linear's layout


def _distances(pos_src: Tensor, pos_dst: Tensor, batch_src, batch_dst) -> Tensor:
    """``[n_dst, n_src]`` distances, infinite between different point clouds of a batch."""
    dist = (pos_dst[:, None, :] - pos_src[None, :, :]).pow(2).sum(-1).sqrt()
    if batch_src is not None:
        dist = dist.masked_fill(batch_dst[:, None] != batch_src[None, :], float("inf"))
    return dist


def nearest_groups(
    pos_src: Tensor,
    pos_dst: Tensor,
    batch_src: Tensor | None,
    batch_dst: Tensor | None,
    k: int,
    tol: float = 1e-4,
    radius: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Each destination's neighbours: the sources (within ``radius`` if given) whose distance
    is at most ``(1 + tol)`` times the ``k``-th smallest of them (all of them where there are
    at most ``k``). Returns ``index [n_dst, K]`` (0 where padded) and ``mask [n_dst, K]``."""
    dist = _distances(pos_src, pos_dst, batch_src, batch_dst)
    if radius is not None:
        dist = dist.masked_fill(dist >= radius, float("inf"))
    ranked = dist.sort(dim=1).values
    column = min(k, dist.shape[1]) - 1
    kth = ranked[:, column] if column >= 0 else dist.new_zeros(dist.shape[0])
    # fewer than k candidates: the k-th is "infinitely far", every candidate is a neighbour
    few = torch.isinf(kth) if k <= dist.shape[1] else torch.ones_like(kth, dtype=torch.bool)
    limit = torch.where(few, torch.full_like(kth, float("inf")), kth * (1 + tol))
    chosen = torch.isfinite(dist) & (dist <= limit[:, None])
    width = max(int(chosen.sum(1).max()) if chosen.numel() else 0, 1)
    order = torch.argsort((~chosen).to(torch.int8), dim=1, stable=True)[:, :width]
    mask = torch.gather(chosen, 1, order)
    return torch.where(mask, order, torch.zeros_like(order)), mask


def ball_query(pos_src, pos_dst, batch_src, batch_dst, radius: float, k: int, tol: float = 1e-4):
    """The ``k`` nearest sources within ``radius`` of each destination (ties included)."""
    return nearest_groups(pos_src, pos_dst, batch_src, batch_dst, k, tol, radius)


def shared_mlp(values: Tensor, layers: list[Layer]) -> Tensor:
    """The same linear map and ReLU per layer on every row (a 1x1 convolution in the paper)."""
    for weight, bias in layers:
        values = torch.relu(values @ weight.T + bias)
    return values


def group_max(values: Tensor, mask: Tensor) -> Tensor:
    """Max over each group's members ``[n_dst, K, C] -> [n_dst, C]``; an empty group gives 0."""
    filled = values.masked_fill(~mask[..., None], float("-inf")).amax(1)
    return torch.where(mask.any(1, keepdim=True), filled, torch.zeros_like(filled))


def set_abstraction(
    pos: Tensor,
    feats: Tensor,
    centres: Tensor,
    batch: Tensor | None,
    batch_centres: Tensor | None,
    radius: float,
    k: int,
    layers: list[Layer],
) -> Tensor:
    """Ball-query grouping onto the given centres, ``[features, p - c]``, shared MLP, max."""
    index, mask = ball_query(pos, centres, batch, batch_centres, radius, k)
    relative = pos[index] - centres[:, None, :]
    grouped = torch.cat([feats[index], relative], dim=-1)
    return group_max(shared_mlp(grouped, layers), mask)


def multi_scale(
    pos, feats, centres, batch, batch_centres, scales: list[tuple[float, int, list[Layer]]]
) -> Tensor:
    """Set abstraction at each ``(radius, k, layers)``, features concatenated."""
    return torch.cat(
        [set_abstraction(pos, feats, centres, batch, batch_centres, *s) for s in scales], dim=-1
    )


def interpolate(
    coarse: Tensor, pos_coarse: Tensor, pos_fine: Tensor, batch_coarse, batch_fine, k: int = 3
) -> Tensor:
    """Each fine point's features: the inverse-squared-distance weighted mean over its ``k``
    nearest coarse points (0 where its point cloud has none)."""
    index, mask = nearest_groups(pos_coarse, pos_fine, batch_coarse, batch_fine, k)
    sq = (pos_fine[:, None, :] - pos_coarse[index]).pow(2).sum(-1)
    weight = torch.where(mask, 1.0 / sq.clamp(min=1e-16), torch.zeros_like(sq))
    total = (weight[..., None] * coarse[index]).sum(1)
    norm = weight.sum(1, keepdim=True)
    return torch.where(norm > 0, total / torch.where(norm > 0, norm, 1.0), 0.0)


def feature_propagation(
    coarse: Tensor,
    pos_coarse: Tensor,
    pos_fine: Tensor,
    batch_coarse,
    batch_fine,
    skip: Tensor,
    layers: list[Layer],
    k: int = 3,
) -> Tensor:
    """Interpolation onto the fine points, their skip features concatenated, shared MLP."""
    up = interpolate(coarse, pos_coarse, pos_fine, batch_coarse, batch_fine, k)
    return shared_mlp(torch.cat([up, skip], dim=-1), layers)


def mlp_layers(state: dict[str, Tensor], name: str) -> list[Layer]:
    """The layers of geoc's ``name = mlp(...)``: parameters ``name.<i>.weight`` / ``.bias``."""
    count = sum(1 for key in state if key.startswith(f"{name}.") and key.endswith(".weight"))
    return [(state[f"{name}.{i}.weight"], state[f"{name}.{i}.bias"]) for i in range(count)]
