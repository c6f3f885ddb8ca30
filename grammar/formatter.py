"""The canonical layout of .geo source: the engine of ``geoc fmt``.

One layout per program: 4-space indentation, one blank line between top-level items, spaces
around binary operators (but e3nn irreps stay compact, ``16x0e``), parentheses only where
precedence needs them, and lines over 100 columns broken in exactly two places (a header's
parameter list, a statement's outermost call). Comments are never lost: each one is attached
to the nearest construct (:func:`attach_comments`) and printed back beside it.

>>> print(format_source("model M(){symmetry  trivial;h=f(a,b=1)}"), end="")
model M() {
    symmetry trivial
    h = f(a, b=1)
}
"""

from __future__ import annotations

import bisect
import enum
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from geoc.grammar import ast
from geoc.grammar.parser import parse

LINE_LIMIT = 100
INDENT = "    "

# --- expressions ----------------------------------------------------------------------------


class Precedence(enum.IntEnum):
    """How tightly a construct binds; an operand binding looser than its slot needs parens."""

    OVER = 0
    SUM = 1  # + -
    TIMES = 2  # x (multiplicity)
    PRODUCT = 3  # *
    UNARY = 4  # -a
    ATOM = 5  # names, literals, calls, a[i], and compact irreps such as 16x0e


_BINOP_PRECEDENCE = {
    ast.BinOpKind.ADD: Precedence.SUM,
    ast.BinOpKind.SUB: Precedence.SUM,
    ast.BinOpKind.TIMES: Precedence.TIMES,
    ast.BinOpKind.MUL: Precedence.PRODUCT,
}


def format_expr(expr: ast.Expr | ast.Keyword) -> str:
    """One expression as canonical text on one line (also used to show types in messages).

    >>> model = parse("model M() { t = (16 x 0e + 8 x 1o) over nodes }").models[0]
    >>> format_expr(model.body[0].value)
    '16x0e + 8x1o over nodes'
    """
    return _EXPR_FORMATTERS[type(expr)](expr)


def precedence(expr: ast.Expr) -> Precedence:
    if isinstance(expr, ast.BinOp):
        return Precedence.ATOM if _is_mul_irrep(expr) else _BINOP_PRECEDENCE[expr.op]
    return _NODE_PRECEDENCE.get(type(expr), Precedence.ATOM)


_NODE_PRECEDENCE = {ast.Over: Precedence.OVER, ast.Neg: Precedence.UNARY}


def _is_mul_irrep(expr: ast.BinOp) -> bool:
    """``16 x 0e``: the lexer reads ``16x0e`` as one token, so it prints as an atom."""
    return (
        expr.op is ast.BinOpKind.TIMES
        and isinstance(expr.left, ast.Int)
        and isinstance(expr.right, ast.Irrep)
    )


def _operand(expr: ast.Expr, loosest: Precedence) -> str:
    # Formats first, then wraps: two stack frames per nesting level keep deep (256-operator)
    # expressions well inside Python's recursion limit.
    text = format_expr(expr)
    return f"({text})" if precedence(expr) < loosest else text


def _binop(expr: ast.BinOp) -> str:
    if _is_mul_irrep(expr):
        return f"{expr.left.value}x{_irrep(expr.right)}"
    level = _BINOP_PRECEDENCE[expr.op]
    # Left-associative: an equally tight operator on the right keeps its parens.
    left = _operand(expr.left, level)
    right = _operand(expr.right, Precedence(level + 1))
    return f"{left} {expr.op.value} {right}"


def _over(expr: ast.Over) -> str:
    axes = [a.id for a in expr.axes]
    shown = axes[0] if len(axes) == 1 else f"({', '.join(axes)})"
    return f"{_operand(expr.value, Precedence.SUM)} over {shown}"


def _call(expr: ast.Call) -> str:
    return f"{expr.func.id}({', '.join(call_arguments(expr))})"


def call_arguments(expr: ast.Call) -> list[str]:
    """Positional arguments, then ``name=value`` keywords, each as text."""
    return [format_expr(a) for a in expr.args] + [format_expr(k) for k in expr.kwargs]


def _irrep(expr: ast.Irrep) -> str:
    return f"{expr.l}{expr.parity}"


def format_float(value: float) -> str:
    """The shortest text that reads back as ``value``, with a plain exponent (``1e-5``)."""
    if math.isinf(value):
        return "1e999"  # the lexer reads an overflowing literal as infinity
    mantissa, _, exponent = repr(value).partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"})


