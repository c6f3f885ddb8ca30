"""The compiled path: EGNN forward + backward, eager (`optimize="ir"`) vs `optimize="inductor"`.

    python bench/compiled_path.py --threads 1                 # 100 graphs x 5 nodes
    python bench/compiled_path.py --graphs 96 --nodes 29 --hidden 128 --depth 7

Prints the first call of the compiled module (the check against eager, then compiling the
forward and the backward) and the medians of alternating rounds. Set
``TORCHINDUCTOR_CACHE_DIR`` to an empty folder for a cold compile (docs/compiled.md).
"""

from __future__ import annotations

import statistics
import time

import torch
from timing import bench_parser, sync, time_alternating  # bench/timing.py

import geoc


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--graphs", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    params = {"hidden": args.hidden, "depth": args.depth}
    modules = {
        level: geoc.compile("egnn", params, device=device, optimize=level)
        for level in ("ir", "inductor")
    }
    count = args.graphs * args.nodes
    rng = torch.Generator().manual_seed(0)
    inputs = {
        "h": torch.randn(count, 16, generator=rng).to(device),
        "x": torch.randn(count, 3, generator=rng).to(device),
        "batch": torch.arange(args.graphs).repeat_interleave(args.nodes).to(device),
        "num_graphs": args.graphs,
    }

    def step(module: torch.nn.Module) -> None:
        out = module(**inputs)
        (out["energy"].sum() + out["pos"].square().sum()).backward()

    start = time.perf_counter()
    step(modules["inductor"])
    sync(device)
    print(f"first compiled call (check, compile forward and backward): "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    runs = {level: (lambda m=module: step(m)) for level, module in modules.items()}
    times = time_alternating(runs, device, args.rounds)
    median = {level: statistics.median(t) * 1e3 for level, t in times.items()}
    print(f"EGNN {args.graphs} graphs x {args.nodes} nodes, hidden {args.hidden}, depth "
          f"{args.depth}, fwd+bwd, {args.threads} thread(s), median of {args.rounds}: eager "
          f"{median['ir']:.1f} ms, inductor {median['inductor']:.1f} ms, "
          f"{median['ir'] / median['inductor']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
