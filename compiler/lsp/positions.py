"""Positions between geoc and LSP.

geoc's :class:`~geoc.diagnostics.Span` counts 1-based lines split at ``\\n`` only (as the lexer
does) and 1-based columns in code points, the end column exclusive. LSP counts 0-based lines
and 0-based characters in UTF-16 code units (the protocol's default encoding), so a character
outside the Basic Multilingual Plane is two LSP characters but one geoc column, and a tab is
one of each. A leading byte order mark is dropped by the parser before it counts columns, but
an editor keeps it in the text it sends: it shifts line 1 by one unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoc.diagnostics import Span

BOM = "\ufeff"


@dataclass(frozen=True)
class Lines:
    """A document's text cut into lines the way the lexer cuts it."""

    lines: tuple[str, ...]
    bom: bool = False

    @classmethod
    def of(cls, text: str) -> Lines:
        bom = text.startswith(BOM)
        return cls(tuple((text[1:] if bom else text).split("\n")), bom)

    def line(self, index: int) -> str:
        """Line ``index`` (0-based) without its end; "" past the last."""
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def _shift(self, line: int) -> int:
        return 1 if self.bom and line == 0 else 0

    def to_lsp(self, line: int, col: int) -> dict[str, int]:
        """The LSP position of geoc's 1-based ``line``:``col`` (clamped into the document)."""
        index = min(max(line - 1, 0), len(self.lines) - 1)
        text = self.line(index)
        if line - 1 > index:  # past the end: the end of the last line
            col = len(text) + 1
        before = text[: max(col - 1, 0)]
        return {"line": index, "character": utf16_length(before) + self._shift(index)}

    def range(self, span: Span | None) -> dict[str, dict[str, int]]:
        """The LSP range of ``span`` (the document's first character when there is none)."""
        if span is None:
            start = {"line": 0, "character": 0}
            return {"start": start, "end": start}
        return {
            "start": self.to_lsp(span.line, span.col),
            "end": self.to_lsp(span.end_line, span.end_col),
        }

    def to_geoc(self, position: dict[str, int]) -> tuple[int, int]:
        """geoc's 1-based (line, column) of an LSP position; a position inside a surrogate pair
        or past the end of its line is moved to the nearest character boundary."""
        index = int(position["line"])
        units = int(position["character"]) - self._shift(index)
        text = self.line(index)
        col, seen = 0, 0
        while col < len(text) and seen + utf16_length(text[col]) <= units:
            seen += utf16_length(text[col])
            col += 1
        return index + 1, col + 1

    def offset(self, position: dict[str, int]) -> int:
        """The index in the document's text (the BOM included) of an LSP position; the end of
        the text for a position past the last line."""
        if int(position["line"]) >= len(self.lines):
            return sum(len(line) + 1 for line in self.lines) - 1 + self.bom
        line, col = self.to_geoc(position)
        return sum(len(text) + 1 for text in self.lines[: line - 1]) + col - 1 + self.bom

    def end(self) -> dict[str, int]:
        """The LSP position just past the last character."""
        last = len(self.lines) - 1
        return {"line": last, "character": utf16_length(self.lines[last]) + self._shift(last)}


def utf16_length(text: str) -> int:
    """How many UTF-16 code units ``text`` takes: two for a code point above U+FFFF."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def contains(span: Span, line: int, col: int) -> bool:
    """Whether geoc's 1-based ``line``:``col`` lies in ``span`` (its end included, so a cursor
    just after a name still points at it)."""
    after_start = (line, col) >= (span.line, span.col)
    return after_start and (line, col) <= (span.end_line, span.end_col)
