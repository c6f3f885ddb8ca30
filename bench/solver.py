"""Equivariant-basis solver timings (geoc.solver), one run, printed as a Markdown table.

    python bench/solver.py            # every row (the LOBPCG row takes tens of seconds)
    python bench/solver.py --quick    # without the LOBPCG row

Rows: the numeric solver (`method="solve"`) and the closed forms (`method="auto"`) on the
acceptance cases of issue 7, a cache hit, S(n) partition layers at n = 100 (built and applied
without materialising the n^4 x 15 basis), and larger numeric cases (orbits, LOBPCG). "cold" is
a first call with an empty cache folder (solve + atomic write); times are the median of the
repeats. BLAS runs on one thread unless OPENBLAS_NUM_THREADS says otherwise: on a small shared
machine a multithreaded eigh is slower, not faster.
"""

from __future__ import annotations

import argparse
import os

# Before numpy is imported: it reads the BLAS thread count once.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from geoc import solver as s


@dataclass(frozen=True)
class Row:
    case: str
    method: str
    size: str
    k: int
    seconds: float
    target: str = ""


def median_time(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def cold(group, rep_in, rep_out, method: str, repeats: int) -> tuple[float, np.ndarray]:
    """A first call: each repeat gets a fresh, empty cache folder."""

    def run() -> np.ndarray:
        with tempfile.TemporaryDirectory() as folder:
            cache = s.BasisCache(folder)
            return s.equivariant_basis(group, rep_in, rep_out, cache=cache, method=method)

    return median_time(run, repeats)  # type: ignore[return-value]


def solver_row(case, group, rep_in, rep_out, method, repeats=3, target="") -> Row:
    seconds, basis = cold(group, rep_in, rep_out, method, repeats)
    return Row(case, method, f"{basis.shape[0]}", basis.shape[1], seconds, target)


def cache_hit_row() -> Row:
    group, rep = s.O(5), s.T(2)
    with tempfile.TemporaryDirectory() as folder:
        cache = s.BasisCache(folder)
        s.equivariant_basis(group, rep, rep, cache=cache, method="solve")
        seconds, basis = median_time(
            lambda: s.equivariant_basis(group, rep, rep, cache=cache, method="solve"), 20
        )
        assert cache.hits == 20
    return Row(
        "O(5) T(2)->T(2)", "cache hit", f"{basis.shape[0]}", basis.shape[1], seconds, "instant"
    )


def partition_rows(n: int = 100) -> list[Row]:
    """S(n) T(2) -> T(2) by partitions: build the basis, then apply a layer to x [n, n]."""
    x = np.random.default_rng(0).normal(size=(n, n))

    def build() -> s.PartitionBasis:
        basis = s.PartitionBasis(n, 2, 2)
        _ = basis.diagrams
        return basis

    t_build, basis = median_time(build, 20)
    coeffs = np.ones(len(basis))
    t_apply, _ = median_time(lambda: basis.apply(coeffs, x), 20)
    size = f"{n}^4 (implicit)"
    return [
        Row(f"S({n}) T(2)->T(2)", "partitions: build", size, len(basis), t_build, "< 0.1 s"),
        Row(
            f"S({n}) T(2)->T(2)",
            "partitions: build + apply",
            size,
            len(basis),
            t_build + t_apply,
            "< 0.1 s",
        ),
    ]


def rows(quick: bool) -> list[Row]:
    out = [
        solver_row("O(5) T(2)->T(2)", s.O(5), s.T(2), s.T(2), "solve", target="< 1 s"),
        cache_hit_row(),
        solver_row("O(5) T(2)->T(2)", s.O(5), s.T(2), s.T(2), "auto", target="< 1 s"),
        *partition_rows(),
        solver_row("S(20) T(2)->T(2)", s.S(20), s.T(2), s.T(2), "auto"),
        solver_row("Lorentz(3) T(2)->T(2)", s.Lorentz(3), s.T(2), s.T(2), "solve"),
        solver_row("O(3) T(3)->T(3)", s.O(3), s.T(3), s.T(3), "solve"),
        solver_row("O(3) T(3)->T(3)", s.O(3), s.T(3), s.T(3), "auto"),
        solver_row("O(5) T(3)->T(3)", s.O(5), s.T(3), s.T(3), "auto"),
        solver_row("Sp(2) T(2)->T(2)", s.Sp(2), s.T(2), s.T(2), "solve"),
        solver_row("S(5) regular->regular", s.S(5), s.regular, s.regular, "solve"),
        solver_row("D(4) regular->regular", s.D(4), s.regular, s.regular, "solve"),
    ]
    if not quick:
        lorentz = s.Lorentz(3), s.T(3), s.T(3)
        out.append(solver_row("Lorentz(3) T(3)->T(3)", *lorentz, "solve", repeats=1))
    return out


def table(results: list[Row]) -> str:
    lines = [
        "| case | method | rows (dim_out·dim_in) | k | time | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        shown = f"{r.seconds * 1e3:.2f} ms" if r.seconds < 1 else f"{r.seconds:.2f} s"
        lines.append(f"| {r.case} | {r.method} | {r.size} | {r.k} | {shown} | {r.target} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the LOBPCG row")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
    )
    print(table(rows(args.quick)))


if __name__ == "__main__":
    main()
