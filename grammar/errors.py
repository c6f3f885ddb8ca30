"""Turn Lark's parse errors into diagnostics that speak the user's language.

Lark reports terminal names (``RPAR``, ``_NL``); users think in constructs ("a feature type
such as `16 x scalar`"). Three facts decide the wording:

* which tokens could really come next: LALR merges states, so Lark's ``expected`` set holds
  tokens that no input could accept here; :func:`viable_terminals` keeps only those a copy of
  the parser accepts;
* which construct was being written: the innermost opener still on the parser's value stack
  (`(` of a call, `:` of a type, `{` of a body, ...), see :func:`enclosing_constructs`;
* the token just before the failure (a dangling `+`, a `:` with nothing after it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from lark import Token
from lark.exceptions import UnexpectedToken

from geoc.diagnostics import Diagnostic
from geoc.grammar.error_rules import RULES
from geoc.grammar.error_words import STATEMENT_END_HELP, STMT_START
from geoc.grammar.failure import (
    Failure,
    LexerTrail,
    construct_help,
    describe_expected,
    describe_token,
    enclosing_constructs,
    previous_token,
    token_span,
    viable_terminals,
)

if TYPE_CHECKING:
    from geoc.grammar import ast


def syntax_diagnostic(err: UnexpectedToken, text: str, file: str, trail: LexerTrail) -> Diagnostic:
    """The diagnostic for a token the LALR parser cannot accept."""
    state = getattr(err, "state", None)
    tok: Token = err.token
    failure = Failure(
        tok=tok,
        prev=previous_token(trail, tok),
        expected=viable_terminals(err),
        opened=enclosing_constructs(state.value_stack if state is not None else ()),
        span=token_span(file, tok, text),
        file=file,
        text=text,
    )
    for rule in RULES:
        diag = rule(failure, trail)
        if diag is not None:
            return _with_open_bracket_note(diag, trail, tok)
    return _with_open_bracket_note(_generic(failure), trail, tok)


def _generic(f: Failure) -> Diagnostic:
    found = describe_token(f.tok)
    at_eof = f.tok.type == "$END"
    if at_eof:
        help_text = f"the file ends inside the {f.construct.value}; complete it"
    elif "_NL" in f.expected and not f.expected & STMT_START:
        help_text = STATEMENT_END_HELP
    else:
        help_text = construct_help(f)
    return Diagnostic(
        "GEO107" if at_eof else "GEO100",
        f"expected {describe_expected(f.expected, f.construct)}, found {found}",
        f.span,
        label=f"unexpected {found}",
        help=help_text,
    )


def _with_open_bracket_note(diag: Diagnostic, trail: LexerTrail, tok: Token) -> Diagnostic:
    """Point out an enclosing `(` or `[` opened on an earlier line: the usual real cause."""
    opener = next((t for t in reversed(trail.stack) if t.type != "LBRACE"), None)
    if opener is None or tok.line is None or opener.line == tok.line:
        return diag
    if diag.span is not None and (diag.span.line, diag.span.col) == (opener.line, opener.column):
        return diag  # the diagnostic is about that bracket already
    note = f"the `{opener}` opened at {opener.line}:{opener.column} is still open here"
    return replace(diag, notes=(*diag.notes, note))


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
