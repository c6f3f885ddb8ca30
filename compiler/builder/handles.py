"""The handles of the Python builder: named or unnamed expressions (:class:`Tensor`), defined
blocks, the bodies of ``with b.repeat(n):`` and the scopes that count a name's bindings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from geoc.builder.sites import caller_site
from geoc.grammar import ast
from geoc.grammar.formatter import format_expr

if TYPE_CHECKING:
    from geoc.builder.api import Builder


@dataclass(eq=False)
class Scope:
    """The names bound in a model or block body, each with the count of its bindings."""

    owner: str
    versions: dict[str, int] = field(default_factory=dict)

    def bind(self, name: str) -> int:
        self.versions[name] = self.versions.get(name, 0) + 1
        return self.versions[name]


Operand = Union["Tensor", int, float, str]


def _binary_operator(op: ast.BinOpKind) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
    """A Python operator and its reflected form (``a + 1`` and ``1 + a``) building ``op``."""

    def forward(self: Tensor, other: Operand) -> Tensor:
        return self._builder._binary(op, self, other)

    def reflected(self: Tensor, other: Operand) -> Tensor:
        return self._builder._binary(op, other, self)

    return forward, reflected


class Tensor:
    """A tensor-valued expression under construction; Python operators build .geo operators:
    ``x["dst"] - x["src"]``, ``s * v``, ``a + b``, ``-a``, ``0.5 * x``."""

    __slots__ = ("_builder", "_expr", "_scope", "_used", "_version")

    def __init__(self, builder: Builder, expr: ast.Expr, version: int | None = None) -> None:
        self._builder = builder
        self._expr = expr
        self._scope = builder._scopes[-1]  # the model or block body it belongs to
        self._version = version  # a named handle: which binding of its name it is
        self._used = False

    def __repr__(self) -> str:
        return f"Tensor({format_expr(self._expr)})"

    @property
    def expr(self) -> ast.Expr:
        """The .geo expression this handle stands for."""
        return self._expr

    __add__, __radd__ = _binary_operator(ast.BinOpKind.ADD)
    __sub__, __rsub__ = _binary_operator(ast.BinOpKind.SUB)
    __mul__, __rmul__ = _binary_operator(ast.BinOpKind.MUL)

    def __neg__(self) -> Tensor:
        site = caller_site()
        operand = self._builder._expr(self, site.part("operand"))
        return Tensor(self._builder, ast.Neg(operand=operand, span=site.span))

    def __getitem__(self, end: str | Tensor) -> Tensor:
        """``x["src"]`` / ``x["dst"]``: gather node values onto edges."""
        return self._builder._index(self, end, caller_site())

    def __iter__(self) -> Iterator[Tensor]:
        raise TypeError("bind a block's several results with `b.let(('a', 'b'), value)`")


class Block:
    """A block defined with :meth:`Builder.block`; calling it writes a call to it."""

    def __init__(self, builder: Builder, name: str) -> None:
        self._builder = builder
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        return self._builder._call(self.name, args, kwargs, caller_site(), offset=0)

    def __repr__(self) -> str:
        return f"Block({self.name})"


class Body:
    """``with b.repeat(n):`` / ``with b.canonical():`` collect the statements of a body; ``make``
    wraps them in their statement when the ``with`` ends without an error."""

    def __init__(self, builder: Builder, make: Callable[[tuple[ast.Stmt, ...]], ast.Stmt]) -> None:
        self._builder, self._make = builder, make

    def __enter__(self) -> None:
        self._builder._bodies.append([])

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        body = self._builder._bodies.pop()
        if kind is None:
            self._builder._emit(self._make(tuple(body)))
