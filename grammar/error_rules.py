"""The parser's error rules: each recognises one situation and words it; the first that matches
wins (:data:`RULES`, in order)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from lark import Token

from geoc.diagnostics import Diagnostic, Span
from geoc.grammar.error_words import (
    BLOCK_HEADER_HELP,
    CONTINUATIONS,
    EXPR_START,
    HARD_KEYWORDS,
    HEADER_PURPOSE,
    HELP,
    ITEM_START,
    ITEM_WORDS,
    MODEL_HEADER_HELP,
    NAME_FOR,
    OPERATORS,
    PUNCTUATION,
    STATEMENT_END_HELP,
    STATEMENT_WORDS,
    STMT_START,
    TERMINAL_WORDS,
    Construct,
)
from geoc.grammar.failure import (
    Failure,
    LexerTrail,
    alternatives,
    construct_help,
    describe_token,
    eof_or,
    shown,
    span_after,
    token_span,
    where_missing,
)

Rule = Callable[[Failure, LexerTrail], "Diagnostic | None"]


def _item_keyword_in_body(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`model B() {` inside a body that was never closed: the `}` before it is missing."""
    if f.tok.type in ITEM_START:
        keyword = f.tok
    elif f.prev is not None and f.prev.type == "NAME" and str(f.prev) in ITEM_WORDS:
        keyword = f.prev  # read as a name, since a name may start a statement
    else:
        return None
    if not f.within(Construct.BODY) or f.tok.type in ("EQUAL", "COMMA"):
        return None
    brace = next((t for t in reversed(trail.stack) if t.type == "LBRACE"), None)
    if brace is None:
        return None
    if _closed_later(f.text, keyword.start_pos or 0, "{"):
        return Diagnostic(
            "GEO100",
            f"`{keyword}` cannot stand inside a body: it belongs at the top level of the file",
            token_span(f.file, keyword, ""),
            label=f"inside the body opened at {brace.line}:{brace.column}",
            help="move it out of the `{ ... }`, before or after the model",
        )
    return _not_closed(f, brace, "}", keyword, "this body is still open")


def _not_closed(f: Failure, opener: Token, close: str, before: Token, label: str) -> Diagnostic:
    """GEO103 at ``opener``: the ``close`` that matches it is missing before ``before``."""
    return Diagnostic(
        "GEO103",
        f"`{opener}` is not closed before the `{before}` on line {before.line}",
        token_span(f.file, opener, ""),
        label=label,
        help=f"add the missing `{close}` before `{before}` at {before.line}:{before.column}",
    )


_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}()\[\]]')  # strings, comments skipped
_DEPTH_CHANGE = {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}


def _closed_later(text: str, pos: int, opener: str) -> bool:
    """Is the ``opener`` that is innermost open at ``pos`` closed by a bracket after ``pos``?"""
    depth = 0
    for match in _BRACKETS.finditer(text, pos):
        depth += _DEPTH_CHANGE.get(match.group(), 0)
        if depth < 0:
            return match.group() == {"{": "}", "(": ")", "[": "]"}[opener]
    return False


