"""NequIP energy + forces on periodic systems: time and peak memory against the atom count.

    python bench/atomistic.py                       # 1k, 4k, 16k atoms, 1 and 2 threads
    python bench/atomistic.py --sizes 4000 16000 --threads 1

The built-in ``nequip`` spec (``channels=8, depth=1, periodic=true``, cutoff 5 Å) on a cubic
periodic box of random positions at 0.1 atoms/Å³ with random species, float32, energy and
forces (``-dE/dpos`` by autograd). Each case runs in a fresh subprocess, so its peak resident
memory (``ru_maxrss``) is its own; the time is the median of a few calls after a warm-up. The
scaling exponent is fitted over the sizes (log time against log atoms). Acceptance (issue 14):
4,000 atoms within 2 GiB peak resident memory, 16,000 atoms at most 6x the time of 4,000.
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import bench_parser

DENSITY = 0.1  # atoms per Å³
PARAMS = {"channels": 8, "depth": 1, "periodic": True}


def system(atoms: int, seed: int = 0) -> dict[str, object]:
    """Random positions in a cubic box of the given density, random species, the cell."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    side = (atoms / DENSITY) ** (1 / 3)
    return {
        "z": torch.randint(0, 4, (atoms,), generator=generator),
        "pos": torch.rand(atoms, 3, generator=generator) * side,
        "cell": torch.eye(3) * side,
    }


def one_case(atoms: int, threads: int, repeats: int) -> dict[str, float]:
    """Run in a subprocess: compile, warm up, time energy + forces; report the peak RSS."""
    import torch

    import geoc

    torch.set_num_threads(threads)
    model = geoc.compile("nequip", params=PARAMS)
    inputs = system(atoms)

    def energy_and_forces() -> None:
        pos = inputs["pos"].clone().requires_grad_(True)
        energy = model(**{**inputs, "pos": pos})["energy"]
        (grad,) = torch.autograd.grad(energy.sum(), pos)
        assert torch.isfinite(grad).all()

    energy_and_forces()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        energy_and_forces()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {"atoms": atoms, "threads": threads, "seconds": statistics.median(times), "peak": peak}


def run_case(atoms: int, threads: int, repeats: int) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import atomistic; "
        "print(json.dumps(atomistic.one_case(*map(int, sys.argv[2:]))))"
    )
    args = [str(Path(__file__).parent), str(atoms), str(threads), str(repeats)]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{atoms} atoms, {threads} threads failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(rows: list[dict[str, float]], key: str) -> float:
    """The least-squares slope of log(key) against log(atoms)."""
    xs = [math.log(r["atoms"]) for r in rows]
    ys = [math.log(r[key]) for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    print("| threads | atoms | energy + forces | peak RSS |")
    print("|---|---|---|---|")
    for threads in args.thread_counts:
        for atoms in args.sizes:
            row = run_case(atoms, threads, args.repeats)
            rows.append(row)
            peak = row["peak"] / 2**30
            line = f"| {threads} | {atoms:,} | {row['seconds']:.3f} s | {peak:.2f} GiB |"
            print(line, flush=True)
    for threads in args.thread_counts:
        mine = [r for r in rows if r["threads"] == threads]
        if len(mine) > 1:
            by_size = {r["atoms"]: r["seconds"] for r in mine}
            ratio = ""
            if 4000 in by_size and 16000 in by_size:
                ratio = f"; 16k / 4k time {by_size[16000] / by_size[4000]:.2f}x (target <= 6x)"
            print(f"{threads} thread(s): time exponent {exponent(mine, 'seconds'):.2f}{ratio}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
