"""The .geo abstract syntax tree: small immutable nodes, each with a source :class:`Span`.

Spans and comments are excluded from equality, so ``parse(format(src)) == parse(src)`` holds
exactly when the two programs are the same program.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Union

from geoc.diagnostics import Span

_NODE = dict(frozen=True, slots=True, kw_only=True)


@dataclass(**_NODE)
class Node:
    """Base of every AST node; ``span`` is where it stands in the source."""

    span: Span = field(compare=False, repr=False)

    def children(self) -> list[Node]:
        """Direct child nodes, in source order (for generic walks)."""
        out: list[Node] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, Node))
        return out


# --- expressions (values and feature types share one syntax) --------------------------------


@dataclass(**_NODE)
class Name(Node):
    id: str


@dataclass(**_NODE)
class Int(Node):
    value: int


@dataclass(**_NODE)
class Float(Node):
    value: float


@dataclass(**_NODE)
class Str(Node):
    value: str


@dataclass(**_NODE)
class Bool(Node):
    value: bool


@dataclass(**_NODE)
class Irrep(Node):
    """An O(3) irrep atom in e3nn notation: degree ``l`` and parity ``e`` (even) or ``o``."""

    l: int  # noqa: E741 - the physicists' name for the degree
    parity: str


@dataclass(**_NODE)
class List(Node):
    items: tuple[Expr, ...]


@dataclass(**_NODE)
class Keyword(Node):
    name: Name
    value: Expr


@dataclass(**_NODE)
class Call(Node):
    func: Name
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()


@dataclass(**_NODE)
class Index(Node):
    """``value[index]``: gathering node features onto edges (``x[src]``)."""

    value: Expr
    index: Expr


class BinOpKind(str, enum.Enum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    TIMES = "x"  # multiplicity in feature types: `16 x scalar`


@dataclass(**_NODE)
class BinOp(Node):
    op: BinOpKind
    left: Expr
    right: Expr


@dataclass(**_NODE)
class Neg(Node):
    operand: Expr


@dataclass(**_NODE)
class Over(Node):
    """A feature type placed on index axes: ``16 x scalar over nodes``."""

    value: Expr
    axes: tuple[Name, ...]


Expr = Union[Name, Int, Float, Str, Bool, Irrep, List, Call, Index, BinOp, Neg, Over]  # noqa: UP007


# --- statements -----------------------------------------------------------------------------


@dataclass(**_NODE)
class Symmetry(Node):
    """``symmetry E(3) x S(nodes)``: the factors of the model's group."""

    factors: tuple[Expr, ...]


@dataclass(**_NODE)
class Breaks(Node):
    """``breaks T(3) by x``: the values ``by`` names break ``group`` (a part of the symmetry);
    ``to`` names the subgroup of it that remains (``breaks SO(3) to SO(2) by lat``)."""

    group: Expr
    to: Expr | None
    by: tuple[Name, ...]


@dataclass(**_NODE)
class Domain(Node):
    value: Expr


@dataclass(**_NODE)
class Input(Node):
    name: Name
    type: Expr


@dataclass(**_NODE)
class Output(Node):
    name: Name
    type: Expr
    value: Expr


@dataclass(**_NODE)
class Assign(Node):
    targets: tuple[Name, ...]
    value: Expr


@dataclass(**_NODE)
class Repeat(Node):
    count: Expr
    body: tuple[Stmt, ...]


@dataclass(**_NODE)
class Canonical(Node):
    """``canonical { ... }``: statements typed without the geometric factor of the group."""

    body: tuple[Stmt, ...]


@dataclass(**_NODE)
class Return(Node):
    values: tuple[Expr, ...]


Stmt = Union[Symmetry, Breaks, Domain, Input, Output, Assign, Repeat, Canonical, Return]  # noqa: UP007


# --- top level ------------------------------------------------------------------------------


@dataclass(**_NODE)
class Param(Node):
    """A block argument or model parameter: ``hidden: int = 64`` or ``h: 16 x scalar``."""

    name: Name
    type: Expr | None = None
    default: Expr | None = None


@dataclass(**_NODE)
class Import(Node):
    path: Str


@dataclass(**_NODE)
class Block(Node):
    name: Name
    params: tuple[Param, ...]
    returns: tuple[Expr, ...] | None
    body: tuple[Stmt, ...]


@dataclass(**_NODE)
class Model(Node):
    name: Name
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


Item = Union[Import, Block, Model]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment, kept beside the tree so the formatter can put it back."""

    text: str
    line: int
    col: int


@dataclass(**_NODE)
class Module(Node):
    """One parsed file."""

    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)

    @property
    def models(self) -> list[Model]:
        return [i for i in self.items if isinstance(i, Model)]

    @property
    def blocks(self) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block)]

    @property
    def imports(self) -> list[Import]:
        return [i for i in self.items if isinstance(i, Import)]


def walk(node: Node) -> list[Node]:
    """Every node under ``node`` (itself first), depth first, without recursion."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.children()))
    return out


def dump(node: Node | tuple | object, indent: int = 0) -> str:
    """A stable, span-free, indented text form of a tree (golden files use it)."""
    pad = "  " * indent
    if isinstance(node, tuple):
        if not node:
            return pad + "()"
        return "\n".join(dump(n, indent) for n in node)
    if not isinstance(node, Node):
        return pad + repr(node.value if isinstance(node, enum.Enum) else node)
    head = pad + type(node).__name__
    lines = [head]
    for f in fields(node):
        if f.name in ("span", "comments"):
            continue
        value = getattr(node, f.name)
        if isinstance(value, (Node, tuple)) and value != ():
            lines.append(f"{pad}  .{f.name}:")
            lines.append(dump(value, indent + 2))
        else:
            shown = value.value if isinstance(value, enum.Enum) else value
            lines.append(f"{pad}  .{f.name} = {shown!r}")
    return "\n".join(lines)