def format_string(value: str) -> str:
    return f'"{value.translate(_STRING_ESCAPES)}"'


_EXPR_FORMATTERS: dict[type, Callable[[Any], str]] = {
    ast.Name: lambda e: e.id,
    ast.Int: lambda e: str(e.value),
    ast.Float: lambda e: format_float(e.value),
    ast.Str: lambda e: format_string(e.value),
    ast.Bool: lambda e: "true" if e.value else "false",
    ast.Irrep: _irrep,
    ast.List: lambda e: f"[{', '.join(format_expr(i) for i in e.items)}]",
    ast.Keyword: lambda e: f"{e.name.id}={format_expr(e.value)}",
    ast.Call: _call,
    ast.Index: lambda e: f"{_operand(e.value, Precedence.ATOM)}[{format_expr(e.index)}]",
    ast.BinOp: _binop,
    ast.Neg: lambda e: f"-{_operand(e.operand, Precedence.UNARY)}",
    ast.Over: _over,
}


# --- statements and headers, without comments -----------------------------------------------


def _breaks(stmt: ast.Breaks) -> str:
    to = f" to {format_expr(stmt.to)}" if stmt.to is not None else ""
    by = ", ".join(n.id for n in stmt.by)
    return f"breaks {format_expr(stmt.group)}{to} by {by}"


def _targets(stmt: ast.Assign) -> str:
    return ", ".join(t.id for t in stmt.targets)


# Each simple statement as (text before its value, value): the value is what may break.
_STMT_PARTS: dict[type, Callable[[Any], tuple[str, ast.Expr | None]]] = {
    ast.Symmetry: lambda s: ("symmetry " + " x ".join(map(format_expr, s.factors)), None),
    ast.Breaks: lambda s: (_breaks(s), None),
    ast.Domain: lambda s: ("domain ", s.value),
    ast.Input: lambda s: (f"input {s.name.id}: {format_expr(s.type)}", None),
    ast.Output: lambda s: (f"output {s.name.id}: {format_expr(s.type)} = ", s.value),
    ast.Assign: lambda s: (f"{_targets(s)} = ", s.value),
    ast.Return: lambda s: ("return " + ", ".join(map(format_expr, s.values)), None),
}


def statement_lines(stmt: ast.Stmt, indent: str) -> list[str]:
    """A simple statement: one line, or its outermost call broken one argument per line."""
    head, value = _STMT_PARTS[type(stmt)](stmt)
    line = indent + head + (format_expr(value) if value is not None else "")
    if len(line) <= LINE_LIMIT or not isinstance(value, ast.Call):
        return [line]
    arguments = call_arguments(value)
    if not arguments:
        return [line]
    inner = indent + INDENT
    return [f"{indent}{head}{value.func.id}(", *(f"{inner}{a}," for a in arguments), f"{indent})"]


def _param(param: ast.Param) -> str:
    text = param.name.id
    if param.type is not None:
        text += f": {format_expr(param.type)}"
    if param.default is not None:
        text += f" = {format_expr(param.default)}"
    return text


def _returns(item: ast.Block | ast.Model) -> str:
    returns = getattr(item, "returns", None)
    if not returns:
        return ""
    shown = map(format_expr, returns)
    return f" -> {next(shown)}" if len(returns) == 1 else f" -> ({', '.join(shown)})"


_ITEM_KEYWORD = {ast.Block: "block", ast.Model: "model"}


def header_lines(item: ast.Block | ast.Model, opener: str) -> list[str]:
    """``block f(...) -> T {``; past the line limit, one parameter per line (black style)."""
    params = [_param(p) for p in item.params]
    start = f"{_ITEM_KEYWORD[type(item)]} {item.name.id}("
    tail = f"){_returns(item)} {opener}"
    line = start + ", ".join(params) + tail
    if len(line) <= LINE_LIMIT or not params:
        return [line]
    return [start, *(f"{INDENT}{p}," for p in params), tail]


# --- attaching comments to constructs -------------------------------------------------------


class Role(enum.Enum):
    HEAD = "head"  # an item header or a statement (its first line)
    CLOSE = "close"  # the `}` that ends a body
    END = "end"  # the end of the file


Key = tuple[Role, int]  # (role, id of the node): equal nodes at two places are distinct
END_KEY: Key = (Role.END, 0)


