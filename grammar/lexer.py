"""The .geo tokenizer: one compiled regex built from the terminals of ``geo.lark``.

The lexer does what a post-lexer would: it keeps comments aside for the formatter, drops
newlines inside ``( )`` and ``[ ]`` (argument lists may span lines), and checks bracket
balance and nesting as it goes. Keywords are lexed as ``NAME``; the parser driver retypes a
name to its keyword only where the LALR state accepts that keyword, which is exactly what a
contextual lexer does (so `x + dx` and `sum(m, over=edges)` read `x` and `over` as names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from geoc.diagnostics import Diagnostic, GeoError, Span
from lark import Token
from lark.lexer import PatternStr, TerminalDef

MAX_NESTING = 64  # brackets inside brackets

OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
CLOSERS = {v: k for k, v in OPENERS.items()}
BRACKET_TEXT = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TokenTable:
    """The scanning regex and the keyword table, derived once from the grammar's terminals."""

    scanner: re.Pattern[str]
    keywords: dict[str, str]  # keyword text -> terminal name
    skipped: frozenset[str]  # whitespace terminals

    @classmethod
    def from_terminals(cls, terminals: Iterable[TerminalDef], ignore: Iterable[str]) -> TokenTable:
        keywords: dict[str, str] = {}
        scanned: list[TerminalDef] = []
        for term in terminals:
            pattern = term.pattern
            if isinstance(pattern, PatternStr) and _NAME_RE.match(pattern.value):
                keywords[pattern.value] = term.name
            else:
                scanned.append(term)
        # Lark's own order: priority first, then the longest literal (so `->` beats `-`).
        scanned.sort(key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value)))
        regex = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in scanned)
        return cls(re.compile(regex), keywords, frozenset(ignore))


@dataclass
class Lexer:
    """Tokenizes one source text; remembers what the error reporter needs afterwards."""

    file: str
    text: str
    table: TokenTable
    stack: list[Token] = field(default_factory=list)  # open brackets
    previous: Token | None = None  # the token handed out before ``last``
    last: Token | None = None
    comments: list[tuple[str, int, int]] = field(default_factory=list)

    def tokens(self) -> Iterator[Token]:
        text, scanner = self.text, self.table.scanner
        pos, line, line_start = 0, 1, 0
        while pos < len(text):
            match = scanner.match(text, pos)
            if match is None or match.end() == pos:
                raise GeoError(self._bad_character(pos, line, pos - line_start + 1))
            kind, value = match.lastgroup or "", match.group()
            col = pos - line_start + 1
            if kind == "_NL":
                tok = Token(kind, value, pos, line, col, line, col + 1, match.end())
                line += value.count("\n")
                line_start = pos + value.rfind("\n") + 1
                pos = match.end()
                if not self.stack or self.stack[-1].type == "LBRACE":
                    yield self._hand_out(tok)
                continue
            pos = match.end()
            if kind == "COMMENT":
                self.comments.append((value, line, col))
                continue
            if kind in self.table.skipped:
                continue
            tok = Token(kind, value, match.start(), line, col, line, col + len(value), pos)
            if kind in BRACKET_TEXT:
                self._track_brackets(tok)
            self.previous, self.last = self.last, tok
            yield tok
        if self.stack:
            raise GeoError(self._unclosed(self.stack[-1]))

    def _hand_out(self, tok: Token) -> Token:
        self.previous, self.last = self.last, tok
        return tok

    @property
    def recent(self) -> list[Token]:
        """The last two tokens handed out, oldest first."""
        return [t for t in (self.previous, self.last) if t is not None]

    def _span(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def _track_brackets(self, tok: Token) -> None:
        if tok.type in OPENERS:
            self.stack.append(tok)
            if len(self.stack) > MAX_NESTING:
                raise GeoError(
                    Diagnostic(
                        "GEO108",
                        f"brackets nested more than {MAX_NESTING} deep",
                        self._span(tok),
                        label="too deep",
                        help="bind inner expressions to names with `name = ...`",
                    )
                )
        elif tok.type in CLOSERS:
            if not self.stack or self.stack[-1].type != CLOSERS[tok.type]:
                raise GeoError(self._unmatched(tok))
            self.stack.pop()

    def _unclosed(self, opener: Token) -> Diagnostic:
        close = BRACKET_TEXT[OPENERS[opener.type]]
        return Diagnostic(
            "GEO103",
            f"`{opener}` is never closed",
            self._span(opener),
            label="opened here",
            help=f"add the matching `{close}`",
        )

    def _unmatched(self, closer: Token) -> Diagnostic:
        if not self.stack:
            return Diagnostic(
                "GEO104",
                f"`{closer}` closes nothing",
                self._span(closer),
                label="unmatched",
                help=f"remove it, or add the opening `{BRACKET_TEXT[CLOSERS[closer.type]]}`",
            )
        opener = self.stack[-1]
        expected = BRACKET_TEXT[OPENERS[opener.type]]
        return Diagnostic(
            "GEO104",
            f"`{closer}` does not match the `{opener}` opened at {opener.line}:{opener.column}",
            self._span(closer),
            label=f"expected `{expected}`",
            help=f"close the `{opener}` with `{expected}` first",
        )

    def _bad_character(self, pos: int, line: int, col: int) -> Diagnostic:
        from geoc.grammar.errors import bad_character

        return bad_character(self.text, pos, Span.point(self.file, line, col))
