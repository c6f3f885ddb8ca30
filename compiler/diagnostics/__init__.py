"""Diagnostics: stable codes, source spans, and the caret renderer."""

from geoc.diagnostics.codes import (
    CODES,
    MAX_EXCERPT_WIDTH,
    TAB_WIDTH,
    CodeInfo,
    Diagnostic,
    GeoError,
    Severity,
    Span,
    all_codes,
    explain,
    render,
    source_line,
)

__all__ = [
    "CODES",
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
    "source_line",
]
