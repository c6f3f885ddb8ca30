"""On-disk cache of solved bases, keyed by a hash of (group, rep_in, rep_out, method).

One `.npz` file per basis in `$GEOC_CACHE_DIR` (default `~/.cache/geoc/solver`). Files are
written to a temporary name in the same folder and renamed into place (atomic on POSIX and
Windows), so a reader never sees half a file. A file that cannot be read, or whose stored key or
shape does not match, counts as a miss and is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 2  # 2: numeric bases canonicalised (nullspace.canonical_basis)
ENV_VAR = "GEOC_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$GEOC_CACHE_DIR`, else `~/.cache/geoc/solver`."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else Path.home() / ".cache" / "geoc" / "solver"


class BasisCache:
    """A folder of cached bases; counts its hits and misses (tests and benchmarks read them)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.directory / f"{_digest(key)}.npz"

    def load(self, key: str, rows: int) -> np.ndarray | None:
        """The cached [rows, k] basis for `key`, or None (absent, unreadable or mismatched)."""
        basis = _read(self.path(key), key)
        if basis is None or basis.ndim != 2 or basis.shape[0] != rows:
            self.misses += 1
            return None
        self.hits += 1
        return basis

    def store(self, key: str, basis: np.ndarray) -> None:
        """Write atomically; a cache that cannot be written only costs a warning."""
        temp = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=self.directory, suffix=".tmp", delete=False
            ) as handle:
                temp = Path(handle.name)
                np.savez(handle, basis=basis, key=np.array(key))
            os.replace(temp, self.path(key))
        except OSError as error:
            warnings.warn(f"geoc solver cache not written: {error}", stacklevel=2)
            if temp is not None:
                temp.unlink(missing_ok=True)


def _digest(key: str) -> str:
    text = f"geoc-solver-v{FORMAT_VERSION}|{key}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read(path: Path, key: str) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            basis = np.asarray(data["basis"], dtype=np.float64)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return basis if np.all(np.isfinite(basis)) else None
