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

import difflib
import enum
import re
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from lark import Token
from lark.exceptions import UnexpectedToken

from geoc.diagnostics import Diagnostic, Span

if TYPE_CHECKING:
    from geoc.grammar import ast


class _LexerTrail(Protocol):
    """What the lexer remembers: open brackets and the last tokens read."""

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
TERMINAL_WORDS.update({k: f"`{k.lower()}`" for k in KEYWORDS - TERMINAL_WORDS.keys()})
HARD_KEYWORDS = KEYWORDS - {"X", "OVER", "TRUE", "FALSE"}
# Tokens that can start a value; LPAR and MINUS also continue one, so they are not listed.
EXPR_START = {"NAME", "INT", "FLOAT", "IRREP", "MUL_IRREP", "STRING", "TRUE", "FALSE", "LSQB"}
# Of those, the ones that can only start a value: where they may come, a value was due.
VALUE_ONLY_START = EXPR_START - {"NAME", "LSQB"}
STMT_START = {"SYMMETRY", "DOMAIN", "INPUT", "OUTPUT", "REPEAT", "RETURN"}
ITEM_START = {"IMPORT", "BLOCK", "MODEL"}
ITEM_WORDS = ("import", "block", "model")
OPERATORS = {"PLUS": "+", "MINUS": "-", "STAR": "*"}
# Punctuation worth naming in "expected ..." lists, in the order it is named.
PUNCTUATION = ("COMMA", "RPAR", "RSQB", "RBRACE", "EQUAL", "COLON", "LPAR", "LBRACE", "ARROW")
CLOSERS = {"RPAR", "RSQB", "RBRACE"}
CONTINUATIONS = {"PLUS", "MINUS", "STAR", "X", "OVER", "LSQB"}  # what may follow a value
OPENERS = {"LPAR", "LSQB", "LBRACE"}


class Construct(enum.Enum):
    """What the user was writing when the parser stopped."""

    TOP = "top level"
    IMPORT = "`import`"
    HEADER = "header"
    PARAMS = "parameter list"
    BODY = "body"
    TYPE = "type"
    RETURNS = "return type"
    VALUE = "value"
    ARGS = "argument list"
    GROUP = "parentheses"
    LIST = "list"
    INDEX = "index"
    AXES = "axes"
    REPEAT = "`repeat`"
    SYMMETRY = "`symmetry`"
    DOMAIN = "`domain`"
    INPUT = "`input`"
    OUTPUT = "`output`"
    RETURN = "`return`"


# The token on the parser's stack that opens each construct (`(` and `[` are refined below).
_OPENED_BY = {
    "IMPORT": Construct.IMPORT,
    "MODEL": Construct.HEADER,
    "BLOCK": Construct.HEADER,
    "LBRACE": Construct.BODY,
    "COLON": Construct.TYPE,
    "ARROW": Construct.RETURNS,
    "EQUAL": Construct.VALUE,
    "REPEAT": Construct.REPEAT,
    "SYMMETRY": Construct.SYMMETRY,
    "DOMAIN": Construct.DOMAIN,
    "INPUT": Construct.INPUT,
    "OUTPUT": Construct.OUTPUT,
    "RETURN": Construct.RETURN,
    "OVER": Construct.AXES,
    "LPAR": Construct.GROUP,
    "LSQB": Construct.LIST,
}