def _unclosed_before_statement(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """A statement keyword inside `(` or `[` opened on an earlier line: the bracket is open."""
    if f.tok.type not in STMT_START | ITEM_START or f.tok.line is None:
        return None
    opener = next((t for t in reversed(trail.stack) if t.type != "LBRACE"), None)
    if opener is None or opener.line == f.tok.line or trail.stack[-1] is not opener:
        return None
    if _closed_later(f.text, f.tok.start_pos or 0, str(opener)):
        return None  # the bracket is closed after all: the keyword is what is out of place
    close = ")" if opener.type == "LPAR" else "]"
    return _not_closed(f, opener, close, f.tok, "this bracket is still open")


def _keyword_as_name(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or prev.type not in HARD_KEYWORDS or f.tok.type not in ("EQUAL", "COMMA"):
        return None
    return Diagnostic(
        "GEO100",
        f"`{prev}` is a keyword and cannot be used as a name here",
        token_span(f.file, prev, ""),
        label="keyword",
        help=f"choose another name, e.g. `{prev}_`",
    )


def _symmetry_factor(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`symmetry` or `x` with no group after it."""
    if not f.within(Construct.SYMMETRY) or f.prev is None or f.prev.type not in ("SYMMETRY", "X"):
        return None
    if f.tok.type == "NAME":
        return None
    return Diagnostic(
        eof_or("GEO100", f.tok),
        f"expected a group after `{f.prev}`, such as `E(3)`, `SO(3)`, `S(nodes)` or `trivial`",
        span_after(f.prev, f.file),
        label="group missing",
        help=HELP[Construct.SYMMETRY],
    )


#: What is missing after `x` and after `over` in a type: the message, the label and the help.
_MISSING_AFTER = {
    "X": (
        "expected a representation after `x`, such as `scalar`, `vector` or `1o`",
        "missing representation",
        "write the atom the multiplicity applies to, e.g. `16 x scalar`",
    ),
    "OVER": (
        "expected an axis name after `over`, such as `nodes`, `edges` or `set`",
        "missing axis",
        "e.g. `16 x scalar over nodes`",
    ),
}


def _incomplete_type(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or prev.type not in ("X", "OVER") or f.tok.type in EXPR_START:
        return None
    if prev.type == "OVER" and f.tok.type == "EQUAL":  # `sum(h over=nodes)`
        return Diagnostic(
            "GEO100",
            "expected `,` before the keyword argument `over=`",
            token_span(f.file, prev, ""),
            label="missing `,` before this?",
            help="separate arguments with commas: `sum(h, over=nodes)`",
        )
    message, label, help_text = _MISSING_AFTER[prev.type]
    return Diagnostic("GEO105", message, span_after(prev, f.file), label=label, help=help_text)


def _expected(
    f: Failure, what: str, span: Span, label: str, help: str, code: str = "GEO100"
) -> Diagnostic:
    """The message "expected ``what``, found <the token at which the parser stopped>"."""
    message = f"expected {what}, found {describe_token(f.tok)}"
    return Diagnostic(code, message, span, label=label, help=help)


#: What `input h:` (after `:`) and `-> ` (after `->`) want: what is expected, and the help.
_TYPE_WANTED = {
    "ARROW": ("a return type after `->`", HELP[Construct.RETURNS]),
    "COLON": (
        "a feature type such as `16 x scalar over nodes`",
        "declare what the value is, e.g. `input h: 16 x scalar over nodes`",
    ),
}


def _missing_type(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`input h:` or `-> {`: a feature type was due."""
    prev = f.prev
    if prev is None or prev.type not in ("COLON", "ARROW") or not f.wants_value:
        return None
    what, help_text = _TYPE_WANTED[prev.type]
    span = span_after(prev, f.file) if f.tok.type in ("_NL", "$END") else f.span
    return _expected(f, what, span, "a type goes here", help_text, "GEO105")


def _dangling_operator(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or not f.wants_value or f.tok.type in EXPR_START:
        return None
    if prev.type in OPERATORS:
        op = OPERATORS[prev.type]
        return Diagnostic(
            "GEO106",
            f"`{op}` has no right-hand operand",
            token_span(f.file, prev, ""),
            label="dangling operator",
            help=f"write the operand after `{op}`, or remove the `{op}`",
        )
    if prev.type == "EQUAL":
        extra = "; `==` is not an operator in .geo" if f.tok.type == "EQUAL" else ""
        help_text = construct_help(f) + extra
        return _expected(
            f, "a value after `=`", span_after(prev, f.file), "missing value", help_text, "GEO106"
        )
    return None


def _missing_separator(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """Two values side by side: a `,`, an operator or a line break is missing between them."""
    if f.tok.type not in EXPR_START and f.tok.type not in STMT_START | ITEM_START:
        return None
    if f.expected & (STMT_START | ITEM_START):
        return None
    if "COMMA" in f.expected and not f.within(Construct.BODY, Construct.TOP):
        closers = [TERMINAL_WORDS[c] for c in ("RPAR", "RSQB") if c in f.expected]
        what = alternatives(["`,`", *closers])
        return _expected(f, what, f.span, "missing `,` before this?", construct_help(f))
    if not f.opened and "$END" in f.expected and f.expected & CONTINUATIONS:  # parse_expr
        what = "an operator or the end of the expression"
        help_text = "join the parts with an operator, e.g. `8 x vector + 4 x scalar over nodes`"
        return _expected(f, what, f.span, "missing operator before this?", help_text)
    if "_NL" not in f.expected:
        return None
    if f.within(Construct.SYMMETRY) and "X" in f.expected:
        label, help_text = "missing `x` before this?", HELP[Construct.SYMMETRY]
    elif f.expected & CONTINUATIONS:
        label, help_text = "missing operator or line break before this?", STATEMENT_END_HELP
    else:
        label, help_text = "missing line break before this?", STATEMENT_END_HELP
    return _expected(f, "end of line", f.span, label, help_text)


def _item_expected(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    if not f.expected & ITEM_START or f.expected & EXPR_START:
        return None
    guess = difflib.get_close_matches(str(f.tok), ITEM_WORDS, n=1, cutoff=0.6)
    if f.tok.type == "NAME" and guess:
        help_text = f"did you mean `{guess[0]}`?"
    else:
        help_text = "declarations and statements go inside `model Name(...) { ... }`"
    what = "`import`, `block` or `model` at the top level"
    return _expected(f, what, f.span, "not allowed here", help_text)


def _name_expected(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`model (`, `input :`, `(:`: a name was due."""
    if "NAME" not in f.expected or f.wants_value or f.tok.type == "NAME":
        return None
    inner = f.inner
    if inner is None or f.prev is None:
        return None
    what = NAME_FOR.get(inner.construct)
    if what is None:
        return None
    what = what.format(owner=inner.owner)
    closers = [TERMINAL_WORDS[p] for p in PUNCTUATION if p in f.expected]
    span = f.span if f.tok.type not in ("_NL", "$END") else span_after(f.prev, f.file)
    header = inner.construct is Construct.HEADER
    help_text = _header_help(inner.owner, []) if header else construct_help(f)
    what = f"{alternatives([what, *closers])} after {shown(f.prev)}"
    return _expected(f, what, span, "a name goes here", help_text, eof_or("GEO100", f.tok))


def _header_punctuation(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`model M {`, `model M() h`, `repeat 3` + newline: the next piece of a header."""
    inner = f.inner
    if inner is None or f.wants_value or "NAME" in f.expected:
        return None
    if inner.construct is Construct.HEADER:
        owner = inner.owner
        wanted = [p for p in ("LPAR", "ARROW", "LBRACE") if p in f.expected]
    elif inner.opener.type in ("REPEAT", "CANONICAL", "ARROW"):  # the count, the return type
        owner = _HEADER_OWNERS[inner.opener.type]
        wanted = ["LBRACE"] if "LBRACE" in f.expected else []
    else:
        return None
    if not wanted:
        return None
    words = alternatives([TERMINAL_WORDS[w] for w in wanted])
    what = f"{words} {HEADER_PURPOSE[owner, wanted[-1]]}"
    label, help_text = f"{words} expected here", _header_help(owner, wanted)
    return _expected(f, what, where_missing(f), label, help_text, eof_or("GEO100", f.tok))


_HEADER_OWNERS = {"REPEAT": "repeat", "CANONICAL": "canonical", "ARROW": "block"}


def _header_help(owner: str, wanted: list[str]) -> str:
    """How the header of a model, block, repeat or canonical reads."""
    if owner == "repeat":
        return HELP[Construct.REPEAT]
    if owner == "canonical":
        return HELP[Construct.CANONICAL]
    if wanted == ["LPAR"]:
        return f"a {owner} lists its parameters in parentheses, even when there are none: " + (
            "`model M() { ... }`" if owner == "model" else "`block f() -> T { ... }`"
        )
    return BLOCK_HEADER_HELP if owner == "block" else MODEL_HEADER_HELP


def _assignment(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """A statement that starts with a name must be `name = ...` or `a, b = ...`."""
    if not f.within(Construct.BODY) or not f.expected <= {"COMMA", "EQUAL"} or f.prev is None:
        return None
    guess = difflib.get_close_matches(str(f.prev), STATEMENT_WORDS, n=1, cutoff=0.7)
    if f.prev.type == "NAME" and guess and f.tok.type == "NAME":
        help_text = f"did you mean `{guess[0]}`?"
    else:
        help_text = "an assignment reads `name = value`, or `a, b = value` for several results"
    what = f"`=` after {shown(f.prev)}"
    return _expected(f, what, where_missing(f), "`=` expected here", help_text)


def _output_value(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    """`output y: scalar` and nothing more: the `= value` part is missing."""
    outer = f.opened[1].construct if len(f.opened) > 1 else None
    if not f.within(Construct.TYPE) or outer is not Construct.OUTPUT:
        return None
    if "EQUAL" not in f.expected or f.wants_value or f.tok.type in EXPR_START:
        return None
    what = "`=` and the output's value after its type"
    return _expected(f, what, where_missing(f), "`= value` missing", HELP[Construct.OUTPUT])


def _repeat_count(f: Failure, trail: LexerTrail) -> Diagnostic | None:
    if f.prev is None or f.prev.type != "REPEAT" or not f.wants_value:
        return None
    what, help_text = "how many times to repeat after `repeat`", HELP[Construct.REPEAT]
    return _expected(f, what, where_missing(f), "count missing", help_text, eof_or("GEO100", f.tok))


RULES: tuple[Rule, ...] = (
    _item_keyword_in_body,
    _unclosed_before_statement,
    _keyword_as_name,
    _symmetry_factor,
    _incomplete_type,
    _missing_type,
    _dangling_operator,
    _header_punctuation,
    _missing_separator,
    _item_expected,
    _name_expected,
    _assignment,
    _output_value,
    _repeat_count,
)
