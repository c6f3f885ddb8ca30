"""The caret renderer: a diagnostic as rustc prints one, with a source excerpt and carets."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics.codes import CODES

if TYPE_CHECKING:
    from geoc.diagnostics.core import Diagnostic, Span

TAB_WIDTH = 4
DEFAULT_MAX_ERRORS = 20  # the rest of a long list are mostly consequences of the first ones


def render(diag: Diagnostic, sources: Mapping[str, str] | None = None) -> str:
    """Render a diagnostic the way rustc does: header, location, source excerpt, carets, help."""
    out = [f"{diag.severity.value}[{diag.code}]: {diag.message}"]
    span = diag.span
    width = len(str(span.line)) if span else 0
    if span is not None:
        out.append(f"{' ' * width}--> {span}")
        text = (sources or {}).get(span.file)
        if text is not None:
            out.extend(_excerpt(text, span, diag.label))
    gutter = " " * (width + 1)
    out.extend(f"{gutter}= note: {note}" for note in diag.notes)
    if diag.help:
        out.append(f"{gutter}= help: {diag.help}")
    return "\n".join(out) + "\n"


def render_all(
    diags: Sequence[Diagnostic],
    sources: Mapping[str, str] | None,
    max_errors: int | None = DEFAULT_MAX_ERRORS,
    hint: str = "",
) -> str:
    """The first ``max_errors`` of ``diags`` (every one with None or 0), then one line saying
    how many more there are and (``hint``) how to see them."""
    shown = diags[:max_errors] if max_errors else diags
    text = "\n".join(render(d, sources) for d in shown)
    hidden = diags[len(shown) :]
    if not hidden:
        return text
    errors = all(d.severity.value == "error" for d in hidden)
    noun = ("error" if errors else "diagnostic") + ("" if len(hidden) == 1 else "s")
    more = f"... and {len(hidden)} more {noun}" + (f" ({hint})" if hint else "")
    return f"{text}\n{more}\n"


MAX_EXCERPT_WIDTH = 120  # longer source lines are shown as a window around the span


def _excerpt(text: str, span: Span, label: str) -> list[str]:
    raw = source_line(text, span.line)
    if raw is None:
        return []
    end_col = span.end_col if span.end_line == span.line else len(raw) + 1
    first = 0  # a long line is shown as a window of characters around the span
    if len(raw) > MAX_EXCERPT_WIDTH:
        first = max(span.col - 1 - MAX_EXCERPT_WIDTH // 3, 0)
    piece = raw[first : first + MAX_EXCERPT_WIDTH - 2] if len(raw) > MAX_EXCERPT_WIDTH else raw
    prefix = "…" if first else ""
    suffix = "…" if first + len(piece) < len(raw) else ""
    cells = _cells(piece)
    start = _column(cells, span.col - first)
    end = _column(cells, min(end_col - first, len(piece) + 1))
    num = str(span.line)
    pad = " " * len(num)
    caret = " " * (start + len(prefix)) + "^" * max(end - start, 1)
    return [
        f"{pad} |",
        f"{num} | {prefix}{''.join(cells)}{suffix}",
        f"{pad} | {caret}{(' ' + label) if label else ''}",
    ]


def source_line(text: str, line: int) -> str | None:
    """Line ``line`` (1-based) as the lexer counts lines: only ``\n`` ends one."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    end = text.find("\n", start)
    raw = text[start:] if end < 0 else text[start:end]
    return raw[:-1] if raw.endswith("\r") else raw


def _cells(raw: str) -> list[str]:
    """What each source character prints as: tabs to the next stop, wide characters twice as
    wide (padded), control characters as U+FFFD."""
    cells: list[str] = []
    width = 0
    for ch in raw:
        if ch == "\t":
            shown = " " * (TAB_WIDTH - width % TAB_WIDTH)
        elif not ch.isprintable() and ch != " ":
            shown = "\ufffd"
        else:
            shown = ch
        cells.append(shown)
        width += _width(shown)
    return cells


def _width(shown: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in shown)


def _column(cells: list[str], col: int) -> int:
    """The display column (0-based) where source column ``col`` starts."""
    return sum(_width(c) for c in cells[: max(col - 1, 0)])


def explain(code: str) -> str:
    """The long form of a code, for ``geoc explain``."""
    info = CODES[code.upper()]
    return f"{code.upper()}: {info.title}\n\n{textwrap.fill(info.explanation, width=88)}\n"