@dataclass(frozen=True)
class _Anchor:
    """A place comments attach to, in source order."""

    key: Key
    line: int
    col: int
    last_line: int  # the last line of its head: comments up to here are inside it


@dataclass
class Attached:
    """Comments by anchor: own lines before it, from inside it, at the end of its first line."""

    leading: dict[Key, list[ast.Comment]] = field(default_factory=lambda: defaultdict(list))
    inner: dict[Key, list[ast.Comment]] = field(default_factory=lambda: defaultdict(list))
    trailing: dict[Key, ast.Comment] = field(default_factory=dict)


def attach_comments(module: ast.Module) -> Attached:
    """Give each comment to the last anchor that starts before it, or to the next one when
    it stands on a line of its own after that anchor's head."""
    anchors = list(_anchors(module))
    starts = [(a.line, a.col) for a in anchors]
    attached = Attached()
    for comment in sorted(module.comments, key=lambda c: (c.line, c.col)):
        at = bisect.bisect_left(starts, (comment.line, comment.col)) - 1
        anchor = anchors[at] if at >= 0 else None
        if anchor is not None and _trails(anchor, comment, attached.trailing):
            attached.trailing[anchor.key] = comment
        elif anchor is not None and comment.line <= anchor.last_line:
            attached.inner[anchor.key].append(comment)
        else:
            following = anchors[at + 1].key if at + 1 < len(anchors) else END_KEY
            attached.leading[following].append(comment)
    return attached


def _trails(anchor: _Anchor, comment: ast.Comment, trailing: dict[Key, ast.Comment]) -> bool:
    """A comment ending the first line of a construct, or else its last line, trails it."""
    if comment.line == anchor.line:
        return True
    return comment.line == anchor.last_line and anchor.key not in trailing


def _anchors(module: ast.Module) -> Iterator[_Anchor]:
    for item in module.items:
        yield _head(item, _item_head_end(item))
        if not isinstance(item, ast.Import):
            yield from _body_anchors(item, item.body)


def _body_anchors(owner: ast.Node, body: tuple[ast.Stmt, ...]) -> Iterator[_Anchor]:
    for stmt in body:
        if isinstance(stmt, ast.Repeat):
            yield _head(stmt, stmt.count.span.end_line)
            yield from _body_anchors(stmt, stmt.body)
        elif isinstance(stmt, ast.Canonical):
            yield _head(stmt, stmt.span.line)
            yield from _body_anchors(stmt, stmt.body)
        else:
            yield _head(stmt, stmt.span.end_line)
    span = owner.span
    yield _Anchor((Role.CLOSE, id(owner)), span.end_line, span.end_col - 1, span.end_line)


def _head(node: ast.Node, last_line: int) -> _Anchor:
    return _Anchor((Role.HEAD, id(node)), node.span.line, node.span.col, last_line)


def _item_head_end(item: ast.Item) -> int:
    if isinstance(item, ast.Import):
        return item.span.end_line
    parts: list[ast.Node] = [item.name, *item.params, *(getattr(item, "returns", None) or ())]
    return max(p.span.end_line for p in parts)


# --- printing -------------------------------------------------------------------------------


def _key(role: Role, node: ast.Node) -> Key:
    return (role, id(node))


