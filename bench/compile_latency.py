"""Compile latency: spec text to a runnable GraphModule, `import torch` excluded.

    python bench/compile_latency.py            # EGNN depth 4 and 64, best of 5

Targets (issue 3): depth 4 under 100 ms, depth 64 under 1 s. Exits 1 if a target is missed.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch  # noqa: F401 - imported before timing, as the target says

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.grammar.parser import parse

TARGETS = {4: 0.100, 64: 1.0}
REPEATS = 5


def measure(depth: int) -> list[float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        geoc_compile("egnn", params={"depth": depth})
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parse("model Warm() {}")  # grammar tables are built once per process
    geoc_compile("deepsets")  # first-use imports (operator families, fx) out of the timing
    failed = False
    print(f"{'spec':<12}{'depth':>6}{'best ms':>10}{'median ms':>11}{'target ms':>11}")
    for depth, target in TARGETS.items():
        times = measure(depth)
        best = min(times)
        failed |= best >= target
        print(
            f"{'egnn':<12}{depth:>6}{best * 1e3:>10.1f}{statistics.median(times) * 1e3:>11.1f}"
            f"{target * 1e3:>11.0f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
