"""Parse .geo text into the AST, turning every failure into a coded diagnostic.

The grammar (``geo.lark``) gives the LALR tables and the terminals; :mod:`geoc.grammar.lexer`
tokenizes with a regex built from those terminals and the driver below feeds the LALR parser,
which builds the AST as it reduces (:mod:`geoc.grammar.build`).

>>> module = parse("model M() { symmetry trivial }")
>>> module.models[0].name.id
'M'
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedToken

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.grammar import ast
from geoc.grammar.build import AstBuilder, parsing
from geoc.grammar.errors import syntax_diagnostic
from geoc.grammar.lexer import Lexer, TokenTable
from geoc.grammar.structure import check_structure

MAX_SOURCE_BYTES = 8 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def _grammar_text() -> str:
    return resources.files("geoc.grammar").joinpath("geo.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    """The LALR tables and AST callbacks, built once per process."""
    return Lark(
        _grammar_text(),
        parser="lalr",
        lexer="basic",
        maybe_placeholders=True,
        transformer=AstBuilder(),
        start=["start", "expr"],
    )


@functools.lru_cache(maxsize=1)
def _token_table() -> TokenTable:
    lark = _lark()
    return TokenTable.from_terminals(lark.terminals, lark.ignore_tokens)


def _run_parser(lexer: Lexer, start: str = "start") -> object:
    """Feed the lexer's tokens to the LALR parser; keywords count only where they fit."""
    state = _lark().parse_interactive("", start=start).parser_state
    actions = state.parse_conf.parse_table.states
    keywords = _token_table().keywords
    last: Token | None = None
    with parsing(lexer.file):
        for tok in lexer.tokens():
            if tok.type == "NAME" and tok.value in keywords:
                keyword = keywords[tok.value]
                if keyword in actions[state.position] or "NAME" not in actions[state.position]:
                    tok.type = keyword
            state.feed_token(tok)
            last = tok
        end = Token.new_borrow_pos("$END", "", last) if last else Token("$END", "", 0, 1, 1)
        lexer.previous, lexer.last = lexer.last, end
        return state.feed_token(end, True)


def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse .geo source text; raises :class:`GeoError` with coded diagnostics."""
    text = _check_text(text, file)
    lexer = Lexer(file, text, _token_table())
    try:
        items = _run_parser(lexer)
    except GeoError as err:
        raise GeoError(err.diagnostics, {file: text}) from None
    except UnexpectedToken as err:
        raise GeoError(syntax_diagnostic(err, text, file, lexer), {file: text}) from None
    if not items:
        raise GeoError(_empty(file), {file: text})
    lines = text.split("\n")
    span = Span(file, 1, 1, len(lines), len(lines[-1]) + 1)
    comments = tuple(ast.Comment(*c) for c in lexer.comments)
    module = ast.Module(items=items, span=span, comments=comments)
    check_structure(module, text)
    return module


def parse_expr(text: str, file: str = "<expr>") -> ast.Expr:
    """Parse one expression, e.g. a feature type: ``parse_expr("16 x scalar over nodes")``."""
    if not text.strip():
        raise GeoError(Diagnostic("GEO111", "empty expression", help="write a value or a type"))
    text = _check_text(text.strip(), file)
    lexer = Lexer(file, text, _token_table())
    try:
        return _run_parser(lexer, start="expr")  # type: ignore[return-value]
    except GeoError as err:
        raise GeoError(err.diagnostics, {file: text}) from None
    except UnexpectedToken as err:
        raise GeoError(syntax_diagnostic(err, text, file, lexer), {file: text}) from None


def parse_file(path: str | Path) -> ast.Module:
    """Read and parse a spec file (see :func:`read_source` for the checks on the bytes)."""
    return parse(read_source(path), str(path))


def read_source(path: str | Path) -> str:
    """Read a spec as UTF-8 text, with diagnostics for unreadable, huge or binary files."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise GeoError(
            Diagnostic(
                "GEO113",
                f"cannot read `{name}`: {reason}",
                help="give a path to a .geo file, or a built-in spec name from `geoc specs`",
            )
        ) from None
    return decode_source(data, name)


def decode_source(data: bytes, file: str) -> str:
    """Decode UTF-8 bytes, pointing at the first invalid byte if there is one."""
    if len(data) > MAX_SOURCE_BYTES:
        raise GeoError(_too_large(file, f"{MAX_SOURCE_BYTES // (1024 * 1024)} MiB"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise GeoError(
            Diagnostic(
                "GEO110",
                f"`{file}` is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
                Span.point(file, line, col),
                label="not UTF-8",
                help="save the file as UTF-8 text",
            ),
            {file: data.decode("utf-8", errors="replace")},
        ) from None


def _check_text(text: str, file: str) -> str:
    if len(text) > MAX_SOURCE_BYTES:
        raise GeoError(_too_large(file, f"{MAX_SOURCE_BYTES} characters"))
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark: harmless, as in Python
        text = text[1:]
    if not text.strip():
        raise GeoError(_empty(file), {file: text})
    return text


def _too_large(file: str, limit: str) -> Diagnostic:
    return Diagnostic(
        "GEO112",
        f"`{file}` is larger than {limit}",
        help="split the spec into several files joined by `import`",
    )


def _empty(file: str) -> Diagnostic:
    return Diagnostic(
        "GEO111",
        f"`{file}` contains no `import`, `block` or `model`",
        help="a spec needs at least one `model Name() { ... }`",
    )


__all__ = [
    "MAX_SOURCE_BYTES",
    "decode_source",
    "parse",
    "parse_expr",
    "parse_file",
    "read_source",
]
