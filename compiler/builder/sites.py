"""Where a builder call stands in the Python source, and .geo text parsed in place.

Every builder call records the span of the Python expression that made it: the innermost frame
outside this package, the expression at its position, and (for a string literal) where each
piece of the parsed .geo text sits inside the literal. Python numbers and symmetry chains become
the AST nodes the parser would make.
"""

from __future__ import annotations

import ast as pyast
import dataclasses
import functools
import inspect
import linecache
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from geoc.diagnostics import GeoError, Span
from geoc.grammar import ast
from geoc.grammar.parser import parse_expr

_PACKAGE = Path(__file__).parent  # frames in the builder's own modules are not the caller's


# ---------------------------------------------------------------------------------------------
# Where a builder call stands in the Python source


@dataclass(frozen=True)
class Site:
    """The Python expression that called the builder, and its sub-expressions' spans."""

    span: Span
    node: pyast.expr | None = None

    def arg(self, index: int | None, keyword: str | None = None) -> Site:
        """The ``index``-th positional argument of the call, or the ``keyword`` one."""
        call = self.node
        if isinstance(call, pyast.Call):
            args = call.args
            starred = any(isinstance(a, pyast.Starred) for a in args)
            if index is not None and index < len(args) and not starred:
                return self._child(args[index])
            for kw in call.keywords:
                if kw.arg is not None and kw.arg == keyword:
                    return self._child(kw.value)
        return Site(self.span)

    def part(self, attr: str) -> Site:
        """A named child of the expression: ``left``/``right`` of ``a - b``, ``slice``..."""
        child = getattr(self.node, attr, None)
        return self._child(child) if isinstance(child, pyast.expr) else Site(self.span)

    def entry(self, key: str) -> Site:
        """The value of ``key`` in a dict display (``{"hidden": 64}``)."""
        if isinstance(self.node, pyast.Dict):
            for k, v in zip(self.node.keys, self.node.values, strict=True):
                if isinstance(k, pyast.Constant) and k.value == key:
                    return self._child(v)
        return Site(self.span)

    def items(self) -> list[Site]:
        """The elements of a list or tuple display."""
        if isinstance(self.node, (pyast.List, pyast.Tuple)):
            return [self._child(e) for e in self.node.elts]
        return []

    def _child(self, node: pyast.expr) -> Site:
        return Site(_node_span(self.span.file, node), node)


def caller_site() -> Site:
    """The innermost frame outside this package: the user's line that called the builder."""
    frame: FrameType | None = inspect.currentframe()
    while frame is not None and Path(frame.f_code.co_filename).parent == _PACKAGE:
        frame = frame.f_back
    if frame is None:  # pragma: no cover - the builder is always called from somewhere
        return Site(Span("<builder>", 1, 1, 1, 1))
    file = frame.f_code.co_filename
    positions = getattr(inspect.getframeinfo(frame, context=0), "positions", None)
    if positions is None or positions.col_offset is None:
        line = frame.f_lineno
        return Site(Span(file, line, 1, line, len(_line(file, line)) + 1))
    key = (positions.lineno, positions.end_lineno, positions.col_offset, positions.end_col_offset)
    node = _python_nodes(file, file_text(file)).get(key)
    start = _char_col(file, positions.lineno, positions.col_offset)
    end = _char_col(file, positions.end_lineno, positions.end_col_offset)
    return Site(Span(file, positions.lineno, start, positions.end_lineno, end), node)


def file_text(file: str) -> str:
    return "".join(linecache.getlines(file))


def _line(file: str, line: int) -> str:
    return linecache.getline(file, line).rstrip("\n")


def _char_col(file: str, line: int, byte_col: int) -> int:
    """Python columns count UTF-8 bytes; spans count characters (1-based)."""
    text = _line(file, line).encode("utf-8")
    return len(text[:byte_col].decode("utf-8", errors="ignore")) + 1


def _node_span(file: str, node: pyast.expr) -> Span:
    start = _char_col(file, node.lineno, node.col_offset)
    end_line = node.end_lineno or node.lineno
    end = _char_col(file, end_line, node.end_col_offset or node.col_offset)
    return Span(file, node.lineno, start, end_line, end)


@functools.lru_cache(maxsize=32)
def _python_nodes(file: str, text: str) -> dict[tuple, pyast.expr]:
    """Every expression of a Python file, keyed by its position (to find a call's arguments)."""
    try:
        tree = pyast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    return {
        (n.lineno, n.end_lineno, n.col_offset, n.end_col_offset): n
        for n in pyast.walk(tree)
        if isinstance(n, pyast.expr)
    }


# ---------------------------------------------------------------------------------------------
# From Python values to .geo expressions


def respan(node: Any, move: Callable[[Span], Span]) -> Any:
    """A copy of an AST (sub)tree with every span mapped by ``move``."""
    if isinstance(node, tuple):
        return tuple(respan(n, move) for n in node)
    if not isinstance(node, ast.Node):
        return node
    changes = {
        f.name: respan(getattr(node, f.name), move)
        for f in dataclasses.fields(node)
        if f.name != "span"
    }
    return dataclasses.replace(node, span=move(node.span), **changes)


def parse_at(text: str, site: Site) -> ast.Expr:
    """Parse ``text`` as a .geo expression whose spans point into the Python string literal
    at ``site`` (or at the whole site when the literal cannot be located)."""
    move = _string_mover(text, site)
    try:
        expr = parse_expr(text, "<builder>")
    except GeoError as err:
        moved = [dataclasses.replace(d, span=d.span and move(d.span)) for d in err.diagnostics]
        raise GeoError(moved, {site.span.file: file_text(site.span.file)}) from None
    return respan(expr, move)


def _string_mover(text: str, site: Site) -> Callable[[Span], Span]:
    node, span = site.node, site.span
    literal = _line(span.file, span.line)[span.col - 1 : span.end_col - 1]
    plain = (
        isinstance(node, pyast.Constant)
        and span.line == span.end_line
        and literal[:1] in "'\""
        and literal[1:-1] == text
        and "\n" not in text
    )
    if not plain:
        return lambda _: span
    base = span.col + (len(text) - len(text.lstrip()))  # parse_expr strips the text
    return lambda s: Span(span.file, span.line, base + s.col, span.line, base + s.end_col)


def func_span(site: Site, op: str) -> Span:
    """The operator's name inside its string literal, for did-you-mean carets."""
    span = site.span
    if isinstance(site.node, pyast.Constant) and span.line == span.end_line:
        return Span(span.file, span.line, span.col + 1, span.line, span.col + 1 + len(op))
    return span


def number_literal(value: int | float, span: Span) -> ast.Expr:
    """A number as the parser reads it: negative numbers are negated literals."""
    kind = ast.Int if isinstance(value, int) else ast.Float
    if value < 0:
        return ast.Neg(operand=kind(value=-value, span=span), span=span)
    return kind(value=value, span=span)


def symmetry_factors(expr: ast.Expr) -> list[ast.Expr]:
    """``E(3) x S(nodes)`` parses as a multiplicity chain; a symmetry lists its factors."""
    if isinstance(expr, ast.BinOp) and expr.op is ast.BinOpKind.TIMES:
        return symmetry_factors(expr.left) + symmetry_factors(expr.right)
    return [expr]
