"""Edge layouts for EGNN, in plain PyTorch: is a dense ``[graphs, n, n]`` layout worth it?

    python bench/egnn_layouts.py                   # N-body size, 1 thread, 15 rounds
    python bench/egnn_layouts.py --qm9 --rounds 3  # QM9 size (slow: seconds per step)

Three implementations of one EGNN (Satorras et al. 2021, equations 3-6; the built-in spec's
widths), the same weights, forward + backward of ``energy.sum() + |pos|²``, timed in
alternating rounds: ``plain`` (compact edge lists, the first edge layer on
``concat(h_i, h_j, |r|²)``), ``split`` (compact lists, the first layer split by parts and
taken per node, as geoc's rewrite does) and ``dense`` (``[graphs, n, n]`` pairs, split first
layer, self-pairs masked). The figures are in docs/optimizer.md; all graphs have the same size
here, the dense layout's best case.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

FEATURES = 16


class Layer(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.edge = nn.Sequential(
            nn.Linear(2 * hidden + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.coord = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        self.node = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )

    def first_layer_parts(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``W_dst h + bias`` and ``W_src h``: the first edge layer's node parts."""
        weight, hidden = self.edge[0].weight, h.shape[-1]
        return F.linear(h, weight[:, :hidden], self.edge[0].bias), F.linear(
            h, weight[:, hidden : 2 * hidden]
        )


class Model(nn.Module):
    def __init__(self, hidden: int, depth: int) -> None:
        super().__init__()
        self.embed = nn.Linear(FEATURES, hidden)
        self.layers = nn.ModuleList(Layer(hidden) for _ in range(depth))
        self.readout = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))


def plain(model: Model, h, x, dst, src, degree, batch, graphs: int, split: bool):
    h = model.embed(h)
    for layer in model.layers:
        r = x[dst] - x[src]
        sq = (r * r).sum(-1, keepdim=True)
        if split:
            a, b = layer.first_layer_parts(h)
            first = torch.addcmul(a[dst] + b[src], sq, layer.edge[0].weight[:, -1])
            m = layer.edge[3](layer.edge[2](layer.edge[1](first)))
        else:
            m = layer.edge(torch.cat([h[dst], h[src], sq], -1))
        dx = torch.zeros_like(x).index_add_(0, dst, r * layer.coord(m)) / degree
        summed = torch.zeros_like(h).index_add_(0, dst, m)
        h, x = h + layer.node(torch.cat([h, summed], -1)), x + dx
    energy = torch.zeros(graphs, dtype=h.dtype).index_add_(0, batch, model.readout(h)[:, 0])
    return energy, x


def dense(model: Model, h, x, graphs: int, n: int):
    h = model.embed(h).view(graphs, n, -1)
    x = x.view(graphs, n, 3)
    off_diagonal = (1 - torch.eye(n, dtype=h.dtype)).view(1, n, n, 1)
    for layer in model.layers:
        r = x[:, :, None] - x[:, None]  # [G, n(dst), n(src), 3]
        a, b = layer.first_layer_parts(h)
        sq = (r * r).sum(-1, keepdim=True)
        first = a[:, :, None] + b[:, None] + sq * layer.edge[0].weight[:, -1]
        m = layer.edge[3](layer.edge[2](layer.edge[1](first))) * off_diagonal
        dx = (r * layer.coord(m)).sum(2) / (n - 1)
        h, x = h + layer.node(torch.cat([h, m.sum(2)], -1)), x + dx
    return model.readout(h).sum((1, 2)), x.reshape(-1, 3)


def full_edges(graphs: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = i != j
    offsets = (torch.arange(graphs) * n)[:, None]
    return (i[keep][None] + offsets).reshape(-1), (j[keep][None] + offsets).reshape(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qm9", action="store_true", help="96 x 29 nodes, hidden 128, depth 7")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    graphs, n, hidden, depth = (96, 29, 128, 7) if args.qm9 else (100, 5, 64, 4)
    torch.manual_seed(0)
    model = Model(hidden, depth)
    h, x = torch.randn(graphs * n, FEATURES), torch.randn(graphs * n, 3)
    dst, src = full_edges(graphs, n)
    degree = torch.full((graphs * n, 1), float(n - 1))
    batch = torch.arange(graphs).repeat_interleave(n)
    runs = {
        "plain": lambda: plain(model, h, x, dst, src, degree, batch, graphs, False),
        "split": lambda: plain(model, h, x, dst, src, degree, batch, graphs, True),
        "dense": lambda: dense(model, h, x, graphs, n),
    }
    reference = runs["plain"]()
    for run in runs.values():  # one function, three layouts
        energy, pos = run()
        torch.testing.assert_close(energy, reference[0], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(pos, reference[1], rtol=1e-4, atol=1e-4)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            energy, pos = run()
            (energy.sum() + pos.square().sum()).backward()
            if round_:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["plain"])
    print(f"{graphs} graphs x {n} nodes, hidden {hidden}, depth {depth}, {args.threads} thread(s)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:6s} {median * 1e3:9.2f} ms   {base / median:.2f}x plain")


if __name__ == "__main__":
    main()
