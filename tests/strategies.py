"""Hypothesis strategies for random well-formed .geo programs, as ASTs and as source text.

Every module drawn here parses back to itself once printed: names avoid the keywords, calls
put positional arguments first and name each keyword once, parameters are distinct, and
statements stand where :mod:`geoc.grammar.structure` allows them (``symmetry``, ``domain``,
``input`` and ``output`` directly in a model, ``return`` last in a block).
"""

from __future__ import annotations

import math
import string

from hypothesis import strategies as st

from geoc.diagnostics import Span
from geoc.grammar import ast

SPAN = Span("<generated>", 1, 1, 1, 1)  # spans take no part in AST equality
KEYWORDS = frozenset(
    {"import", "block", "model", "symmetry", "domain", "input", "output", "repeat", "return"}
    | {"true", "false", "over", "x"}
)
# Names the specs use as keyword arguments although they are also keywords elsewhere.
CONTEXTUAL_KEYWORD_ARGS = ("over",)

_NAME_START = string.ascii_letters + "_"
_NAME_REST = _NAME_START + string.digits
# Characters that need escaping, characters other tools treat as line breaks, and plain text.
_STRING_CHARS = st.one_of(
    st.sampled_from('"\\\n\t #{}x\x0b\x0c\x85\u2028'),
    st.characters(codec="utf-8", exclude_characters="\r\n"),
)
_COMMENT_CHARS = st.one_of(
    st.sampled_from('#"\\ \t{}();x\x0b\x0c\u2028'),
    st.characters(codec="utf-8", exclude_characters="\r\n"),
)


