"""Embedding a tree: the hyperbolic graph convolution of ``specs/hgcn.geo`` against the
Euclidean ``specs/gcn.geo``, both compiled by geoc, with the same size and training.

A balanced tree embeds in the hyperbolic plane with arbitrarily low distortion, and in the
Euclidean plane only with a distortion that grows with its size (Sarkar 2011). Each model maps
one-hot node features to 2-D embeddings (messages run over the tree's edges) and is trained
so that embedding distances match path lengths in the tree: the Lorentz distance for HGCN,
the Euclidean one for GCN. Prints the average distortion ``mean |d_emb / d_tree - 1|`` over
all pairs of nodes and the mean average precision of reconstructing the edges from the
embedding (Nickel & Kiela 2017). About 30 s on 2 CPU cores::

    python examples/hgcn_tree.py
"""

from __future__ import annotations

import time

import torch

import geoc

DIM = 2  # the embedding dimension: the plane, where curvature matters most
BRANCHING, DEPTH = 3, 4  # 121 nodes
EPOCHS, LR, SEED = 250, 0.02, 0


def balanced_tree(branching: int, depth: int) -> tuple[int, torch.Tensor]:
    """Node count and the parent -> child edges of a balanced tree."""
    edges, frontier, count = [], [0], 1
    for _ in range(depth):
        next_frontier = []
        for parent in frontier:
            for _ in range(branching):
                edges.append((parent, count))
                next_frontier.append(count)
                count += 1
        frontier = next_frontier
    return count, torch.tensor(edges).T


def path_lengths(n: int, edges: torch.Tensor) -> torch.Tensor:
    """All-pairs shortest path lengths (BFS from every node)."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges.T.tolist():
        neighbours[u].append(v)
        neighbours[v].append(u)
    dist = torch.zeros(n, n)
    for source in range(n):
        seen, frontier, hops = {source}, [source], 0
        while frontier:
            hops += 1
            frontier = [v for u in frontier for v in neighbours[u] if v not in seen]
            seen.update(frontier)
            dist[source, frontier] = float(hops)
    return dist


def lorentz_dist(z: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Geodesic distances between all points of the hyperboloid <x,x>_L = -1/k."""
    inner = -z[:, None, 0] * z[None, :, 0] + z[:, 1:] @ z[:, 1:].T
    return torch.acosh((-k * inner).clamp(min=1 + 1e-6)) / k**0.5


def euclid_dist(z: torch.Tensor) -> torch.Tensor:
    sq = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
    return sq.clamp(min=1e-12).sqrt()


def mean_average_precision(dist: torch.Tensor, tree: torch.Tensor) -> float:
    """For each node, rank the others by embedding distance; average precision of its tree
    neighbours (Nickel & Kiela 2017), averaged over nodes."""
    scores = []
    for u in range(len(dist)):
        order = torch.argsort(dist[u])
        order = order[order != u]
        hits = (tree[u, order] == 1).float()
        precision = hits.cumsum(0) / torch.arange(1, len(order) + 1)
        scores.append(float((precision * hits).sum() / hits.sum()))
    return sum(scores) / len(scores)


def train(spec: str, distance, n: int, edges: torch.Tensor, tree: torch.Tensor) -> dict:
    """Train one compiled model to match tree distances; its distortion and mAP."""
    model = geoc.compile(spec, params={"features": n, "dim": DIM, "depth": 2}, seed=SEED)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    inputs = {"x": torch.eye(n), "edge_index": torch.cat([edges, edges.flip(0)], 1)}
    pairs = torch.triu_indices(n, n, 1)
    target = tree[pairs[0], pairs[1]]
    for _ in range(EPOCHS):
        dist = distance(model(**inputs)["z"])[pairs[0], pairs[1]]
        loss = (dist / target - 1).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        dist = distance(model(**inputs)["z"])
        distortion = float((dist[pairs[0], pairs[1]] / target - 1).abs().mean())
        return {"distortion": distortion, "map": mean_average_precision(dist, tree)}


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    n, edges = balanced_tree(BRANCHING, DEPTH)
    tree = path_lengths(n, edges)
    print(f"balanced tree: {n} nodes, branching {BRANCHING}, depth {DEPTH}; embedded in {DIM}-D")
    print(f"{EPOCHS} epochs of Adam (lr {LR}) on mean (d_emb / d_tree - 1)^2 over all pairs")
    print(f"  {'model':34s} {'distortion':>10s} {'mAP':>6s} {'time':>6s}")
    for name, spec, distance in (
        ("HGCN (Lorentz, specs/hgcn.geo)", "hgcn", lorentz_dist),
        ("GCN (Euclidean, specs/gcn.geo)", "gcn", euclid_dist),
    ):
        start = time.perf_counter()
        found = train(spec, distance, n, edges, tree)
        took = time.perf_counter() - start
        print(f"  {name:34s} {found['distortion']:10.3f} {found['map']:6.3f} {took:5.1f}s")


if __name__ == "__main__":
    main()
