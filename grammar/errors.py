"""Turn Lark's parse errors into diagnostics that speak the user's language.

Lark reports terminal names (``RPAR``, ``_NL``); users think in constructs ("a feature type
such as `16 x scalar`"). The tables below translate one into the other; the token just before
the failure decides which construct was being written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from geoc.diagnostics import Diagnostic, Span
from lark import Token
from lark.exceptions import UnexpectedToken

if TYPE_CHECKING:
    from geoc.grammar import ast


class _LexerTrail(Protocol):
    """What the post-lexer remembers: open brackets and the last tokens read."""

    stack: list[Token]
    recent: list[Token]


# How a terminal reads in a message ("expected `)`", "found end of line").
TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "IRREP": "an irrep such as `1o`",
    "MUL_IRREP": "irreps such as `16x0e`",
    "STRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "SEMICOLON": "`;`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "ARROW": "`->`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "X": "`x`",
    "OVER": "`over`",
}
KEYWORDS = {
    "IMPORT", "BLOCK", "MODEL", "SYMMETRY", "DOMAIN", "INPUT", "OUTPUT", "REPEAT", "RETURN",
    "TRUE", "FALSE", "OVER", "X",
}  # fmt: skip
HARD_KEYWORDS = KEYWORDS - {"X", "OVER", "TRUE", "FALSE"}
EXPR_START = {"NAME", "INT", "FLOAT", "IRREP", "MUL_IRREP", "STRING", "TRUE", "FALSE", "LSQB"}
STMT_START = {"SYMMETRY", "DOMAIN", "INPUT", "OUTPUT", "REPEAT", "RETURN"}
ITEM_START = {"IMPORT", "BLOCK", "MODEL"}
OPERATORS = {"PLUS": "+", "MINUS": "-", "STAR": "*"}


def describe_token(tok: Token) -> str:
    """How the offending token reads: "name `foo`", "`)`", "end of file"."""
    if tok.type == "NAME":
        return f"name `{tok}`"
    if tok.type in ("INT", "FLOAT"):
        return f"number `{tok}`"
    if tok.type in HARD_KEYWORDS:
        return f"keyword `{tok}`"
    if tok.type in KEYWORDS:
        return f"`{tok}`"
    if tok.type == "STRING":
        return "a string"
    return TERMINAL_WORDS.get(tok.type, f"`{tok}`")


def describe_expected(expected: set[str]) -> str:
    """The alternatives as a phrase: "`,` or `)`", "a statement", "an expression"."""
    phrases: list[str] = []
    if expected & ITEM_START and not expected & EXPR_START:
        phrases.append("`import`, `block` or `model`")
    elif expected & STMT_START:
        phrases.append("a statement (`input`, `output`, `name = ...`, `repeat`, ...)")
    elif expected & EXPR_START:
        phrases.append("an expression")
    skip = EXPR_START | STMT_START | ITEM_START | {"$END", "_NL", "SEMICOLON", "MINUS"}
    if "LPAR" in expected and expected & EXPR_START:
        skip |= {"LPAR"}
    for name in sorted(expected - skip, key=_terminal_order):
        phrases.append(TERMINAL_WORDS.get(name, f"`{name.lower()}`"))
    if "_NL" in expected and not phrases:
        phrases.append("end of line")
    if not phrases:
        return "something else"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _terminal_order(name: str) -> tuple[int, str]:
    order = ["COMMA", "RPAR", "RSQB", "RBRACE", "EQUAL", "COLON"]
    return (order.index(name) if name in order else len(order), name)


def syntax_diagnostic(err: UnexpectedToken, text: str, file: str, trail: _LexerTrail) -> Diagnostic:
    """The diagnostic for a token the LALR parser cannot accept."""
    return _unexpected_token(err, text, file, trail)


def bad_character(text: str, pos: int, span: Span) -> Diagnostic:
    """The diagnostic for text where no token starts."""
    char = text[pos]
    if char == '"':
        line_end = text.find("\n", pos)
        width = len(text[pos : len(text) if line_end < 0 else line_end].rstrip("\r"))
        return Diagnostic(
            "GEO102",
            "unterminated string",
            Span(span.file, span.line, span.col, span.line, span.col + max(width, 1)),
            label='this string has no closing `"`',
            help='close it with `"` on the same line (strings cannot span lines)',
        )
    shown = f"`{char}`" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
    return Diagnostic(
        "GEO101",
        f"unexpected character {shown}",
        span,
        label="not part of the .geo language",
        help=_character_help(char),
    )


def _character_help(char: str) -> str:
    if char == "\ufeff":
        return "remove the byte order mark: it may only stand at the very start of a file"
    if char in "'`":
        return 'strings use double quotes: "like this"'
    if char == "/":
        return "comments start with `#`; `/` is not an operator in .geo"
    if not char.isprintable():
        return "the file contains a control character; is it a binary file?"
    return "remove it, or check for a typo"


def _unexpected_token(err: UnexpectedToken, text: str, file: str, trail: _LexerTrail) -> Diagnostic:
    tok: Token = err.token
    expected = set(err.expected) - {"COMMENT"}
    prev = _previous(trail, tok)
    span = _token_span(file, tok, text)
    for rule in _RULES:
        diag = rule(tok, prev, expected, span, file)
        if diag is not None:
            return _with_open_bracket_note(diag, trail, tok)
    found = describe_token(tok)
    return _with_open_bracket_note(
        Diagnostic(
            "GEO107" if tok.type == "$END" else "GEO100",
            f"expected {describe_expected(expected)}, found {found}",
            span,
            label=f"unexpected {found}",
            help=_generic_help(tok, expected),
        ),
        trail,
        tok,
    )


def _previous(trail: _LexerTrail, tok: Token) -> Token | None:
    recent = [t for t in trail.recent if t is not tok]
    return recent[-1] if recent else None


def _token_span(file: str, tok: Token, text: str) -> Span:
    if tok.type == "$END" or tok.line is None:
        lines = text.rstrip("\n").split("\n") if text.strip() else [""]
        last = lines[-1].rstrip("\r")
        return Span(file, len(lines), len(last) + 1, len(lines), len(last) + 2)
    end_line = tok.end_line or tok.line
    end_col = tok.end_column or (tok.column + max(len(tok), 1))
    if tok.type == "_NL":  # point just past the end of the line, not at the next line
        return Span(file, tok.line, tok.column, tok.line, tok.column + 1)
    return Span(file, tok.line, tok.column, end_line, end_col)


def _incomplete_type(tok, prev, expected, span, file) -> Diagnostic | None:
    if prev is None or prev.type not in ("X", "OVER") or tok.type in EXPR_START:
        return None
    if prev.type == "X":
        return Diagnostic(
            "GEO105",
            "expected a representation after `x`, such as `scalar`, `vector` or `1o`",
            _after(prev, file),
            label="missing representation",
            help="write the atom the multiplicity applies to, e.g. `16 x scalar`",
        )
    return Diagnostic(
        "GEO105",
        "expected an axis name after `over`, such as `nodes`, `edges` or `set`",
        _after(prev, file),
        label="missing axis",
        help="e.g. `16 x scalar over nodes`",
    )


def _missing_type(tok, prev, expected, span, file) -> Diagnostic | None:
    if prev is None or prev.type != "COLON" or not expected & EXPR_START:
        return None
    return Diagnostic(
        "GEO105",
        f"expected a feature type such as `16 x scalar over nodes`, found {describe_token(tok)}",
        span,
        label="a type goes here",
        help="declare what the value is, e.g. `input h: 16 x scalar over nodes`",
    )


def _dangling_operator(tok, prev, expected, span, file) -> Diagnostic | None:
    if prev is None or not expected & EXPR_START or tok.type in EXPR_START:
        return None
    if prev.type in OPERATORS:
        op = OPERATORS[prev.type]
        return Diagnostic(
            "GEO106",
            f"`{op}` has no right-hand operand",
            _token_span(file, prev, ""),
            label="dangling operator",
            help=f"write the operand after `{op}`, or remove the `{op}`",
        )
    if prev.type == "EQUAL":
        return Diagnostic(
            "GEO106",
            f"expected a value after `=`, found {describe_token(tok)}",
            _after(prev, file),
            label="missing value",
            help="write the expression to bind, e.g. `h = linear(x, 16 x scalar)`",
        )
    return None


def _missing_comma(tok, prev, expected, span, file) -> Diagnostic | None:
    if tok.type not in EXPR_START or "COMMA" not in expected:
        return None
    closer = "`)`" if "RPAR" in expected else "`]`" if "RSQB" in expected else None
    if closer is None:
        return None
    return Diagnostic(
        "GEO100",
        f"expected `,` or {closer}, found {describe_token(tok)}",
        span,
        label="missing `,` before this?",
        help="separate arguments and list items with commas",
    )


def _item_expected(tok, prev, expected, span, file) -> Diagnostic | None:
    if not expected & ITEM_START or expected & EXPR_START:
        return None
    return Diagnostic(
        "GEO100",
        f"expected `import`, `block` or `model` at the top level, found {describe_token(tok)}",
        span,
        label="not allowed here",
        help="declarations and statements go inside `model NAME(...) { ... }`",
    )


def _keyword_as_name(tok, prev, expected, span, file) -> Diagnostic | None:
    if prev is None or prev.type not in HARD_KEYWORDS or tok.type not in ("EQUAL", "COMMA"):
        return None
    return Diagnostic(
        "GEO100",
        f"`{prev}` is a keyword and cannot be used as a name here",
        _token_span(file, prev, ""),
        label="keyword",
        help=f"choose another name, e.g. `{prev}_`",
    )


_RULES = (
    _keyword_as_name,
    _incomplete_type,
    _missing_type,
    _dangling_operator,
    _missing_comma,
    _item_expected,
)


def _after(tok: Token, file: str) -> Span:
    """A one-column span just after ``tok``, where the missing piece belongs."""
    line = tok.end_line or tok.line or 1
    col = tok.end_column or (tok.column or 1) + len(tok)
    return Span(file, line, col, line, col + 1)


def _generic_help(tok: Token, expected: set[str]) -> str:
    if tok.type in KEYWORDS and "NAME" in expected:
        return f"`{tok}` is a keyword here; choose another name"
    if tok.type == "$END":
        return "the file ends in the middle of a construct; complete it"
    if tok.type == "_NL" and "RPAR" in expected:
        return "close the bracket before the end of the line"
    if "_NL" in expected and "SEMICOLON" in expected:
        return "put one statement per line (or separate statements with `;`)"
    return "check the syntax against docs/language.md"


def _with_open_bracket_note(diag: Diagnostic, trail: _LexerTrail, tok: Token) -> Diagnostic:
    """Point out an enclosing `(` or `[` opened on an earlier line: the usual real cause."""
    opener = next((t for t in reversed(trail.stack) if t.type != "LBRACE"), None)
    if opener is None or tok.line is None or opener.line == tok.line:
        return diag
    note = f"the `{opener}` opened at {opener.line}:{opener.column} is still open here"
    return Diagnostic(
        diag.code, diag.message, diag.span, diag.label, diag.help, (*diag.notes, note)
    )


def call_argument_order(args: tuple[ast.Expr | ast.Keyword, ...]) -> Diagnostic | None:
    """Python's rules for call arguments: positional first, each keyword once."""
    from geoc.grammar import ast

    seen: dict[str, ast.Keyword] = {}
    for arg in args:
        if isinstance(arg, ast.Keyword):
            if arg.name.id in seen:
                return Diagnostic(
                    "GEO114",
                    f"keyword argument `{arg.name.id}` given twice",
                    arg.name.span,
                    label="repeated",
                    help="give each keyword argument once",
                )
            seen[arg.name.id] = arg
        elif seen:
            return Diagnostic(
                "GEO115",
                "positional argument follows a keyword argument",
                arg.span,
                label="positional",
                help="move positional arguments before `name=value` arguments",
            )
    return None