def _node(cls: type, **fields: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(cls, span=st.just(SPAN), **fields)


def _tuples(elements: st.SearchStrategy, min_size: int = 0, max_size: int = 3) -> st.SearchStrategy:
    return st.lists(elements, min_size=min_size, max_size=max_size).map(tuple)


def _names() -> st.SearchStrategy[str]:
    """Identifiers that are never keywords (short, so that they shrink well)."""
    word = st.builds(str.__add__, st.sampled_from(_NAME_START), st.text(_NAME_REST, max_size=5))
    return word.filter(lambda w: w not in KEYWORDS)


# Strategies are built once, at import: building them per draw costs more than drawing.
NAMES = _names()
NAME_NODES = _node(ast.Name, id=NAMES)


def _literals() -> st.SearchStrategy[ast.Expr]:
    """Leaves: names, numbers (as the lexer makes them: never negative), strings, irreps."""
    floats = st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.just(math.inf)
    irreps = _node(ast.Irrep, l=st.integers(0, 12), parity=st.sampled_from("eo"))
    mul_irreps = _node(
        ast.BinOp,
        op=st.just(ast.BinOpKind.TIMES),
        left=_node(ast.Int, value=st.integers(0, 512)),
        right=irreps,
    )
    return st.one_of(
        NAME_NODES,
        _node(ast.Int, value=st.integers(0, 10**20)),
        _node(ast.Float, value=floats),
        _node(ast.Str, value=st.text(_STRING_CHARS, max_size=6)),
        _node(ast.Bool, value=st.booleans()),
        irreps,
        mul_irreps,
    )


LITERALS = _literals()
_KEYWORD_NAMES = NAMES | st.sampled_from(CONTEXTUAL_KEYWORD_ARGS)


def _name(text: str) -> ast.Name:
    return ast.Name(id=text, span=SPAN)


# Distinct names are drawn first and the rest after: `unique_by` on lists of whole nodes
# makes Hypothesis print the (huge) strategy each time a duplicate is rejected.
@st.composite
def _keywords(draw: st.DrawFn, values: st.SearchStrategy[ast.Expr]) -> tuple[ast.Keyword, ...]:
    names = draw(st.lists(_KEYWORD_NAMES, max_size=3, unique=True))
    return tuple(ast.Keyword(name=_name(n), value=draw(values), span=SPAN) for n in names)


def calls(args: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Call]:
    """Calls with positional arguments first and each keyword given once."""
    return _node(ast.Call, func=NAME_NODES, args=_tuples(args), kwargs=_keywords(args))


def _compound(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        _node(ast.BinOp, op=st.sampled_from(ast.BinOpKind), left=children, right=children),
        _node(ast.Neg, operand=children),
        _node(ast.Over, value=children, axes=_tuples(NAME_NODES, min_size=1)),
        _node(ast.Index, value=children, index=children),
        _node(ast.List, items=_tuples(children)),
        calls(children),
    )


def expressions(max_leaves: int = 8) -> st.SearchStrategy[ast.Expr]:
    """Any expression: operators nest freely, so precedence and parentheses get exercised."""
    return st.recursive(LITERALS, _compound, max_leaves=max_leaves)


EXPRESSIONS = expressions()
SMALL_EXPRESSIONS = expressions(3)
PARAM_EXPRESSIONS = expressions(4)


# --- statements -----------------------------------------------------------------------------


ASSIGNMENTS = _node(ast.Assign, targets=_tuples(NAME_NODES, min_size=1), value=EXPRESSIONS)


def _loop_statements(depth: int) -> st.SearchStrategy[ast.Stmt]:
    """What may stand anywhere in a body: assignments, and `repeat` while depth is left."""
    if depth <= 0:
        return ASSIGNMENTS
    body = _tuples(_loop_statements(depth - 1), max_size=3)
    return ASSIGNMENTS | _node(ast.Repeat, count=SMALL_EXPRESSIONS, body=body)


LOOP_STATEMENTS = _loop_statements(2)


def _model_statements() -> st.SearchStrategy[ast.Stmt]:
    factor = NAME_NODES | calls(SMALL_EXPRESSIONS)
    return st.one_of(
        _node(ast.Symmetry, factors=_tuples(factor, min_size=1)),
        _node(ast.Domain, value=EXPRESSIONS),
        _node(ast.Input, name=NAME_NODES, type=EXPRESSIONS),
        _node(ast.Output, name=NAME_NODES, type=EXPRESSIONS, value=EXPRESSIONS),
        LOOP_STATEMENTS,
    )


def _block_body() -> st.SearchStrategy[tuple[ast.Stmt, ...]]:
    returns = _node(ast.Return, values=_tuples(EXPRESSIONS, min_size=1))
    stmts = st.lists(LOOP_STATEMENTS, max_size=4)
    return st.builds(lambda body, end: (*body, *end), stmts, st.lists(returns, max_size=1))


# --- items and modules ----------------------------------------------------------------------


@st.composite
def _params(draw: st.DrawFn) -> tuple[ast.Param, ...]:
    names = draw(st.lists(NAMES, max_size=4, unique=True))
    optional = st.none() | PARAM_EXPRESSIONS
    return tuple(
        ast.Param(name=_name(n), type=draw(optional), default=draw(optional), span=SPAN)
        for n in names
    )


def _items() -> st.SearchStrategy[ast.Item]:
    block = _node(
        ast.Block,
        name=NAME_NODES,
        params=_params(),
        returns=st.none() | _tuples(PARAM_EXPRESSIONS, min_size=1),
        body=_block_body(),
    )
    model = _node(
        ast.Model,
        name=NAME_NODES,
        params=_params(),
        body=_tuples(_model_statements(), max_size=6),
    )
    imports = _node(ast.Import, path=_node(ast.Str, value=st.text(_STRING_CHARS, max_size=8)))
    return st.one_of(block, model, imports)


ITEMS = _items()
MODULES = _node(ast.Module, items=_tuples(ITEMS, min_size=1))
COMMENTS = st.text(_COMMENT_CHARS, max_size=12).map(lambda body: "#" + body)


def modules() -> st.SearchStrategy[ast.Module]:
    """Random well-formed modules (without comments)."""
    return MODULES


def comments() -> st.SearchStrategy[str]:
    """Comment text, sometimes with trailing blanks (which the formatter drops)."""
    return COMMENTS


# --- source text ----------------------------------------------------------------------------


@st.composite
def messy_sources(draw: st.DrawFn, canonical: str) -> str:
    """``canonical`` (a formatter's output) relaid badly: lines joined, comments on their own
    lines and at line ends, runs of blank lines, odd indentation and spacing. The program is
    unchanged."""
    out: list[str] = []
    for line in _joined(draw, canonical.rstrip("\n").split("\n")):
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(INDENTATION) + draw(COMMENTS))
        out.extend([""] * draw(st.sampled_from([0, 0, 0, 1, 2])))
        respacings = draw(st.lists(st.sampled_from(_RESPACINGS), unique=True))
        text = draw(INDENTATION) + _respaced(line.strip(), respacings)
        if "#" not in text and draw(st.integers(0, 3)) == 0:
            text += " " * draw(st.integers(0, 3)) + draw(COMMENTS)
        out.append(text)
    return "\n".join(out) + draw(st.sampled_from(["", "\n", "\n\n\n"]))


def _joined(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """Join some lines to the next: inside brackets with a space, between statements with
    `;` (canonical lines end a statement unless they open or continue a bracket)."""
    out = [lines[0]]
    for line in lines[1:]:
        if draw(st.integers(0, 3)) != 0:
            out.append(line)
            continue
        line = line.strip()
        opened = out[-1].endswith(("{", "(", ",")) or line.startswith(("}", ")"))
        out[-1] += (" " if opened else "; ") + line
    return out


INDENTATION = st.text(" \t", max_size=6)


# Spacing changes that never join two tokens into one (outside strings).
_RESPACINGS = ((", ", ","), (" = ", "="), (": ", ":"), ("(", "( "), (" * ", "*"))


def _respaced(line: str, respacings: list[tuple[str, str]]) -> str:
    if '"' in line or "#" in line:
        return line
    for old, new in respacings:
        line = line.replace(old, new)
    return line


@st.composite
def sources(draw: st.DrawFn) -> tuple[ast.Module, str]:
    """A random module and a badly laid out source text of it (with comments)."""
    from geoc.grammar.formatter import format_module

    module = draw(MODULES)
    return module, draw(messy_sources(format_module(module)))