@dataclass
class _Printer:
    """Writes the canonical lines of one module, putting each attached comment back."""

    comments: Attached
    lines: list[str] = field(default_factory=list)

    def module(self, module: ast.Module) -> str:
        previous: int | None = None
        for item in module.items:
            # Top-level items are always one blank line apart.
            self._leading(_key(Role.HEAD, item), item.span.line, previous, "", previous is not None)
            _ITEM_PRINTERS[type(item)](self, item)
            previous = item.span.end_line
        if self.comments.leading.get(END_KEY):
            self._leading(END_KEY, 0, previous, "", separate=True)
        return "\n".join(self.lines) + "\n"

    def _import(self, item: ast.Import) -> None:
        self._emit([f"import {format_string(item.path.value)}"], _key(Role.HEAD, item))

    def _item(self, item: ast.Block | ast.Model) -> None:
        compact = self._compact(item, item.body)
        self._emit(header_lines(item, "{}" if compact else "{"), *_head_keys(item, compact))
        if not compact:
            self._body(item, item.body, 1)

    def _repeat(self, stmt: ast.Repeat, depth: int) -> None:
        compact = self._compact(stmt, stmt.body)
        line = f"{INDENT * depth}repeat {format_expr(stmt.count)} {'{}' if compact else '{'}"
        self._emit([line], *_head_keys(stmt, compact))
        if not compact:
            self._body(stmt, stmt.body, depth + 1)

    def _canonical(self, stmt: ast.Canonical, depth: int) -> None:
        compact = self._compact(stmt, stmt.body)
        self._emit(
            [f"{INDENT * depth}canonical {'{}' if compact else '{'}"], *_head_keys(stmt, compact)
        )
        if not compact:
            self._body(stmt, stmt.body, depth + 1)

    def _compact(self, owner: ast.Node, body: tuple[ast.Stmt, ...]) -> bool:
        """An empty body prints as ``{}`` unless comments need lines of their own.

        On one line, a comment after ``{}`` reads back as the comment of the ``}``, so the
        header and the ``}`` have room for one trailing comment between them.
        """
        head, close = _key(Role.HEAD, owner), _key(Role.CLOSE, owner)
        trailing = self.comments.trailing
        both = head in trailing and close in trailing
        return not body and not self.comments.leading.get(close) and not both

    def _body(self, owner: ast.Node, body: tuple[ast.Stmt, ...], depth: int) -> None:
        indent = INDENT * depth
        previous: int | None = None  # no blank line right after `{`
        for stmt in body:
            self._leading(_key(Role.HEAD, stmt), stmt.span.line, previous, indent)
            if isinstance(stmt, ast.Repeat):
                self._repeat(stmt, depth)
            elif isinstance(stmt, ast.Canonical):
                self._canonical(stmt, depth)
            else:
                self._emit(statement_lines(stmt, indent), _key(Role.HEAD, stmt))
            previous = stmt.span.end_line
        close = _key(Role.CLOSE, owner)
        self._leading(close, 0, previous, indent)  # no blank line right before `}`
        self._emit([INDENT * (depth - 1) + "}"], close)

    def _leading(
        self, key: Key, line: int, previous: int | None, indent: str, separate: bool = False
    ) -> None:
        """Own-line comments before the construct at source ``line``, then those moved out of
        its inside. Blank lines the source had among them survive, one at most; ``separate``
        asks for one before whatever comes first."""
        comments = self.comments.leading.get(key, [])
        self._blank_line(separate)
        last = previous
        for comment in comments:
            self._blank_line(last is not None and comment.line - last > 1)
            self.lines.append(indent + _text(comment))
            last = comment.line
        self._blank_line(last is not None and line - last > 1)
        self.lines.extend(indent + _text(c) for c in self.comments.inner.get(key, []))

    def _blank_line(self, wanted: bool) -> None:
        if wanted and self.lines and self.lines[-1]:
            self.lines.append("")

    def _emit(self, lines: list[str], *keys: Key) -> None:
        """Write a construct's lines, a trailing comment at the end of the first one."""
        trailing = next(
            (self.comments.trailing[k] for k in keys if k in self.comments.trailing), None
        )
        if trailing is not None:
            lines = [f"{lines[0]}  {_text(trailing)}", *lines[1:]]
        self.lines.extend(lines)


_ITEM_PRINTERS: dict[type, Callable[[_Printer, Any], None]] = {
    ast.Import: _Printer._import,
    ast.Block: _Printer._item,
    ast.Model: _Printer._item,
}


def _head_keys(owner: ast.Node, compact: bool) -> list[Key]:
    """Where a header's trailing comment comes from; ``{}`` also carries the ``}``'s."""
    head = _key(Role.HEAD, owner)
    return [head, _key(Role.CLOSE, owner)] if compact else [head]


def _text(comment: ast.Comment) -> str:
    return comment.text.rstrip()  # a comment's trailing blanks are layout, not content


# --- entry points ---------------------------------------------------------------------------


def format_module(module: ast.Module) -> str:
    """The canonical text of a parsed module, comments included, ending in one newline."""
    return _Printer(attach_comments(module)).module(module)


def format_source(text: str, file: str = "<string>") -> str:
    """Parse ``text`` and lay it out canonically; syntax errors raise :class:`GeoError`."""
    return format_module(parse(text, file))


__all__ = [
    "LINE_LIMIT",
    "attach_comments",
    "format_expr",
    "format_float",
    "format_module",
    "format_source",
    "format_string",
]