HELP: dict[Construct, str] = {
    Construct.TOP: (
        'a file holds `import "file.geo"`, `block name(...) -> T { ... }` and '
        "`model Name(...) { ... }`"
    ),
    Construct.IMPORT: 'write the path in double quotes: `import "stdlib/egnn.geo"`',
    Construct.HEADER: (
        "e.g. `model EGNN(hidden: int = 64) { ... }` or `block layer(h: T) -> T { ... }`"
    ),
    Construct.PARAMS: (
        "parameters read `name: type = default`, separated by commas: "
        "`(hidden: int = 64, depth: int = 4)`"
    ),
    Construct.BODY: "one statement per line: `name = ...`, `repeat N { ... }`, declarations",
    Construct.TYPE: "a feature type reads like `16 x scalar over nodes` or `8 x vector + 4 x 0e`",
    Construct.RETURNS: "e.g. `-> 16 x scalar over nodes`, or `-> (T1, T2)` for several results",
    Construct.VALUE: "e.g. `h = linear(x, 16 x scalar)`",
    Construct.ARGS: "separate arguments with commas: `f(a, b, key=value)`",
    Construct.GROUP: "parentheses group one expression: `(a + b) * c`",
    Construct.LIST: "separate list items with commas: `[64, 64, 1]`",
    Construct.INDEX: "index with one name: `x[src]` or `x[dst]`",
    Construct.AXES: "name the axes after `over`: `over nodes` or `over (nodes, edges)`",
    Construct.REPEAT: "write `repeat N { ... }`, e.g. `repeat depth { h = layer(h) }`",
    Construct.SYMMETRY: "combine groups with `x`: `symmetry E(3) x S(nodes)`",
    Construct.DOMAIN: "e.g. `domain pointcloud(nodes, dim=3, edges=full)`",
    Construct.INPUT: "e.g. `input h: 16 x scalar over nodes`",
    Construct.OUTPUT: "e.g. `output energy: scalar = sum(h, over=nodes)`",
    Construct.RETURN: "e.g. `return h, x`",
}
BODY_HELP: dict[str, str] = {
    "model": (
        "a model body holds `symmetry`, `domain`, `input`, `output`, `name = ...` and "
        "`repeat N { ... }`, one per line"
    ),
    "block": "a block body holds `name = ...` lines and `repeat N { ... }`, then `return ...`",
    "repeat": "the body of `repeat N { ... }` holds `name = ...` lines, one per line",
}
STATEMENT_END_HELP = "put one statement per line (or separate statements with `;`)"


@dataclass(frozen=True)
class Opened:
    """One construct still open on the parser's stack, and the token that opened it."""

    construct: Construct
    opener: Token
    owner: str = ""  # `model`, `block` or `repeat` for bodies and headers


@dataclass(frozen=True)
class Failure:
    """Everything known where the parser stopped."""

    tok: Token
    prev: Token | None
    expected: frozenset[str]
    opened: tuple[Opened, ...]  # innermost first; empty at the top level
    span: Span
    file: str
    text: str

    @property
    def inner(self) -> Opened | None:
        return self.opened[0] if self.opened else None

    @property
    def construct(self) -> Construct:
        return self.opened[0].construct if self.opened else Construct.TOP

    def within(self, *constructs: Construct) -> bool:
        return self.construct in constructs

    @property
    def wants_value(self) -> bool:
        """Could a value (not just a name) start here?"""
        return bool(self.expected & VALUE_ONLY_START)


# ---------------------------------------------------------------------------------------------
# Reading the parser's state


def viable_terminals(err: UnexpectedToken) -> frozenset[str]:
    """The terminals of ``err.expected`` that a copy of the parser really accepts next."""
    expected = frozenset(err.expected) - {"COMMENT"}
    state = getattr(err, "state", None)
    if state is None:
        return expected
    conf = copy(state.parse_conf)
    conf.callbacks = {}  # reductions then build plain lists: no AST, no side effects
    viable = set()
    for name in expected:
        trial = state.copy(deepcopy_values=False)
        trial.parse_conf = conf
        try:
            trial.feed_token(Token(name, ""), is_end=name == "$END")
        except UnexpectedToken:
            continue
        viable.add(name)
    return frozenset(viable) or expected


def enclosing_constructs(stack: Sequence[object]) -> tuple[Opened, ...]:
    """The constructs still open on the parser's value stack, innermost first."""
    return tuple(_walk_openers(list(stack)))


