"""Build AST nodes while the LALR parser reduces (no parse tree, no recursion).

Spans come from the tokens the grammar keeps (names, literals, keywords, closing brackets):
a node starts where its first piece starts and ends where its last piece ends. The parser
runs this transformer inside the parse, so per-parse facts (the file name) travel in a
context variable that :func:`parsing` sets for the duration of one parse.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

from lark import Token, Transformer

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.grammar import ast
from geoc.grammar.errors import call_argument_order

MAX_EXPR_DEPTH = 256  # operators inside operators: keeps every tree walk far from the stack limit

Piece = Token | ast.Node


@dataclass
class _ParseContext:
    file: str
    depth: dict[int, int] = field(default_factory=dict)


_CONTEXT: contextvars.ContextVar[_ParseContext] = contextvars.ContextVar("geoc_parse")


@contextlib.contextmanager
def parsing(file: str) -> Iterator[None]:
    """Make ``file`` the file that spans built inside this ``with`` refer to."""
    token = _CONTEXT.set(_ParseContext(file))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def token_span(file: str, tok: Token) -> Span:
    line, col = tok.line or 1, tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + max(len(tok), 1)
    return Span(file, line, col, end_line, end_col)


def _span_of(piece: Piece) -> Span:
    if isinstance(piece, ast.Node):
        return piece.span
    return token_span(_CONTEXT.get().file, piece)


def _join(first: Piece, last: Piece) -> Span:
    a, b = _span_of(first), _span_of(last)
    return Span(a.file, a.line, a.col, b.end_line, b.end_col)


def _name(tok: Token) -> ast.Name:
    return ast.Name(id=str(tok), span=_span_of(tok))


def _bounded(node: ast.Node, *children: ast.Node) -> ast.Node:
    """Record ``node``'s operator depth; past :data:`MAX_EXPR_DEPTH` it is a diagnostic."""
    depths = _CONTEXT.get().depth
    depth = 1 + max((depths.get(id(c), 0) for c in children), default=0)
    if depth > MAX_EXPR_DEPTH:
        raise GeoError(
            Diagnostic(
                "GEO108",
                f"expression nested more than {MAX_EXPR_DEPTH} operators deep",
                node.span,
                label="too deep",
                help="bind parts of the expression to names with `name = ...`",
            )
        )
    depths[id(node)] = depth
    return node


_PRECEDENCE = {"+": 1, "-": 1, "x": 2, "*": 3}


def _reduce(operands: list[ast.Node], op: Token) -> None:
    right = operands.pop()
    left = operands.pop()
    node = ast.BinOp(op=ast.BinOpKind(str(op)), left=left, right=right, span=_join(left, right))
    operands.append(_bounded(node, left, right))


