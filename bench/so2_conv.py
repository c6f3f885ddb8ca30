# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""`so2_conv` (eSCN's own convolution) against `tp_conv` (cg, so2): forward + backward time
against lmax, and the exponent of the growth (log-log least squares of time vs lmax).

    python bench/so2_conv.py                          # lmax 2..8, 2 threads, float32
    python bench/so2_conv.py --lmax 4 5 6 7 8 --ops so2_conv --rounds 5

The graph of `bench/tp_conv_rows.py` (64 nodes, 16 nearest neighbours each: 1024 edges),
`16 x` every degree up to `lmax` (natural parity) in and out; `so2_conv(h[src], r, w,
mmax=2)` over edges, `tp_conv(h, sh, w, hidden=32)` into nodes. Best of `--rounds`, the
layers timed in alternation.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import time_alternating, write_json  # bench/timing.py
from tp_conv_rows import graph, irreps, step
from tp_conv_rows import spec as tp_conv_spec

from geoc.backends.torch_fx.api import compile as geoc_compile

CHANNELS, MMAX = 16, 2
OPS = ("so2_conv", "tp_conv cg", "tp_conv so2")


def so2_conv_spec(lmax: int, channels: int, mmax: int) -> str:
    features = irreps(lmax, channels)
    return f"""
model So2Conv() {{
    symmetry E(3) x S(nodes)
    domain graph(nodes)
    input h: {features} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    w = radial_basis(norm(r), n=8, cutoff=5.0)
    output y: {features} over edges = so2_conv(h[src], r, w, out={features}, mmax={mmax})
}}"""


def model(op: str, lmax: int) -> torch.nn.Module:
    if op == "so2_conv":
        text = so2_conv_spec(lmax, CHANNELS, min(MMAX, lmax))
    else:
        text = tp_conv_spec(lmax, CHANNELS, op.split()[1])
    return geoc_compile(text, seed=0)


def exponent(lmaxes: list[int], ms: list[float], low: int) -> float:
    """The slope of log(time) against log(lmax) over lmax >= ``low``."""
    keep = [(l, t) for l, t in zip(lmaxes, ms, strict=True) if l >= low]
    if len(keep) < 2:
        return float("nan")
    x, y = np.log([l for l, _ in keep]), np.log([t for _, t in keep])
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmax", type=int, nargs="+", default=list(range(2, 9)))
    parser.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fit-from", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    best: dict[str, list[float]] = {op: [] for op in args.ops}
    print("| lmax | " + " | ".join(f"{op} ms" for op in args.ops) + " |")
    print("|---" * (len(args.ops) + 1) + "|")
    for lmax in args.lmax:
        inputs = graph(lmax, CHANNELS, device)
        runs = {op: step(model(op, lmax).to(device), inputs) for op in args.ops}
        for run in runs.values():
            run()  # first-call costs
        times = time_alternating(runs, device, args.rounds)
        for op in args.ops:
            best[op].append(1e3 * min(times[op]))
        print(f"| {lmax} | " + " | ".join(f"{best[op][-1]:.1f}" for op in args.ops) + " |")
    slopes = {}
    for op in args.ops:
        slopes[op] = exponent(args.lmax, best[op], args.fit_from)
        print(f"{op}: time ~ lmax^{slopes[op]:.2f} over lmax {args.fit_from}..{max(args.lmax)}")
    rows = [
        {"case": f"lmax {lmax} {args.device}", "impl": op, "best_ms": best[op][i]}
        for op in args.ops
        for i, lmax in enumerate(args.lmax)
    ]
    write_json(args.json, rows, exponents=slopes)


if __name__ == "__main__":
    main()
