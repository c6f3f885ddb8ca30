"""Torch settings that several test modules need for a while (import as ``torch_env``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny tensors: intra-op threads only add wake-up latency (tens of ms per `index_add` when
    the cores are busy), so numeric checks run single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def float64_default() -> Iterator[None]:
    """e3nn builds its constants (3j tables) in the default dtype: float64 for a reference."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)
