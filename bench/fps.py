"""Farthest-point sampling: geoc's kernel against the textbook torch loop in one run.

    python bench/fps.py                       # 100k points x 1k centres, 1 and 2 threads
    python bench/fps.py --points 20000 --centres 500 --rounds 3 --thread-counts 1

Both start from the point farthest from the centroid (geoc's order-independent start rule) and
then take, m - 1 times, the point farthest from the chosen set. The textbook loop (PointNet++'s
description, as most PyTorch ports write it) keeps a min-distance tensor, updates it with the
squared distances to the newest centre and takes ``argmax``; geoc's kernel
(``common/sample_kernels.py``) works on coordinate rows in lexicographic order, with preallocated
buffers and in-place minimum, and breaks ties within ``tol`` by lexicographic order. Uniform
random points in a unit cube (float32, one graph). The run checks that both choose the same
indices in the same order (true unless two farthest distances lie within ``tol`` = 1e-6 relative:
then geoc's tie rule decides and the table says how many differ). Medians of alternating rounds;
ratio = textbook / geoc (above 1: geoc faster).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import bench_parser, medians_ms, run_header, time_alternating, write_json

from geoc.backends.torch_fx.common.sample_kernels import FPS_DEFAULT_TOL, fps


def textbook_fps(pos: torch.Tensor, m: int) -> torch.Tensor:
    """The loop most ports write, with geoc's start rule (farthest from the centroid)."""
    far = ((pos - pos.mean(0)) ** 2).sum(1).argmax()
    chosen = [far]
    dist = ((pos - pos[far]) ** 2).sum(1)
    for _ in range(m - 1):
        far = dist.argmax()
        chosen.append(far)
        dist = torch.minimum(dist, ((pos - pos[far]) ** 2).sum(1))
    return torch.stack(chosen)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    device = torch.device(args.device)
    pos = torch.rand(args.points, 3, generator=torch.Generator().manual_seed(0)).to(device)
    m = args.centres
    print(run_header(args.rounds))
    same = fps(pos, None, 1, m, FPS_DEFAULT_TOL).cpu() == textbook_fps(pos, m).cpu()
    print(f"indices equal to the textbook loop's: {int(same.sum())} of {m}, in order")
    print(f"\n| threads | geoc fps | textbook loop | ratio ({args.points:,} x {m:,}) |")
    print("|---:|---:|---:|---:|")
    rows = []
    for threads in args.thread_counts:
        torch.set_num_threads(threads)
        runs = {
            "geoc": lambda: fps(pos, None, 1, m, FPS_DEFAULT_TOL),
            "textbook": lambda: textbook_fps(pos, m),
        }
        ms = medians_ms(time_alternating(runs, device, args.rounds, warmup=1))
        ratio = ms["textbook"] / ms["geoc"]
        print(f"| {threads} | {ms['geoc']:.0f} ms | {ms['textbook']:.0f} ms | {ratio:.2f}x |")
        case = f"{args.points}x{m} {args.device} {threads} threads"
        rows += [{"case": case, "impl": impl, "median_ms": ms[impl]} for impl in ms]
    write_json(args.json, rows, indices_equal=int(same.sum()), centres=m)


if __name__ == "__main__":
    main()
