"""The one disk-cache rule of geoc: where cached files live and how they are written.

``$GEOC_CACHE_DIR`` names the cache *root* (default ``~/.cache/geoc``; ``~`` is expanded). Each
cache keeps its files in its own versioned subfolder of the root, ``<name>-v<version>``: the
O(3) coefficient tables in ``o3-v1/`` (:mod:`geoc.o3.cache`), the solver's bases in
``solver-v2/`` (:mod:`geoc.solver.cache`). A format change bumps the version, so old entries
are never misread. Files are written to a temporary name in their folder and renamed into place
with :func:`os.replace` (atomic on POSIX and Windows): a concurrent reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

ENV_VAR = "GEOC_CACHE_DIR"


def cache_root() -> Path:
    """``$GEOC_CACHE_DIR``, else ``~/.cache/geoc``."""
    root = os.environ.get(ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "geoc"


def cache_dir(folder: str) -> Path:
    """The folder of one cache, ``<root>/<folder>``; ``folder`` is ``<name>-v<version>``. The
    folder is created by the first write, never by asking for it."""
    return cache_root() / folder


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file next to ``path``, then rename it over ``path``; on failure the
    temporary file is removed and the error raised (callers decide whether it matters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
