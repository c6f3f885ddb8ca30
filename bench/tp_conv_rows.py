# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""`tp_conv` forward+backward, Clebsch–Gordan (`cg`) against eSCN's SO(2) lowering (`so2`).

    python bench/tp_conv_rows.py                  # lmax 2, 4, 6; 2 threads; float32
    python bench/tp_conv_rows.py --lmax 1 2 3 4 5 6 --channels 8 16 32 --fit

One `tp_conv` layer (NequIP's: radial MLP, channelwise tensor product of `h[src]` and the edge
harmonics, sum into `dst`, linear map) on a fixed graph of 64 nodes, each receiving edges from
its 16 nearest neighbours (1024 edges), `channels x` every degree up to `lmax` (natural parity)
in and out. Forward + backward (to the parameters and `h`). The two algorithms are timed in
alternation with a dense matmul, whose rate shows how much of a shared machine the rounds got;
each row reports the median and the best round. `bench/tp_vs_e3nn.py` imports :func:`rows`.
With `--fit`, also fits the costs of `geoc.backends.torch_fx.escn.SECONDS` to the timings and
prints where the cost model's choice disagrees with the faster measured algorithm.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable

import numpy as np
import torch
from timing import bench_parser, time_alternating  # bench/timing.py

import geoc.backends.torch_fx.o3.escn as escn
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.groups import Group
from geoc.ops.o3 import ConvPaths, conv_paths
from geoc.types import FeatureType

NODES, NEIGHBOURS = 64, 16
ALGORITHMS = ("cg", "so2")


def irreps(lmax: int, channels: int) -> str:
    return " + ".join(f"{channels}x{l}{'eo'[l % 2]}" for l in range(lmax + 1))


def spec(lmax: int, channels: int, algorithm: str) -> str:
    features = irreps(lmax, channels)
    return f"""
model TpConv() {{
    symmetry E(3) x S(nodes)
    domain graph(nodes)
    input h: {features} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax={lmax})
    w = radial_basis(norm(r), n=8, cutoff=5.0)
    output y: {features} over nodes = tp_conv(h, sh, w, out={features}, hidden=32,
                                              algorithm={algorithm})
}}"""


def paths_of(lmax: int, channels: int) -> ConvPaths:
    h = FeatureType.parse(irreps(lmax, channels) + " over nodes")
    sh = FeatureType.parse(" + ".join(f"{l}{'eo'[l % 2]}" for l in range(lmax + 1)) + " over edges")
    return conv_paths(h, sh, h.with_axes(()), Group.parse("O(3)"))


def graph(lmax: int, channels: int, device: torch.device) -> dict[str, torch.Tensor]:
    """64 random points; each receives edges from its 16 nearest others (fixed seed)."""
    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(NODES, 3, generator=gen) * 2.0
    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    src = dist.topk(NEIGHBOURS, dim=1, largest=False).indices.reshape(-1)
    dst = torch.arange(NODES).repeat_interleave(NEIGHBOURS)
    dim = sum(channels * (2 * l + 1) for l in range(lmax + 1))
    h = torch.randn(NODES, dim, generator=gen)
    inputs = {"h": h.requires_grad_(), "pos": pos, "edge_index": torch.stack([src, dst])}
    return {k: v.to(device) for k, v in inputs.items()}


