"""Timing shared by the bench scripts: contenders run in alternation, so load spikes on this
shared machine hit every contender alike."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import torch


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The command line every bench script starts from: ``--device`` and ``--threads``, with
    the first line of the script's docstring as its description."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    return parser


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_alternating(
    runs: dict[str, Callable[[], None]], device: torch.device, rounds: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Seconds per call of each run, in alternation after ``warmup`` warm-up calls each."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            sync(device)
            start = time.perf_counter()
            run()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def timed_once(run: Callable[[], None], device: torch.device) -> float:
    """Seconds of one call (a first call that compiles, say)."""
    sync(device)
    start = time.perf_counter()
    run()
    sync(device)
    return time.perf_counter() - start


def medians_ms(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def run_header(rounds: int | str) -> str:
    """The command, date, machine, torch version and load: the first lines of every table."""
    command = " ".join(["python", *sys.argv])
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"$ {command}\n{started}; {platform.machine()}, {os.cpu_count()} cores; torch "
        f"{torch.__version__}; median of {rounds} alternating rounds; load average "
        f"{os.getloadavg()[0]:.2f} at the start"
    )


def write_json(path: str | None, rows: list[dict[str, object]], **meta: object) -> None:
    """``{"command", **meta, "rows": [{"case", "impl", "median_ms", ...}]}`` at ``path``."""
    if path:
        with open(path, "w") as out:
            json.dump({"command": " ".join(["python", *sys.argv]), **meta, "rows": rows}, out,
                      indent=1)  # fmt: skip


@contextlib.contextmanager
def float64_default() -> Iterator[None]:
    """Build e3nn modules in float64: they make their constants (Clebsch-Gordan coefficients,
    generators) in the default dtype, and a float32 constant cast later keeps float32's error."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(default)