def _walk_openers(stack: list[object]) -> Iterator[Opened]:
    depth = 0  # closing brackets shifted but not yet reduced
    for index in range(len(stack) - 1, -1, -1):
        tok = stack[index]
        if not isinstance(tok, Token):
            continue
        if tok.type in CLOSERS:
            depth += 1
        elif tok.type in OPENERS and depth:
            depth -= 1
        elif tok.type in _OPENED_BY and not depth:
            construct = _refine(_OPENED_BY[tok.type], stack, index)
            yield Opened(construct, tok, _owner(stack, index, construct))


def _refine(construct: Construct, stack: list[object], index: int) -> Construct:
    """Tell a call's `(` from a parameter list's, an index's `[` from a list's."""
    before = stack[index - 1] if index else None
    before_type = before.type if isinstance(before, Token) else None
    if construct is Construct.GROUP:
        if before_type == "NAME":
            head = stack[index - 2] if index > 1 else None
            is_item = isinstance(head, Token) and head.type in ITEM_START
            return Construct.PARAMS if is_item else Construct.ARGS
        return {"ARROW": Construct.RETURNS, "OVER": Construct.AXES}.get(
            before_type or "", Construct.GROUP
        )
    if construct is Construct.LIST and before is not None and not isinstance(before, Token):
        return Construct.INDEX  # `[` right after a reduced value
    return construct


def _owner(stack: list[object], index: int, construct: Construct) -> str:
    """For a body or a header: which `model`, `block` or `repeat` it belongs to."""
    if construct not in (Construct.BODY, Construct.HEADER):
        return ""
    for value in reversed(stack[: index + 1]):
        if isinstance(value, Token) and value.type in ("MODEL", "BLOCK", "REPEAT"):
            return value.type.lower()
    return ""


# ---------------------------------------------------------------------------------------------
# Words


def describe_token(tok: Token) -> str:
    """How the offending token reads: "name `foo`", "`)`", "end of file"."""
    if tok.type == "NAME":
        return f"name `{tok}`"
    if tok.type in ("INT", "FLOAT"):
        return f"number `{tok}`"
    if tok.type in ("IRREP", "MUL_IRREP"):
        return f"irreps `{tok}`"
    if tok.type in HARD_KEYWORDS:
        return f"keyword `{tok}`"
    if tok.type in KEYWORDS:
        return f"`{tok}`"
    if tok.type == "STRING":
        return "a string"
    return TERMINAL_WORDS.get(tok.type, f"`{tok}`" if str(tok) else "a token")


def describe_expected(
    expected: frozenset[str] | set[str], construct: Construct | None = None
) -> str:
    """The alternatives as a phrase: "`,` or `)`", "a statement", "a feature type"."""
    phrases = _leading_phrases(frozenset(expected), construct)
    named = [n for n in PUNCTUATION if n in expected]
    if expected & CONTINUATIONS:  # after a value, `(` would call it: not worth naming
        named = [n for n in named if n != "LPAR"]
    phrases += [TERMINAL_WORDS[name] for name in named]
    if "_NL" in expected and not expected & STMT_START:
        phrases = [p for p in phrases if p not in ("`}`",)] + ["end of line"]
    if not phrases and "$END" in expected:
        phrases.append("end of file")
    if not phrases and expected & CONTINUATIONS:
        phrases.append("an operator")
    if not phrases:
        phrases.append(" or ".join(sorted(TERMINAL_WORDS.get(n, "a token") for n in expected)))
    return _alternatives(phrases)


def _leading_phrases(expected: frozenset[str], construct: Construct | None) -> list[str]:
    if construct is Construct.IMPORT and "STRING" in expected:
        return ['a path in double quotes such as `"stdlib/egnn.geo"`']
    if expected & ITEM_START:
        return ["`import`, `block` or `model`"]
    if expected & STMT_START:
        return ["a statement"]
    if expected & VALUE_ONLY_START:
        typed = construct in (Construct.TYPE, Construct.RETURNS)
        return ["a feature type" if typed else "a value"]
    if "NAME" in expected:
        return ["a name"]
    return []


