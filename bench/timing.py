"""Timing shared by the bench scripts: contenders run in alternation, so load spikes on this
shared machine hit every contender alike."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

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
    runs: dict[str, Callable[[], None]], device: torch.device, rounds: int
) -> dict[str, list[float]]:
    """Seconds per call of each run, in alternation after two warm-up calls each."""
    for run in runs.values():
        run(), run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            sync(device)
            start = time.perf_counter()
            run()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return times
