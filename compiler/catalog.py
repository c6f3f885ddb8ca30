"""The built-in spec library (package ``geoc.specs``) and spec lookup by name or path.

A command-line ``SPEC`` is either a path to a ``.geo`` file or the name of a built-in spec
(``egnn`` or ``egnn.geo``); an existing file wins, so a local ``egnn.geo`` shadows the
built-in one, as a path on the command line should.

>>> [s.name for s in builtin_specs()][:2]
['deepsets', 'egnn']
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar.parser import decode_source, read_source

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SPEC_PACKAGE = "geoc.specs"
SPEC_SUFFIX = ".geo"
BUILTIN_PREFIX = "<builtin>"


@dataclass(frozen=True)
class BuiltinSpec:
    """One shipped spec: its short name, where it lives, and its one-line description."""

    name: str
    resource: Traversable
    description: str

    @property
    def display(self) -> str:
        """The file name diagnostics show: ``<builtin>/egnn.geo``."""
        return f"{BUILTIN_PREFIX}/{self.name}{SPEC_SUFFIX}"

    @property
    def path(self) -> str:
        """A path users can open (the installed file), or ``geoc.specs/NAME.geo`` in a zip."""
        if isinstance(self.resource, Path):
            return str(self.resource)
        return f"{SPEC_PACKAGE}/{self.resource.name}"

    def read_text(self) -> str:
        return decode_source(self.resource.read_bytes(), self.display)


@functools.lru_cache(maxsize=1)
def builtin_specs() -> tuple[BuiltinSpec, ...]:
    """Every ``.geo`` file of ``geoc.specs``, sorted by name."""
    files = resources.files(SPEC_PACKAGE).iterdir()
    specs = (
        BuiltinSpec(f.name[: -len(SPEC_SUFFIX)], f, _description(f))
        for f in files
        if f.name.endswith(SPEC_SUFFIX) and f.is_file()
    )
    return tuple(sorted(specs, key=lambda s: s.name))


def _description(resource: Traversable) -> str:
    """The first comment line, without its ``#``: the spec's one-line description."""
    for line in resource.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.lstrip().startswith("#"):
            return line.lstrip().lstrip("#").strip()
    return ""


def builtin_spec(name: str) -> BuiltinSpec | None:
    """The built-in spec called ``name`` (``egnn`` or ``egnn.geo``), if there is one."""
    stem = name.removesuffix(SPEC_SUFFIX)
    return next((s for s in builtin_specs() if s.name == stem), None)


def resolve_spec(name_or_path: str) -> tuple[str, str]:
    """``(display_name, text)`` of a spec given by path or built-in name.

    Raises :class:`GeoError` (GEO113, listing the built-in names) when it is neither, and the
    reader's diagnostics (GEO110, GEO112, GEO113) when the file exists but cannot be used.
    """
    if os.path.lexists(name_or_path):
        return name_or_path, read_source(name_or_path)
    spec = None if os.sep in name_or_path or "/" in name_or_path else builtin_spec(name_or_path)
    if spec is None:
        raise GeoError(_unknown_spec(name_or_path))
    return spec.display, spec.read_text()


def _unknown_spec(name: str) -> Diagnostic:
    names = [s.name for s in builtin_specs()]
    close = difflib.get_close_matches(name.removesuffix(SPEC_SUFFIX), names, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return Diagnostic(
        "GEO113",
        f"`{name}` is neither a file nor a built-in spec",
        help=f"{hint}built-in specs: {', '.join(names)} (`geoc specs` describes them); "
        "or give the path to a .geo file",
    )


__all__ = ["BuiltinSpec", "builtin_spec", "builtin_specs", "resolve_spec"]