def _alternatives(phrases: list[str]) -> str:
    unique = list(dict.fromkeys(phrases))
    if len(unique) == 1:
        return unique[0]
    return ", ".join(unique[:-1]) + " or " + unique[-1]


def construct_help(failure: Failure) -> str:
    """What the construct being written looks like when it is right."""
    opened = failure.opened
    if not failure.wants_value:  # a finished type or value: help with what encloses it
        while len(opened) > 1 and opened[0].construct in (Construct.TYPE, Construct.VALUE):
            opened = opened[1:]
    inner = opened[0] if opened else None
    if inner is None:
        return HELP[Construct.TOP]
    if inner.construct is Construct.BODY:
        return BODY_HELP.get(inner.owner, HELP[Construct.BODY])
    if inner.construct is Construct.VALUE:
        return _value_help(opened)
    return HELP[inner.construct]


def _value_help(opened: tuple[Opened, ...]) -> str:
    """After `=`: a parameter default, a keyword argument, an output, or an assignment."""
    outer = opened[1].construct if len(opened) > 1 else Construct.TOP
    return {
        Construct.PARAMS: "write the default value after `=`, e.g. `hidden: int = 64`",
        Construct.ARGS: "write the argument's value after `=`, e.g. `act=silu`",
        Construct.OUTPUT: HELP[Construct.OUTPUT],
    }.get(outer, HELP[Construct.VALUE])


# ---------------------------------------------------------------------------------------------
# Entry points


def syntax_diagnostic(err: UnexpectedToken, text: str, file: str, trail: _LexerTrail) -> Diagnostic:
    """The diagnostic for a token the LALR parser cannot accept."""
    state = getattr(err, "state", None)
    tok: Token = err.token
    failure = Failure(
        tok=tok,
        prev=_previous(trail, tok),
        expected=viable_terminals(err),
        opened=enclosing_constructs(state.value_stack if state is not None else ()),
        span=_token_span(file, tok, text),
        file=file,
        text=text,
    )
    for rule in RULES:
        diag = rule(failure, trail)
        if diag is not None:
            return _with_open_bracket_note(diag, trail, tok)
    return _with_open_bracket_note(_generic(failure), trail, tok)


# ---------------------------------------------------------------------------------------------
# Rules: each recognises one situation and words it; the first that matches wins.

Rule = Callable[[Failure, _LexerTrail], "Diagnostic | None"]


