"""Timing shared by the bench scripts: contenders run in alternation, so load spikes on this
shared machine hit every contender alike."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


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