def step(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        model.zero_grad(set_to_none=True)
        inputs["h"].grad = None
        model(**inputs)["y"].pow(2).sum().backward()

    return run


def reference(device: torch.device) -> tuple[Callable[[], None], float]:
    """A dense float32 matmul and its flop count: timed with the layers, its rate shows how
    much of the machine the rounds had (other jobs on shared CPUs slow everything down)."""
    a, b = torch.randn(2048, 512, device=device), torch.randn(512, 512, device=device)
    return (lambda: a @ b), 2.0 * 2048 * 512 * 512


def measure(lmax: int, channels: int, device: torch.device, rounds: int) -> list[dict]:
    """One row per algorithm for one layer size."""
    inputs = graph(lmax, channels, device)
    models = {a: geoc_compile(spec(lmax, channels, a), seed=0, device=device) for a in ALGORITHMS}
    matmul, flops = reference(device)
    runs = {**{a: step(m, inputs) for a, m in models.items()}, "matmul": matmul}
    times = time_alternating(runs, device, rounds)
    matmul_gflops = flops / statistics.median(times["matmul"]) / 1e9
    paths = paths_of(lmax, channels)
    edges = NODES * NEIGHBOURS
    chosen = min(escn.COSTS, key=lambda a: escn.estimated_seconds_per_edge(a, paths))
    out = []
    for algorithm in ALGORITHMS:
        cost = escn.COSTS[algorithm](paths)
        out.append(
            {
                "op": "tp_conv",
                "case": f"tp_conv lmax={lmax} {channels}ch E={edges}",
                "lmax": lmax,
                "channels": channels,
                "edges": edges,
                "impl": f"geoc {algorithm}",
                "algorithm": algorithm,
                "median_ms": 1e3 * statistics.median(times[algorithm]),
                "best_ms": 1e3 * min(times[algorithm]),
                # forward multiply-adds (cost model); forward + backward is about 3x
                "model_macs": edges * (cost.gemm + cost.batched + cost.elementwise),
                "model_cost": cost,
                "auto_picks": chosen,
                "matmul_gflops": matmul_gflops,  # dense matmul rate during these rounds
            }
        )
    return out


def rows(
    device: str | torch.device = "cpu",
    threads: int = 2,
    lmaxes: tuple[int, ...] = (2, 4, 6),
    channels: tuple[int, ...] = (16,),
    rounds: int = 15,
) -> list[dict]:
    """Rows for `bench/tp_vs_e3nn.py`: ``op``, ``case``, ``impl``, ``median_ms``, ``best_ms``,
    ``model_macs`` (forward), ``auto_picks``, … per algorithm and layer size."""
    torch.set_num_threads(threads)
    device = torch.device(device)
    measure(lmaxes[0], channels[0], device, 2)  # first-call costs (allocator, thread pool)
    return [row for c in channels for l in lmaxes for row in measure(l, c, device, rounds)]


def mac_seconds(threads: int) -> dict[str, float]:
    """Forward + backward (3x forward) seconds per multiply-add of the two matmul kinds, timed
    on this machine: a skinny GEMM with a constant matrix (so2's mixing, cg's `sh @ cg`) and
    a batched 13 x 13 product per edge (the rotations)."""
    torch.set_num_threads(threads)
    gemm_a, gemm_b = torch.randn(16384, 13), torch.randn(13, 169)
    bmm_a, bmm_b = torch.randn(1024, 256, 13), torch.randn(1024, 13, 13)
    cases = {
        "gemm": (lambda: gemm_a @ gemm_b, 16384 * 13 * 169),
        "batched": (lambda: torch.bmm(bmm_a, bmm_b), 1024 * 256 * 13 * 13),
    }
    out = {}
    for kind, (run, macs) in cases.items():
        times = time_alternating({kind: run}, torch.device("cpu"), 15)[kind]
        out[kind] = 3 * min(times) / macs
    return out


def fit_seconds(table: list[dict], fixed: dict[str, float]) -> dict[str, float]:
    """Seconds per unit of each kind of work (``escn.ConvCost``) that best explain the best
    measured times, with the kinds in ``fixed`` held: non-negative least squares on relative
    error, solved exactly by trying every set of free kinds."""
    kinds = [k for k in escn.SECONDS if k not in fixed]
    cost = [r["model_cost"] for r in table]
    seconds = np.array([r["best_ms"] * 1e-3 / r["edges"] for r in table])
    known = np.array([sum(getattr(c, k) * v for k, v in fixed.items()) for c in cost])
    work = np.array([[getattr(c, k) for k in kinds] for c in cost], dtype=float)
    a, b = work / seconds[:, None], 1.0 - known / seconds  # relative residuals
    best, best_err = np.zeros(len(kinds)), np.inf
    for subset in itertools.product([False, True], repeat=len(kinds)):
        free = np.array(subset)
        if not free.any():
            continue
        x = np.zeros(len(kinds))
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        err = np.sum((a @ x - b) ** 2)
        if np.all(x >= 0) and err < best_err:
            best, best_err = x, err
    return {**fixed, **dict(zip(kinds, best.tolist(), strict=True))}


def calm(table: list[dict]) -> list[dict]:
    """The rows timed while the reference matmul ran at 80% or more of its best rate (on a
    shared machine, other jobs' bursts slow these layers far more than one big matmul)."""
    best = max(r["matmul_gflops"] for r in table)
    return [r for r in table if r["matmul_gflops"] >= 0.8 * best]


def report_fit(table: list[dict], threads: int) -> None:
    """The fitted costs, and where the model with them disagrees with the measurements."""
    kept = calm(table)  # both rows of a layer share its rounds, so pairs stay together
    print(f"fit on {len(kept)} of {len(table)} rows (the others ran on a contended machine)")
    table = kept
    fitted = fit_seconds(table, mac_seconds(threads))
    print("fitted escn.SECONDS:", {k: float(f"{v:.2g}") for k, v in fitted.items()})
    for cg, so2 in zip(table[::2], table[1::2], strict=True):
        predicted = {
            r["algorithm"]: r["model_cost"].time(fitted) * r["edges"] * 1e3 for r in (cg, so2)
        }
        measured = "so2" if so2["best_ms"] < cg["best_ms"] else "cg"
        picked = min(predicted, key=predicted.get)
        print(
            f"  lmax {cg['lmax']} {cg['channels']:>2}ch: predicted cg {predicted['cg']:7.1f} "
            f"so2 {predicted['so2']:7.1f} ms; measured best cg {cg['best_ms']:7.1f} "
            f"so2 {so2['best_ms']:7.1f} ms; {'agrees' if picked == measured else 'DISAGREES'}"
        )


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--lmax", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--channels", type=int, nargs="+", default=[16])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--fit", action="store_true", help="fit escn.SECONDS to these timings")
    args = parser.parse_args()
    table = rows(args.device, args.threads, tuple(args.lmax), tuple(args.channels), args.rounds)
    print(
        f"tp_conv forward+backward, {NODES} nodes x {NEIGHBOURS} edges, float32, "
        f"{args.threads} threads, {args.device}; median (best) of {args.rounds} rounds"
    )
    columns = ("lmax", "ch", "cg ms", "so2 ms", "cg/so2", "faster", "auto", "matmul GF/s")
    widths = (4, 4, 16, 16, 7, 7, 5, 12)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for cg, so2 in zip(table[::2], table[1::2], strict=True):
        ratio = cg["median_ms"] / so2["median_ms"]
        print(
            f"{cg['lmax']:>4} {cg['channels']:>4} "
            f"{cg['median_ms']:>8.1f} ({cg['best_ms']:>5.1f}) "
            f"{so2['median_ms']:>8.1f} ({so2['best_ms']:>5.1f}) {ratio:>7.2f} "
            f"{'so2' if ratio > 1 else 'cg':>7} {cg['auto_picks']:>5} {cg['matmul_gflops']:>12.0f}"
        )
    by_lmax = {}
    for row in table:
        if row["channels"] == args.channels[0]:
            by_lmax.setdefault(row["algorithm"], []).append((row["lmax"], row["median_ms"]))
    for algorithm, points in by_lmax.items():
        if len(points) >= 2:
            l, t = np.log([p[0] + 1 for p in points]), np.log([p[1] for p in points])
            print(f"{algorithm}: time ~ (lmax+1)^{np.polyfit(l, t, 1)[0]:.2f} over these lmax")
    if args.fit:
        report_fit(table, args.threads)


if __name__ == "__main__":
    main()
