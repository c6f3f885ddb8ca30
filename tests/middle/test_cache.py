"""The one disk-cache rule (geoc.cache): `$GEOC_CACHE_DIR` is the root, each cache a versioned
folder in it, and writes (of caches, `geoc fmt`, `--out`) are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoc import cache, o3, solver


def test_the_environment_names_the_root_of_every_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path))
    assert cache.cache_root() == tmp_path
    assert o3.default_cache_dir() == tmp_path / "o3-v1"
    assert solver.default_cache_dir() == tmp_path / "solver-v2"


def test_the_default_root_and_a_home_relative_one(monkeypatch) -> None:
    monkeypatch.delenv("GEOC_CACHE_DIR", raising=False)
    assert cache.cache_root() == Path.home() / ".cache" / "geoc"
    monkeypatch.setenv("GEOC_CACHE_DIR", "~/geoc-cache")
    assert cache.cache_dir("solver-v2") == Path.home() / "geoc-cache" / "solver-v2"


def test_an_atomic_write_keeps_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "entry.bin"
    cache.write_atomically(path, b"first")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    cache.write_atomically(path, b"second")
    assert path.read_bytes() == b"second" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "entry.bin"
    cache.write_atomically(path, b"old")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        cache.write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]
