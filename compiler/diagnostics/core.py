"""The core of a diagnostic: where it is (:class:`Span`), what it says (:class:`Diagnostic`), and
the exception that carries it (:class:`GeoError`).

This package imports nothing else from geoc, so every room (the grammar included) can use it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from geoc.diagnostics.codes import CODES
from geoc.diagnostics.render import DEFAULT_MAX_ERRORS, render_all


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, ``end_col`` exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def point(cls, file: str, line: int, col: int) -> Span:
        """A one-character span at ``line:col``."""
        return cls(file, line, col, line, col + 1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: a code, a message, where it is, and how to fix it."""

    code: str
    message: str
    span: Span | None = None
    label: str = ""
    help: str = ""
    notes: tuple[str, ...] = ()
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        assert self.code in CODES, f"unregistered diagnostic code {self.code}"


class GeoError(Exception):
    """Raised with one or more diagnostics; ``sources`` maps file names to their text.

    The diagnostics are kept in source order (file, line, column; those without a span last,
    in the order given), each once."""

    def __init__(
        self,
        diagnostics: Diagnostic | Iterable[Diagnostic],
        sources: Mapping[str, str] | None = None,
    ) -> None:
        diags = (diagnostics,) if isinstance(diagnostics, Diagnostic) else tuple(diagnostics)
        assert diags, "GeoError needs at least one diagnostic"
        self.diagnostics: tuple[Diagnostic, ...] = tuple(
            sorted(dict.fromkeys(diags), key=source_order)
        )
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def render(self, max_errors: int | None = DEFAULT_MAX_ERRORS, hint: str = "") -> str:
        """The first ``max_errors`` diagnostics (all with None or 0), then a line counting
        the rest, with ``hint`` on how to see them (default: where they are in Python)."""
        return render_all(
            self.diagnostics, self.sources, max_errors, hint or "all are in `.diagnostics`"
        )


def source_order(diag: Diagnostic) -> tuple[int, str, int, int]:
    """The sort key of source order: file, line, column; diagnostics without a span last."""
    span = diag.span
    return (0, span.file, span.line, span.col) if span else (1, "", 0, 0)
