"""On-disk cache of solved bases, keyed by a hash of (group, rep_in, rep_out, method).

One `.npz` file per basis in the versioned folder `solver-v2/` of the cache root
(`$GEOC_CACHE_DIR`, else `~/.cache/geoc`; the rule of :mod:`geoc.cache`). Files are written to a
temporary name in the same folder and renamed into place (atomic), so a reader never sees half
a file. A file that cannot be read, or whose stored key or shape does not match, counts as a
miss and is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from geoc.cache import cache_dir, write_atomically

FORMAT_VERSION = 2  # 2: numeric bases canonicalised (nullspace.canonical_basis)


def default_cache_dir() -> Path:
    """`$GEOC_CACHE_DIR/solver-v2`, else `~/.cache/geoc/solver-v2`."""
    return cache_dir(f"solver-v{FORMAT_VERSION}")


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
        buffer = io.BytesIO()
        np.savez(buffer, basis=basis, key=np.array(key))
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path(key), buffer.getvalue())
        except OSError as error:
            warnings.warn(f"geoc solver cache not written: {error}", stacklevel=2)


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
