"""Choices of ``geoc.compile`` that the command line offers too (no torch here)."""

from __future__ import annotations

from geoc.diagnostics import Diagnostic, GeoError

#: ``optimize=``: what runs after the IR is proven (docs/compiled.md).
OPTIMIZE_LEVELS = {
    "none": "the IR as written, run eager",
    "ir": "the IR after the compiler's rewrites, run eager; the default",
    "inductor": "the rewritten IR run through torch.compile, checked against eager once",
}


def check_optimize(level: object) -> str:
    """``level`` if it names an optimisation level, else the GEO506 diagnostic."""
    if isinstance(level, str) and level in OPTIMIZE_LEVELS:
        return level
    choices = ", ".join(f"`{name}` ({what})" for name, what in OPTIMIZE_LEVELS.items())
    raise GeoError(
        Diagnostic(
            "GEO506", f"`optimize={level!r}` is not an optimisation level", help=f"use {choices}"
        )
    )
