"""The one disk-cache rule of geoc: where cached files live and how they are written.

``$GEOC_CACHE_DIR`` names the cache *root* (default ``~/.cache/geoc``; ``~`` is expanded). Each
cache keeps its files in its own versioned subfolder of the root, ``<name>-v<version>``: the
O(3) coefficient tables in ``o3-v1/`` (:mod:`geoc.o3.cache`), the solver's bases in
``solver-v2/`` (:mod:`geoc.solver.cache`). A format change bumps the version, so old entries
are never misread. Files are written to a temporary name in their folder and renamed into place
with :func:`os.replace` (atomic on POSIX and Windows): a concurrent reader never sees half a file.
:func:`write_atomically` is geoc's one atomic file write (``geoc fmt`` and ``--out`` use it too).
"""

from __future__ import annotations

import contextlib
import os
import stat
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


def write_atomically(path: Path | str, data: bytes) -> None:
    """Replace (or create) ``path`` with ``data`` in one step, keeping its mode (new files get
    0o644); the folder must exist. The data goes to a temporary file in the same folder, is
    flushed to disk, then renamed over the target, so a crash leaves the old or the new file,
    never half of one. A symbolic link is followed: the file it points to is replaced."""
    target = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else 0o644
    folder, name = os.path.split(target)
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".geoc-tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
