"""Writing the examples' outputs: atomically, so that a reader (or a run killed half-way) never
sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """``write`` to a temporary file next to ``path``, then rename it to ``path``. The temporary
    keeps the suffix (``savefig`` picks the format by it) and a unique name (two writers of one
    path do not share it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp's file is private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """``text`` into ``path``, atomically."""
    return write_atomic(path, lambda partial: partial.write_text(text, encoding="utf-8"))
