"""A two-level cache of O(3) coefficient tables: in-process LRU, then a folder on disk.

Clebsch–Gordan (Wigner 3j) tensors and Wigner bases are pure functions of a few integers, so
they are computed once and stored in the versioned folder ``o3-v1/`` of the cache root
(``$GEOC_CACHE_DIR``, else ``~/.cache/geoc``; the rule of :mod:`geoc.cache`). Each entry is one
file named by the SHA-256 of ``(kind, ls, version)``; its header carries the key and a digest
of the payload, so a torn, truncated or foreign file is recomputed rather than trusted. Writes
go to a temporary file in the same folder and are published with :func:`os.replace` (atomic),
so concurrent compiles never see half a file. A folder that cannot be created or written turns
the cache into a memory-only one; nothing here raises on I/O.

    >>> cache = CoefficientCache(directory=None)          # memory only
    >>> a = cache.fetch(CoefficientKind.WIGNER_3J, (1, 1, 0), lambda: np.eye(3)[:, :, None])
    >>> cache.fetch(CoefficientKind.WIGNER_3J, (1, 1, 0), lambda: 1 / 0) is a
    True
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geoc.cache import cache_dir, write_atomically

#: Bump when any cached formula or convention changes: old entries then live in another folder.
CACHE_VERSION = "o3-v1"

_MAGIC = b"geoc-coefficients\n"
_log = logging.getLogger(__name__)


class CoefficientKind(str, enum.Enum):
    """What a cached table is; part of its key."""

    WIGNER_3J = "wigner_3j"
    SO3_GENERATORS = "so3_generators"
    #: Which coupling trees of a multiset of slots form a basis (``geoc.o3.coupling``).
    SYMMETRIC_PATHS = "symmetric_paths"


@dataclass
class CacheStats:
    """Where each :meth:`CoefficientCache.fetch` was answered from."""

    memory_hits: int = 0
    disk_hits: int = 0
    computed: int = 0


def default_cache_dir() -> Path:
    """``$GEOC_CACHE_DIR/o3-v1``, else ``~/.cache/geoc/o3-v1``."""
    return cache_dir(CACHE_VERSION)


def cache_key(kind: CoefficientKind, ls: tuple[int, ...]) -> str:
    """SHA-256 (hex) of the kind, the degrees and the cache version."""
    text = f"{kind.value}|{','.join(str(int(x)) for x in ls)}|{CACHE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()


class CoefficientCache:
    """Memory LRU in front of an optional disk folder. ``directory=None``: memory only.

    Returned arrays are read-only and shared between callers; copy before mutating.
    """

    def __init__(self, directory: str | os.PathLike[str] | None, maxsize: int = 4096) -> None:
        self.directory = None if directory is None else Path(directory)
        self.maxsize = maxsize
        self.stats = CacheStats()
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._disk_ok = self.directory is not None

    @property
    def persistent(self) -> bool:
        """Whether entries still go to disk (false after a failed write)."""
        return self._disk_ok

    def fetch(
        self, kind: CoefficientKind, ls: tuple[int, ...], compute: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The table for ``(kind, ls)``: from memory, else disk, else ``compute()`` (stored)."""
        key = cache_key(kind, ls)
        value = self._memory_get(key)
        if value is not None:
            self.stats.memory_hits += 1
            return value
        value = self._disk_get(key, self._path(kind, ls, key))
        if value is not None:
            self.stats.disk_hits += 1
        else:
            value = np.asarray(compute(), dtype=np.float64)
            self.stats.computed += 1
            self._disk_put(key, self._path(kind, ls, key), value)
        value = np.array(value, dtype=np.float64, copy=True)
        value.flags.writeable = False
        self._memory_put(key, value)
        return value

    def clear_memory(self) -> None:
        """Forget the in-process entries (the disk folder is kept)."""
        with self._lock:
            self._memory.clear()

    # --- memory ---

    def _memory_get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._memory.get(key)
            if value is not None:
                self._memory.move_to_end(key)
            return value

    def _memory_put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._memory[key] = value
            while len(self._memory) > self.maxsize:
                self._memory.popitem(last=False)

    # --- disk ---

    def _path(self, kind: CoefficientKind, ls: tuple[int, ...], key: str) -> Path | None:
        if self.directory is None:
            return None
        degrees = "-".join(str(int(x)) for x in ls)
        return self.directory / f"{kind.value}-{degrees}-{key[:16]}.coef"

    def _disk_get(self, key: str, path: Path | None) -> np.ndarray | None:
        if path is None:
            return None
        try:
            return _decode(path.read_bytes(), key)
        except FileNotFoundError:
            return None
        except Exception as err:  # unreadable or corrupt, whatever the symptom: recompute
            _log.debug("ignoring cache entry %s: %s", path, err)
            return None

    def _disk_put(self, key: str, path: Path | None, value: np.ndarray) -> None:
        if path is None or not self._disk_ok:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, _encode(value, key))
        except OSError as err:  # read-only or full: keep going in memory
            _log.debug("coefficient cache %s is not writable (%s); memory only", path.parent, err)
            self._disk_ok = False


def _encode(value: np.ndarray, key: str) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    return _MAGIC + f"{key}\n{digest}\n".encode() + payload


def _decode(data: bytes, key: str) -> np.ndarray:
    """The array in ``data``; ValueError unless magic, key and payload digest all match."""
    if not data.startswith(_MAGIC):
        raise ValueError("bad magic")
    stored_key, digest, payload = data[len(_MAGIC) :].split(b"\n", 2)
    if stored_key.decode() != key:
        raise ValueError("key mismatch")
    if hashlib.sha256(payload).hexdigest() != digest.decode():
        raise ValueError("digest mismatch")
    value = np.load(io.BytesIO(payload), allow_pickle=False)
    if value.dtype != np.float64 or not np.all(np.isfinite(value)):
        raise ValueError("not a finite float64 array")
    return value


_DEFAULT: CoefficientCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> CoefficientCache:
    """The process-wide cache at :func:`default_cache_dir` (rebuilt if that folder changes)."""
    global _DEFAULT
    directory = default_cache_dir()
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT.directory != directory:
            _DEFAULT = CoefficientCache(directory)
        return _DEFAULT


def resolve_cache(cache: CoefficientCache | None) -> CoefficientCache:
    """``cache`` if given, else the process-wide default."""
    return default_cache() if cache is None else cache
