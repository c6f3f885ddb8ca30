"""Neighbour lists: geoc's cell lists against ASE's ``neighbor_list`` in one run.

    python bench/neighbours.py                  # the table (1k, 10k, 100k atoms; 1 and 2 threads)
    python bench/neighbours.py --sizes 1000 10000 --threads 2
    python bench/neighbours.py --crossover      # brute force against cell lists, small systems

Uniform random atoms at 0.1 atoms/Å³ in a cube, cutoff 5 Å, periodic (the cube is the cell)
and open. Every case runs in a fresh subprocess (torch and numpy limited to the thread count).
Time: the best of several calls (geoc 5 at 1k and 10k atoms, 2 at 100k; ASE 3 and 1). Peak
memory: on the first call, after a warm-up on 200 atoms, the rise of the process's peak
resident set (VmHWM, reset through /proc/self/clear_refs) over its resident set before the
call: what the search allocates, whichever allocator holds it.
Ratios are geoc / ASE; the exponents are least-squares slopes of log(time) and log(peak
memory) against log(atoms). Acceptance (issue 14): 10k atoms under 1 s on 2 threads, both
exponents at most 1.2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

DENSITY, CUTOFF = 0.1, 5.0


def _system(atoms: int, seed: int = 0):
    import numpy as np

    side = (atoms / DENSITY) ** (1 / 3)
    positions = np.random.default_rng(seed).uniform(0.0, side, (atoms, 3))
    return positions, np.eye(3) * side


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # peak resident set := current


def _measure(call, warm_up, repeats: int) -> tuple[float, float, int]:
    """(best seconds, peak MiB above the resident set before, edges) of ``call``. Memory is
    read on the first call, after a warm-up on a small system (imports, code paths): a warm-up
    on the same size would leave freed memory in the allocators for the call to reuse."""
    warm_up()
    best, peak, edges = math.inf, 0.0, 0
    for round_ in range(repeats):
        before = _rss_kib("VmRSS")
        _reset_peak()
        start = time.perf_counter()
        edges = call()
        best = min(best, time.perf_counter() - start)
        if round_ == 0:
            peak = (_rss_kib("VmHWM") - before) / 1024
    return best, peak, edges


def _search(method: str, atoms: int, periodic: bool):
    """A call that builds the neighbour list of the system of ``atoms`` and counts its pairs."""
    positions, cell = _system(atoms)
    if method == "ase":
        from ase import Atoms
        from ase.neighborlist import neighbor_list

        system = Atoms(positions=positions, cell=cell, pbc=periodic)
        return lambda: len(neighbor_list("ij", system, CUTOFF)[0])
    import torch

    from geoc.backends.torch_fx.common.neighbour_kernels import radius_neighbours

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    pos = torch.tensor(positions)
    lattice = torch.tensor(cell)[None] if periodic else None
    return lambda: len(radius_neighbours(pos, CUTOFF, cell=lattice, method=method)[0])


def run_case(method: str, atoms: int, periodic: bool, repeats: int) -> dict:
    """One case in this process (the subprocess side)."""
    warm_up = _search(method, 200, periodic)
    seconds, peak, edges = _measure(_search(method, atoms, periodic), warm_up, repeats)
    return {"seconds": seconds, "peak_mib": peak, "edges": edges}


def _in_subprocess(method: str, atoms: int, periodic: bool, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    # best of several: on a shared machine a round may lose its second thread for a while
    repeats = (2 if atoms >= 50_000 else 5) if method != "ase" else (1 if atoms >= 50_000 else 3)
    args = [sys.executable, __file__, "--case", method, str(atoms), str(int(periodic))]
    out = subprocess.run(
        [*args, str(repeats)], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def table(sizes: list[int], thread_counts: list[int]) -> str:
    rows = [
        "| atoms | periodic | threads | edges | geoc s | ASE s | time ratio | geoc MiB | ASE MiB"
        " | memory ratio |",
        "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fits = ["", "| periodic | threads | method | time exponent | memory exponent |"]
    fits.append("|:---:|---:|:---|---:|---:|")
    for periodic in (True, False):
        for threads in thread_counts:
            series: dict[str, list[dict]] = {"cells": [], "ase": []}
            for atoms in sizes:
                geoc = _in_subprocess("cells", atoms, periodic, threads)
                ref = _in_subprocess("ase", atoms, periodic, threads)
                assert geoc["edges"] == ref["edges"], (atoms, periodic, geoc, ref)
                series["cells"].append(geoc)
                series["ase"].append(ref)
                rows.append(
                    f"| {atoms} | {'yes' if periodic else 'no'} | {threads} | {geoc['edges']} "
                    f"| {geoc['seconds']:.3f} | {ref['seconds']:.3f} "
                    f"| {geoc['seconds'] / ref['seconds']:.2f} | {geoc['peak_mib']:.0f} "
                    f"| {ref['peak_mib']:.0f} | {geoc['peak_mib'] / max(ref['peak_mib'], 1):.2f} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
            if len(sizes) > 1:
                for name, label in (("cells", "geoc cells"), ("ase", "ASE")):
                    times = [case["seconds"] for case in series[name]]
                    peaks = [case["peak_mib"] for case in series[name]]
                    fits.append(
                        f"| {'yes' if periodic else 'no'} | {threads} | {label} "
                        f"| {_slope(sizes, times):.2f} | {_slope(sizes, peaks):.2f} |"
                    )
    return "\n".join(rows + (fits if len(sizes) > 1 else []))


def crossover(threads: int) -> str:
    """Brute force against cell lists on small open and periodic systems, in this process."""
    import torch

    from geoc.backends.torch_fx.common.neighbour_kernels import radius_neighbours

    torch.set_num_threads(threads)
    rows = ["| atoms | periodic | brute ms | cells ms |", "|---:|:---:|---:|---:|"]
    for atoms in (50, 100, 200, 300, 400, 600, 1000):
        for periodic in (True, False):
            positions, cell = _system(atoms)
            pos = torch.tensor(positions)
            lattice = torch.tensor(cell)[None] if periodic else None
            times = []
            for method in ("brute", "cells"):
                radius_neighbours(pos, CUTOFF, cell=lattice, method=method)
                start = time.perf_counter()
                for _ in range(5):
                    radius_neighbours(pos, CUTOFF, cell=lattice, method=method)
                times.append((time.perf_counter() - start) / 5 * 1e3)
            rows.append(
                f"| {atoms} | {'yes' if periodic else 'no'} | {times[0]:.2f} | {times[1]:.2f} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--crossover", action="store_true")
    parser.add_argument("--case", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        method, atoms, periodic, repeats = args.case
        print(json.dumps(run_case(method, int(atoms), periodic == "1", int(repeats))))
    elif args.crossover:
        print(crossover(args.threads[-1]))
    else:
        print(table(args.sizes, args.threads))


if __name__ == "__main__":
    main()
