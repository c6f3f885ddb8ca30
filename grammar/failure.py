"""Where the LALR parser stopped (:class:`Failure`) and how its pieces read in a message.

Three facts decide the wording of a syntax error: which tokens could really come next
(:func:`viable_terminals`), which construct was being written (:func:`enclosing_constructs`)
and the token just before the failure. This module finds them, words tokens and alternatives,
and places spans; ``error_rules.py`` turns them into diagnostics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Protocol

from lark import Token
from lark.exceptions import UnexpectedToken

from geoc.diagnostics import Span
from geoc.grammar.error_words import (
    BODY_HELP,
    CLOSERS,
    CONTINUATIONS,
    HARD_KEYWORDS,
    HELP,
    ITEM_START,
    KEYWORDS,
    OPENED_BY,
    OPENERS,
    PUNCTUATION,
    STMT_START,
    TERMINAL_WORDS,
    VALUE_ONLY_START,
    Construct,
)


class LexerTrail(Protocol):
    """What the lexer remembers: open brackets and the last tokens read."""

    stack: list[Token]
    recent: list[Token]


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
        elif tok.type in OPENED_BY and not depth:
            construct = _refine(OPENED_BY[tok.type], stack, index)
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
        if isinstance(value, Token) and value.type in ("MODEL", "BLOCK", "REPEAT", "CANONICAL"):
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
    return alternatives(phrases)


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


def alternatives(phrases: list[str]) -> str:
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
# Spans


def shown(tok: Token) -> str:
    """A token quoted as written: `model`, `(`, or its description for a line break."""
    return f"`{tok}`" if tok.type not in ("_NL", "$END") else describe_token(tok)


def where_missing(f: Failure) -> Span:
    """Where a missing piece belongs: at the token found, or at the end of the line before."""
    if f.prev is not None and f.prev.type == "_NL":
        return token_span(f.file, f.prev, "")
    return f.span


def eof_or(code: str, tok: Token) -> str:
    return "GEO107" if tok.type == "$END" else code


def previous_token(trail: LexerTrail, tok: Token) -> Token | None:
    recent = [t for t in trail.recent if t is not tok]
    return recent[-1] if recent else None


def token_span(file: str, tok: Token, text: str) -> Span:
    if tok.type == "$END" or tok.line is None:
        lines = text.rstrip("\n").split("\n") if text.strip() else [""]
        last = lines[-1].rstrip("\r")
        return Span(file, len(lines), len(last) + 1, len(lines), len(last) + 2)
    end_line = tok.end_line or tok.line
    end_col = tok.end_column or (tok.column + max(len(tok), 1))
    if tok.type == "_NL":  # point just past the end of the line, not at the next line
        return Span(file, tok.line, tok.column, tok.line, tok.column + 1)
    return Span(file, tok.line, tok.column, end_line, end_col)


def span_after(tok: Token, file: str) -> Span:
    """A one-column span just after ``tok``, where the missing piece belongs."""
    line = tok.end_line or tok.line or 1
    col = tok.end_column or (tok.column or 1) + len(tok)
    return Span(file, line, col, line, col + 1)