class AstBuilder(Transformer):
    """One method per grammar rule (or alias), each returning an AST node or a part of one."""

    # --- top level ---

    def start(self, items):
        return tuple(items)

    def import_stmt(self, children):
        keyword, path = children
        return ast.Import(path=_string(path), span=_join(keyword, path))

    def block(self, children):
        keyword, name, params, _arrow, returns, (body, close) = children
        return ast.Block(
            name=_name(name),
            params=params or (),
            returns=returns,
            body=body,
            span=_join(keyword, close),
        )

    def model(self, children):
        keyword, name, params, (body, close) = children
        return ast.Model(
            name=_name(name), params=params or (), body=body, span=_join(keyword, close)
        )

    def params(self, children):
        return tuple(children)

    def param(self, children):
        name, type_, default = children
        last = default or type_ or name
        return ast.Param(name=_name(name), type=type_, default=default, span=_join(name, last))

    def returns(self, children):
        return tuple(c for c in children if isinstance(c, ast.Node))

    def return_single(self, children):
        return tuple(children)

    def body(self, children):
        *stmts, close = children
        return tuple(stmts), close

    # --- statements ---

    def symmetry(self, children):
        keyword, *factors = children
        return ast.Symmetry(factors=tuple(factors), span=_join(keyword, factors[-1]))

    def breaks(self, children):
        keyword, group, _to, to, _by, *names = children
        by = tuple(_name(n) for n in names)
        return ast.Breaks(group=group, to=to, by=by, span=_join(keyword, names[-1]))

    def domain(self, children):
        keyword, value = children
        return ast.Domain(value=value, span=_join(keyword, value))

    def input_decl(self, children):
        keyword, name, type_ = children
        return ast.Input(name=_name(name), type=type_, span=_join(keyword, type_))

    def output_decl(self, children):
        keyword, name, type_, value = children
        return ast.Output(name=_name(name), type=type_, value=value, span=_join(keyword, value))

    def assign(self, children):
        *targets, value = children
        names = tuple(_name(t) for t in targets)
        return ast.Assign(targets=names, value=value, span=_join(targets[0], value))

    def repeat(self, children):
        keyword, count, (body, close) = children
        return ast.Repeat(count=count, body=body, span=_join(keyword, close))

    def canonical(self, children):
        keyword, (body, close) = children
        return ast.Canonical(body=body, span=_join(keyword, close))

    def return_stmt(self, children):
        keyword, *values = children
        return ast.Return(values=tuple(values), span=_join(keyword, values[-1]))

    # --- expressions ---

    def over(self, children):
        value, (axes, last) = children
        return _bounded(ast.Over(value=value, axes=axes, span=_join(value, last)), value)

    def axes(self, children):
        names = tuple(_name(t) for t in children if t.type == "NAME")
        return names, children[-1]

    def arith(self, children):
        """Group a flat chain `a op b op c ...` by precedence (shunting-yard)."""
        operands: list[ast.Node] = [children[0]]
        pending: list[Token] = []
        for op, right in zip(children[1::2], children[2::2], strict=True):
            while pending and _PRECEDENCE[pending[-1]] >= _PRECEDENCE[op]:
                _reduce(operands, pending.pop())
            pending.append(op)
            operands.append(right)
        while pending:
            _reduce(operands, pending.pop())
        return operands[0]

    def neg(self, children):
        minus, operand = children
        return _bounded(ast.Neg(operand=operand, span=_join(minus, operand)), operand)

    def index(self, children):
        value, index, close = children
        return _bounded(ast.Index(value=value, index=index, span=_join(value, close)), value, index)

    def name(self, children):
        return _name(children[0])

    def call(self, children):
        func, args, close = children
        args = args or ()
        problem = call_argument_order(args)
        if problem is not None:
            raise GeoError(problem)
        positional = tuple(a for a in args if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in args if isinstance(a, ast.Keyword))
        node = ast.Call(func=_name(func), args=positional, kwargs=keywords, span=_join(func, close))
        return _bounded(node, *positional, *(k.value for k in keywords))

    def connected_call(self, children):
        """`SO+(p, q)`: a call whose name is the group's, `+` included."""
        func, plus, args, close = children
        name = ast.Name(id=f"{func}+", span=_join(func, plus))
        node = self.call([func, args, close])
        return ast.Call(func=name, args=node.args, kwargs=node.kwargs, span=node.span)

    def args(self, children):
        return tuple(children)

    def kwarg(self, children):
        name, value = children
        return ast.Keyword(name=_name(name), value=value, span=_join(name, value))

    def list(self, children):
        open_, *items, close = children
        items = tuple(i for i in items if i is not None)
        return _bounded(ast.List(items=items, span=_join(open_, close)), *items)

    def int(self, children):
        return ast.Int(value=int(children[0]), span=_span_of(children[0]))

    def float(self, children):
        return ast.Float(value=float(children[0]), span=_span_of(children[0]))

    def irrep(self, children):
        text = str(children[0])
        return ast.Irrep(l=int(text[:-1]), parity=text[-1], span=_span_of(children[0]))

    def mul_irrep(self, children):
        tok = children[0]
        mul, irrep = str(tok).split("x")
        span = _span_of(tok)
        mul_end = span.col + len(mul)
        return ast.BinOp(
            op=ast.BinOpKind.TIMES,
            left=ast.Int(
                value=int(mul), span=Span(span.file, span.line, span.col, span.line, mul_end)
            ),
            right=ast.Irrep(
                l=int(irrep[:-1]),
                parity=irrep[-1],
                span=Span(span.file, span.line, mul_end + 1, span.end_line, span.end_col),
            ),
            span=span,
        )

    def string(self, children):
        return _string(children[0])

    def true(self, children):
        return ast.Bool(value=True, span=_span_of(children[0]))

    def false(self, children):
        return ast.Bool(value=False, span=_span_of(children[0]))


def _string(tok: Token) -> ast.Str:
    return ast.Str(value=_unescape(str(tok)[1:-1]), span=_span_of(tok))


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)
