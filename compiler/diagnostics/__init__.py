"""Diagnostics: stable codes, source spans, and the caret renderer.

Every problem a user can cause is a :class:`Diagnostic` with a stable code from :data:`CODES`
(``codes.py``, the table). Diagnostics travel inside a :class:`GeoError` (``core.py``); the CLI
renders them with :func:`render` (``render.py``) and exits 1.

This package imports nothing else from geoc, so every room (the grammar included) can use it.
"""

from geoc.diagnostics.codes import CODES, CodeInfo, all_codes
from geoc.diagnostics.core import Diagnostic, GeoError, Severity, Span, source_order
from geoc.diagnostics.render import (
    DEFAULT_MAX_ERRORS,
    MAX_EXCERPT_WIDTH,
    TAB_WIDTH,
    explain,
    render,
    render_all,
    source_line,
)

__all__ = [
    "CODES",
    "DEFAULT_MAX_ERRORS",
    "MAX_EXCERPT_WIDTH",
    "TAB_WIDTH",
    "CodeInfo",
    "Diagnostic",
    "GeoError",
    "Severity",
    "Span",
    "all_codes",
    "explain",
    "render",
    "render_all",
    "source_line",
    "source_order",
]