def _item_keyword_in_body(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
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
            _token_span(f.file, keyword, ""),
            label=f"inside the body opened at {brace.line}:{brace.column}",
            help="move it out of the `{ ... }`, before or after the model",
        )
    return Diagnostic(
        "GEO103",
        f"`{{` is not closed before the `{keyword}` on line {keyword.line}",
        _token_span(f.file, brace, ""),
        label="this body is still open",
        help=f"add the missing `}}` before `{keyword}` at {keyword.line}:{keyword.column}",
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


def _unclosed_before_statement(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """A statement keyword inside `(` or `[` opened on an earlier line: the bracket is open."""
    if f.tok.type not in STMT_START | ITEM_START or f.tok.line is None:
        return None
    opener = next((t for t in reversed(trail.stack) if t.type != "LBRACE"), None)
    if opener is None or opener.line == f.tok.line or trail.stack[-1] is not opener:
        return None
    if _closed_later(f.text, f.tok.start_pos or 0, str(opener)):
        return None  # the bracket is closed after all: the keyword is what is out of place
    close = ")" if opener.type == "LPAR" else "]"
    return Diagnostic(
        "GEO103",
        f"`{opener}` is not closed before the `{f.tok}` on line {f.tok.line}",
        _token_span(f.file, opener, ""),
        label="this bracket is still open",
        help=f"add the missing `{close}` before `{f.tok}` at {f.tok.line}:{f.tok.column}",
    )


def _keyword_as_name(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or prev.type not in HARD_KEYWORDS or f.tok.type not in ("EQUAL", "COMMA"):
        return None
    return Diagnostic(
        "GEO100",
        f"`{prev}` is a keyword and cannot be used as a name here",
        _token_span(f.file, prev, ""),
        label="keyword",
        help=f"choose another name, e.g. `{prev}_`",
    )


def _symmetry_factor(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """`symmetry` or `x` with no group after it."""
    if not f.within(Construct.SYMMETRY) or f.prev is None or f.prev.type not in ("SYMMETRY", "X"):
        return None
    if f.tok.type == "NAME":
        return None
    return Diagnostic(
        _eof_or("GEO100", f.tok),
        f"expected a group after `{f.prev}`, such as `E(3)`, `SO(3)`, `S(nodes)` or `trivial`",
        _after(f.prev, f.file),
        label="group missing",
        help=HELP[Construct.SYMMETRY],
    )


def _incomplete_type(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or prev.type not in ("X", "OVER") or f.tok.type in EXPR_START:
        return None
    if prev.type == "OVER" and f.tok.type == "EQUAL":  # `sum(h over=nodes)`
        return Diagnostic(
            "GEO100",
            "expected `,` before the keyword argument `over=`",
            _token_span(f.file, prev, ""),
            label="missing `,` before this?",
            help="separate arguments with commas: `sum(h, over=nodes)`",
        )
    if prev.type == "X":
        return Diagnostic(
            "GEO105",
            "expected a representation after `x`, such as `scalar`, `vector` or `1o`",
            _after(prev, f.file),
            label="missing representation",
            help="write the atom the multiplicity applies to, e.g. `16 x scalar`",
        )
    return Diagnostic(
        "GEO105",
        "expected an axis name after `over`, such as `nodes`, `edges` or `set`",
        _after(prev, f.file),
        label="missing axis",
        help="e.g. `16 x scalar over nodes`",
    )


def _missing_type(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """`input h:` or `-> {`: a feature type was due."""
    prev = f.prev
    if prev is None or prev.type not in ("COLON", "ARROW") or not f.wants_value:
        return None
    found = describe_token(f.tok)
    if prev.type == "ARROW":
        return Diagnostic(
            "GEO105",
            f"expected a return type after `->`, found {found}",
            _after(prev, f.file) if f.tok.type in ("_NL", "$END") else f.span,
            label="a type goes here",
            help=HELP[Construct.RETURNS],
        )
    return Diagnostic(
        "GEO105",
        f"expected a feature type such as `16 x scalar over nodes`, found {found}",
        _after(prev, f.file) if f.tok.type in ("_NL", "$END") else f.span,
        label="a type goes here",
        help="declare what the value is, e.g. `input h: 16 x scalar over nodes`",
    )


def _dangling_operator(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    prev = f.prev
    if prev is None or not f.wants_value or f.tok.type in EXPR_START:
        return None
    if prev.type in OPERATORS:
        op = OPERATORS[prev.type]
        return Diagnostic(
            "GEO106",
            f"`{op}` has no right-hand operand",
            _token_span(f.file, prev, ""),
            label="dangling operator",
            help=f"write the operand after `{op}`, or remove the `{op}`",
        )
    if prev.type == "EQUAL":
        extra = "; `==` is not an operator in .geo" if f.tok.type == "EQUAL" else ""
        return Diagnostic(
            "GEO106",
            f"expected a value after `=`, found {describe_token(f.tok)}",
            _after(prev, f.file),
            label="missing value",
            help=construct_help(f) + extra,
        )
    return None


def _missing_separator(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """Two values side by side: a `,`, an operator or a line break is missing between them."""
    if f.tok.type not in EXPR_START and f.tok.type not in STMT_START | ITEM_START:
        return None
    if f.expected & (STMT_START | ITEM_START):
        return None
    if "COMMA" in f.expected and not f.within(Construct.BODY, Construct.TOP):
        closers = [TERMINAL_WORDS[c] for c in ("RPAR", "RSQB") if c in f.expected]
        return Diagnostic(
            "GEO100",
            f"expected {_alternatives(['`,`', *closers])}, found {describe_token(f.tok)}",
            f.span,
            label="missing `,` before this?",
            help=construct_help(f),
        )
    if not f.opened and "$END" in f.expected and f.expected & CONTINUATIONS:  # parse_expr
        return Diagnostic(
            "GEO100",
            f"expected an operator or the end of the expression, found {describe_token(f.tok)}",
            f.span,
            label="missing operator before this?",
            help="join the parts with an operator, e.g. `8 x vector + 4 x scalar over nodes`",
        )
    if "_NL" not in f.expected:
        return None
    if f.within(Construct.SYMMETRY) and "X" in f.expected:
        label, help_text = "missing `x` before this?", HELP[Construct.SYMMETRY]
    elif f.expected & CONTINUATIONS:
        label, help_text = "missing operator or line break before this?", STATEMENT_END_HELP
    else:
        label, help_text = "missing line break before this?", STATEMENT_END_HELP
    return Diagnostic(
        "GEO100",
        f"expected end of line, found {describe_token(f.tok)}",
        f.span,
        label=label,
        help=help_text,
    )


def _item_expected(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    if not f.expected & ITEM_START or f.expected & EXPR_START:
        return None
    guess = difflib.get_close_matches(str(f.tok), ITEM_WORDS, n=1, cutoff=0.6)
    if f.tok.type == "NAME" and guess:
        help_text = f"did you mean `{guess[0]}`?"
    else:
        help_text = "declarations and statements go inside `model Name(...) { ... }`"
    return Diagnostic(
        "GEO100",
        f"expected `import`, `block` or `model` at the top level, found {describe_token(f.tok)}",
        f.span,
        label="not allowed here",
        help=help_text,
    )


def _name_expected(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """`model (`, `input :`, `(:`: a name was due."""
    if "NAME" not in f.expected or f.wants_value or f.tok.type == "NAME":
        return None
    inner = f.inner
    if inner is None or f.prev is None:
        return None
    what = _NAME_FOR.get(inner.construct)
    if what is None:
        return None
    what = what.format(owner=inner.owner)
    closers = [TERMINAL_WORDS[p] for p in PUNCTUATION if p in f.expected]
    return Diagnostic(
        _eof_or("GEO100", f.tok),
        f"expected {_alternatives([what, *closers])} after {_shown(f.prev)}, "
        f"found {describe_token(f.tok)}",
        f.span if f.tok.type not in ("_NL", "$END") else _after(f.prev, f.file),
        label="a name goes here",
        help=_header_help(inner.owner, [])
        if inner.construct is Construct.HEADER
        else construct_help(f),
    )


_NAME_FOR = {
    Construct.HEADER: "a name for the {owner}",
    Construct.PARAMS: "a parameter name",
    Construct.INPUT: "the input's name",
    Construct.OUTPUT: "the output's name",
    Construct.AXES: "an axis name",
}
_BLOCK_HEADER_HELP = (
    "e.g. `block layer(h: 16 x scalar over nodes) -> 16 x scalar over nodes { ... }`"
)


def _header_punctuation(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """`model M {`, `model M() h`, `repeat 3` + newline: the next piece of a header."""
    inner = f.inner
    if inner is None or f.wants_value or "NAME" in f.expected:
        return None
    if inner.construct is Construct.HEADER:
        owner = inner.owner
        wanted = [p for p in ("LPAR", "ARROW", "LBRACE") if p in f.expected]
    elif inner.opener.type in ("REPEAT", "ARROW"):  # after the count, after the return type
        owner = "repeat" if inner.opener.type == "REPEAT" else "block"
        wanted = ["LBRACE"] if "LBRACE" in f.expected else []
    else:
        return None
    if not wanted:
        return None
    words = _alternatives([TERMINAL_WORDS[w] for w in wanted])
    return Diagnostic(
        _eof_or("GEO100", f.tok),
        f"expected {words} {_HEADER_PURPOSE[owner, wanted[-1]]}, found {describe_token(f.tok)}",
        _where_missing(f),
        label=f"{words} expected here",
        help=_header_help(owner, wanted),
    )


_HEADER_PURPOSE = {
    ("model", "LPAR"): "after the model's name",
    ("block", "LPAR"): "after the block's name",
    ("model", "LBRACE"): "to open the model's body",
    ("block", "LBRACE"): "to open the block's body",
    ("repeat", "LBRACE"): "to open the body of `repeat`",
}


def _header_help(owner: str, wanted: list[str]) -> str:
    """How the header of a model, block or repeat reads."""
    if owner == "repeat":
        return HELP[Construct.REPEAT]
    if wanted == ["LPAR"]:
        return f"a {owner} lists its parameters in parentheses, even when there are none: " + (
            "`model M() { ... }`" if owner == "model" else "`block f() -> T { ... }`"
        )
    return _BLOCK_HEADER_HELP if owner == "block" else _MODEL_HEADER_HELP


_MODEL_HEADER_HELP = "e.g. `model EGNN(hidden: int = 64) { ... }`"
_STATEMENT_WORDS = ("symmetry", "domain", "input", "output", "repeat", "return")


def _assignment(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """A statement that starts with a name must be `name = ...` or `a, b = ...`."""
    if not f.within(Construct.BODY) or not f.expected <= {"COMMA", "EQUAL"} or f.prev is None:
        return None
    guess = difflib.get_close_matches(str(f.prev), _STATEMENT_WORDS, n=1, cutoff=0.7)
    if f.prev.type == "NAME" and guess and f.tok.type == "NAME":
        help_text = f"did you mean `{guess[0]}`?"
    else:
        help_text = "an assignment reads `name = value`, or `a, b = value` for several results"
    return Diagnostic(
        "GEO100",
        f"expected `=` after {_shown(f.prev)}, found {describe_token(f.tok)}",
        _where_missing(f),
        label="`=` expected here",
        help=help_text,
    )


def _output_value(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    """`output y: scalar` and nothing more: the `= value` part is missing."""
    outer = f.opened[1].construct if len(f.opened) > 1 else None
    if not f.within(Construct.TYPE) or outer is not Construct.OUTPUT:
        return None
    if "EQUAL" not in f.expected or f.wants_value or f.tok.type in EXPR_START:
        return None
    return Diagnostic(
        "GEO100",
        f"expected `=` and the output's value after its type, found {describe_token(f.tok)}",
        _where_missing(f),
        label="`= value` missing",
        help=HELP[Construct.OUTPUT],
    )


def _repeat_count(f: Failure, trail: _LexerTrail) -> Diagnostic | None:
    if f.prev is None or f.prev.type != "REPEAT" or not f.wants_value:
        return None
    return Diagnostic(
        _eof_or("GEO100", f.tok),
        f"expected how many times to repeat after `repeat`, found {describe_token(f.tok)}",
        _where_missing(f),
        label="count missing",
        help=HELP[Construct.REPEAT],
    )


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


# ---------------------------------------------------------------------------------------------
# Spans and notes


def _shown(tok: Token) -> str:
    """A token quoted as written: `model`, `(`, or its description for a line break."""
    return f"`{tok}`" if tok.type not in ("_NL", "$END") else describe_token(tok)


def _where_missing(f: Failure) -> Span:
    """Where a missing piece belongs: at the token found, or at the end of the line before."""
    if f.prev is not None and f.prev.type == "_NL":
        return _token_span(f.file, f.prev, "")
    return f.span


def _eof_or(code: str, tok: Token) -> str:
    return "GEO107" if tok.type == "$END" else code


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


def _after(tok: Token, file: str) -> Span:
    """A one-column span just after ``tok``, where the missing piece belongs."""
    line = tok.end_line or tok.line or 1
    col = tok.end_column or (tok.column or 1) + len(tok)
    return Span(file, line, col, line, col + 1)


def _with_open_bracket_note(diag: Diagnostic, trail: _LexerTrail, tok: Token) -> Diagnostic:
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
