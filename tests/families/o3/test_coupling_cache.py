"""The basis of symmetric coupling paths is cached with the 3j symbols (memory, then disk): a
second compile of the same contraction reads which trees are independent instead of testing
them again, and gets the same paths."""

from __future__ import annotations

from pathlib import Path

from geoc.o3 import CoefficientCache, symmetric_paths

SLOTS = ((0, 1), (1, -1), (2, 1))  # 0e + 1o + 2e


def test_a_second_call_reads_the_kept_trees_from_memory() -> None:
    cache = CoefficientCache(directory=None)
    first = symmetric_paths(SLOTS, (1, -1), 3, cache=cache)
    computed = cache.stats.computed
    assert computed > 0  # multisets with repeated slots were tested
    assert symmetric_paths(SLOTS, (1, -1), 3, cache=cache) == first
    assert cache.stats.computed == computed and cache.stats.memory_hits >= computed


def test_another_process_reads_them_from_disk(tmp_path: Path) -> None:
    first = symmetric_paths(SLOTS, (0, 1), 3, cache=CoefficientCache(tmp_path))
    fresh = CoefficientCache(tmp_path)  # an empty memory, as in a new process
    assert symmetric_paths(SLOTS, (0, 1), 3, cache=fresh) == first
    assert fresh.stats.computed == 0 and fresh.stats.disk_hits > 0
    assert any(path.name.startswith("symmetric_paths-") for path in tmp_path.iterdir())
