"""Farthest-point sampling in plain PyTorch, written from the paper (Qi et al. 2017, section
3.2: "given input points, we use iterative farthest point sampling to choose a subset of points
such that each is the most distant point from the set of the others chosen") with geoc's
order-independent rules (docs/language.md, "Sampled axes"): the first centre is the point
farthest from the centroid, and a tie (squared distances within ``tol`` of the largest) goes to
the lexicographically smallest position, then the lowest index. Deliberately slow and plain:
Python lists, one graph at a time."""

from __future__ import annotations

import torch

TOL = 1e-6


def reference_fps(pos: torch.Tensor, m: int, tol: float = TOL) -> list[int]:
    """One graph, from the paper: the first centre farthest from the centroid, then repeatedly
    the point farthest from the chosen set (distance to its nearest member); a tie (squared
    distances within ``tol`` of the largest) goes to the lexicographically smallest position,
    then the lowest index."""
    points = [tuple(p) for p in pos.tolist()]
    centroid = pos.mean(0)
    score = [float(((pos[i] - centroid) ** 2).sum()) for i in range(len(points))]
    chosen: list[int] = []
    while len(chosen) < min(m, len(points)):
        free = [i for i in range(len(points)) if i not in chosen]
        top = max(score[i] for i in free)
        band = [i for i in free if score[i] >= top * (1 - tol)]
        pick = min(band, key=lambda i: (points[i], i))
        chosen.append(pick)
        dist = [float(((pos[i] - pos[pick]) ** 2).sum()) for i in range(len(points))]
        score = dist if len(chosen) == 1 else [min(a, b) for a, b in zip(score, dist, strict=True)]
    return chosen


def reference_batched(pos: torch.Tensor, batch: torch.Tensor, m: int) -> list[int]:
    found = []
    for graph in range(int(batch.max()) + 1 if batch.numel() else 0):
        members = torch.nonzero(batch == graph).squeeze(-1)
        found += [int(members[i]) for i in reference_fps(pos[members], m)]
    return found
