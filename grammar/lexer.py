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

from lark import Token
from lark.lexer import PatternStr, TerminalDef

from geoc.diagnostics import Diagnostic, GeoError, Span

MAX_NESTING = 64  # brackets inside brackets
KEPT_COMMENT = "COMMENT"  # ignored by the grammar, but kept aside for the formatter

OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
CLOSERS = {v: k for k, v in OPENERS.items()}
BRACKET_TEXT = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TokenTable:
    """The scanning regex and the keyword table, derived once from the grammar's terminals."""

    scanner: re.Pattern[str]  # leading blanks, then one token in the group named by its type
    blanks: re.Pattern[str]  # the ignored whitespace alone
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
        skipped = frozenset(ignore) - {KEPT_COMMENT}
        blank = "|".join(t.pattern.to_regexp() for t in scanned if t.name in skipped) or "(?!)"
        tokens = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in scanned)
        # Eating blanks in the same match halves the regex calls; blank terminals stay among
        # the alternatives so trailing blanks still match (by backtracking) at the end.
        scanner = re.compile(f"(?:{blank})*(?:{tokens})")
        return cls(scanner, re.compile(f"(?:{blank})*"), keywords, skipped)


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
        """The tokens the parser sees; the first lexical problem raises :class:`GeoError`."""
        text, match_at, skipped = self.text, self.table.scanner.match, self.table.skipped
        pos, line, line_start, size = 0, 1, 0, len(text)
        while pos < size:
            match = match_at(text, pos)
            if match is None:
                bad = self.table.blanks.match(text, pos).end()
                raise GeoError(self._bad_character(bad, line, bad - line_start + 1))
            kind = match.lastgroup or ""
            start, pos = match.start(kind), match.end()
            value = text[start:pos]
            col = start - line_start + 1
            if kind == "_NL":
                tok = Token(kind, value, start, line, col, line, col + 1, pos)
                line += value.count("\n")
                line_start = start + value.rfind("\n") + 1
                if not self.stack or self.stack[-1].type == "LBRACE":
                    self.previous, self.last = self.last, tok
                    yield tok
                continue
            if kind == KEPT_COMMENT:
                self.comments.append((value, line, col))
                continue
            if kind in skipped:
                continue
            tok = Token(kind, value, start, line, col, line, col + len(value), pos)
            if kind in BRACKET_TEXT:
                self._track_brackets(tok)
            self.previous, self.last = self.last, tok
            yield tok
        if self.stack:
            raise GeoError(self._unclosed(self.stack[-1]))

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
        last = self.last.line if self.last is not None else opener.line
        where = "on the same line" if last == opener.line else f"at line {last}"
        return Diagnostic(
            "GEO103",
            f"`{opener}` is never closed",
            self._span(opener),
            label="opened here",
            notes=(f"the file ends {where} with this `{opener}` still open",),
            help=f"add the matching `{close}` where the construct ends",
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
        return bad_character(self.text, pos, Span.point(self.file, line, col))


# ---------------------------------------------------------------------------------------------
# Text where no token starts


def bad_character(text: str, pos: int, span: Span) -> Diagnostic:
    """The diagnostic for text where no token starts (``span`` is that one character)."""
    char = text[pos]
    if char == '"':
        return _unterminated_string(text, pos, span)
    number = _malformed_number(text, pos)
    if number is not None:
        start, end = number
        return Diagnostic(
            "GEO101",
            f"malformed number `{text[start:end]}`",
            Span(span.file, span.line, span.col - (pos - start), span.line, span.col + end - pos),
            label="not a number",
            help="a number has at most one `.`, e.g. `1.5` or `2e-3`",
        )
    shown = f"`{char}`" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
    if char.isalpha():  # ASCII letters always start a token: this one is not ASCII
        return Diagnostic(
            "GEO101",
            f"names are ASCII, but this one contains {shown}",
            span,
            label="not an ASCII letter",
            help="use ASCII letters, digits and `_` in names",
        )
    return Diagnostic(
        "GEO101",
        f"unexpected character {shown}",
        span,
        label="not part of the .geo language",
        help=_character_help(char),
    )


def _unterminated_string(text: str, pos: int, span: Span) -> Diagnostic:
    line_end = text.find("\n", pos)
    width = len(text[pos : len(text) if line_end < 0 else line_end].rstrip("\r"))
    return Diagnostic(
        "GEO102",
        "unterminated string",
        Span(span.file, span.line, span.col, span.line, span.col + max(width, 1)),
        label='this string has no closing `"`',
        help='close it with `"` on the same line (strings cannot span lines)',
    )


def _malformed_number(text: str, pos: int) -> tuple[int, int] | None:
    """The extent of `1.2.3` or `1.5.` when the bad character is a `.` inside a number."""
    if text[pos] != "." or not (pos and text[pos - 1].isdigit()):
        return None
    start = pos
    while start and (text[start - 1].isalnum() or text[start - 1] in "._"):
        start -= 1
    end = pos + 1
    while end < len(text) and (text[end].isalnum() or text[end] in "._"):
        end += 1
    return start, end


# Characters users type by habit or paste from elsewhere, and what .geo writes instead.
_CHARACTER_HELP: dict[str, str] = {
    "'": 'strings use double quotes: "like this"',
    "`": 'strings use double quotes: "like this"',
    "/": "comments start with `#`; `/` is not an operator in .geo",
    ".": "`.` only appears inside numbers such as `1.5`; .geo has no attribute access",
    "\\": "a backslash only appears inside strings",
    ">": "the only arrow is `->`, before a block's return type",
    "\ufeff": "remove the byte order mark: it may only stand at the very start of a file",
    "\r": "the file has a bare carriage return (old Mac line ending); save it with \\n endings",
    "\u00d7": "write the multiplicity operator as the letter `x`: `16 x scalar`",
    "\u2212": "write minus as the ASCII `-`",
    "\u2013": "write minus as the ASCII `-`",
    "\u201c": 'use the ASCII double quote `"`',
    "\u201d": 'use the ASCII double quote `"`',
    "\u2192": "write the arrow as `->`",
    "\u00a0": "replace the non-breaking space with a plain space",
}


def _character_help(char: str) -> str:
    if char in _CHARACTER_HELP:
        return _CHARACTER_HELP[char]
    if not char.isprintable():
        return "the file contains a control character; is it a binary file?"
    return "remove it, or check for a typo"
