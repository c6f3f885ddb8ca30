"""Build a model from Python: the same AST as the parser, so the same IR and diagnostics.

Every builder call records the AST node the parser would have made, with a span that points
at the Python line (and columns) that made it; :meth:`Builder.build` then runs the compiler's
own path (imports, elaboration, the static proof). Strings stand for `.geo` expressions:
``"hidden x scalar"`` is a feature type, ``"silu"`` a symbol, ``"hidden"`` a parameter.

    >>> b = Builder("Tiny", params={"width": 2})
    >>> x = b.input("x", "4 x scalar")
    >>> b.output("y", "width x scalar", b.call("linear", x, "width x scalar"))
    >>> str(b.build().outputs["y"].type)
    '2 x scalar'

Handles are values *named* in the spec: ``b.input`` and ``b.let`` return handles that may be
used any number of times; an unnamed expression (``b.call(...)``, ``a + b``) is written once
into the spec where it is used, so reusing it would silently copy it (weights included) and
is refused: bind it with ``b.let`` first.
"""

from __future__ import annotations

import dataclasses
import linecache
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from geoc.builder.handles import Block, Body, Operand, Scope, Tensor
from geoc.builder.sites import (
    Site,
    caller_site,
    file_text,
    func_span,
    number_literal,
    parse_at,
    respan,
    symmetry_factors,
)
from geoc.diagnostics import Span
from geoc.domains import Domain
from geoc.grammar import ast
from geoc.grammar.formatter import format_module
from geoc.grammar.structure import check_structure
from geoc.groups import Group
from geoc.initialisers import Initialiser
from geoc.ir import Graph
from geoc.pipeline import middle_end
from geoc.program import Program, load_program
from geoc.types import FeatureType

_PARAM_TYPES = {int: "int", float: "float", bool: "bool", str: "str"}


class BuilderError(ValueError):
    """A misuse of the Python API that has no `.geo` spelling (a stale or reused handle)."""


@dataclass(frozen=True)
class Text:
    """A string literal (``"..."`` in .geo); plain Python strings are parsed as expressions."""

    value: str


# ---------------------------------------------------------------------------------------------
# The builder


ParamType = str | type | tuple[Any, Any] | None


class Builder:
    """Writes one model (and its blocks) as .geo AST, from Python calls."""

    def __init__(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        site = caller_site()
        self.name = name
        self._site = site
        self._files = {site.span.file}
        self._imports: list[ast.Import] = []
        self._blocks: list[ast.Block] = []
        self._bodies: list[list[ast.Stmt]] = [[]]
        self._scopes = [Scope(name)]
        self._params = tuple(
            self._model_param(k, v, site.arg(1, "params")) for k, v in (params or {}).items()
        )

    # --- declarations ---

    def import_(self, path: str) -> None:
        """``import "path"``: a .geo file relative to the calling Python file, or a built-in
        spec name such as ``"egnn"``; its blocks become callable with :meth:`call`."""
        site = caller_site()
        span = site.arg(0, "path").span
        self._imports.append(ast.Import(path=ast.Str(value=path, span=span), span=site.span))

    def symmetry(self, *factors: str | Group) -> None:
        """``symmetry E(3) x S(nodes)``: one string with ``x``, or one factor per argument."""
        site = caller_site()
        exprs: list[ast.Expr] = []
        for i, factor in enumerate(factors):
            exprs.extend(symmetry_factors(self._parse(str(factor), site.arg(i))))
        self._emit(ast.Symmetry(factors=tuple(exprs), span=site.span))

    def breaks(self, part: str, *by: str, to: str | None = None) -> None:
        """``breaks T(3) by x``: the values named in ``by`` break ``part`` of the group."""
        site = caller_site()
        kept = self._parse(to, site.arg(None, "to")) if to else None
        names = tuple(ast.Name(id=n, span=site.arg(i + 1).span) for i, n in enumerate(by))
        group = self._parse(part, site.arg(0, "part"))
        self._emit(ast.Breaks(group=group, to=kept, by=names, span=site.span))

    def domain(self, domain: str | Domain) -> None:
        """``domain pointcloud(nodes, dim=3, edges=full)``."""
        site = caller_site()
        value = self._parse(str(domain), site.arg(0, "domain"))
        self._emit(ast.Domain(value=value, span=site.span))

    def param(self, name: str) -> Tensor:
        """A compile-time parameter by name, for lists and keywords (``[hidden, 1]``)."""
        site = caller_site()
        return self._named(name, site.arg(0, "name").span)

    def input(self, name: str, type: str | FeatureType) -> Tensor:
        """``input name: T``; returns the input's handle."""
        site = caller_site()
        type_expr = self._parse(str(type), site.arg(1, "type"))
        target = ast.Name(id=name, span=site.arg(0, "name").span)
        self._emit(ast.Input(name=target, type=type_expr, span=site.span))
        return self._bind(target)

    @overload
    def let(self, names: str, value: Operand) -> Tensor: ...
    @overload
    def let(self, names: Sequence[str], value: Operand) -> tuple[Tensor, ...]: ...
    def let(self, names: str | Sequence[str], value: Operand) -> Tensor | tuple[Tensor, ...]:
        """``name = value`` (or ``a, b = value`` for a block's results); returns the handles."""
        site = caller_site()
        several = not isinstance(names, str)
        listed = [names] if isinstance(names, str) else list(names)
        name_sites = site.arg(0, "names").items() if several else [site.arg(0, "names")]
        spans = [s.span for s in name_sites] if len(name_sites) == len(listed) else None
        targets = tuple(
            ast.Name(id=n, span=spans[i] if spans else site.span) for i, n in enumerate(listed)
        )
        expr = self._expr(value, site.arg(1, "value"))
        self._emit(ast.Assign(targets=targets, value=expr, span=site.span))
        handles = tuple(self._bind(t) for t in targets)
        return handles if several else handles[0]

    def output(self, name: str, type: str | FeatureType, value: Operand) -> None:
        """``output name: T = value``."""
        site = caller_site()
        self._emit(
            ast.Output(
                name=ast.Name(id=name, span=site.arg(0, "name").span),
                type=self._parse(str(type), site.arg(1, "type")),
                value=self._expr(value, site.arg(2, "value")),
                span=site.span,
            )
        )

    def repeat(self, count: int | str) -> Body:
        """``with b.repeat("depth"):`` unrolls its statements, with own weights per iteration."""
        site = caller_site()
        times = self._expr(count, site.arg(0, "count"))
        return Body(self, lambda body: ast.Repeat(count=times, body=body, span=site.span))

    def canonical(self) -> Body:
        """``with b.canonical():`` types its statements without the geometric symmetry (values
        read must be invariant; docs/language.md, "Frames and canonicalisation")."""
        span = caller_site().span
        return Body(self, lambda body: ast.Canonical(body=body, span=span))

    @overload
    def block(
        self,
        name: str,
        params: Mapping[str, ParamType],
        returns: str | Sequence[str] | None = None,
        body: None = None,
    ) -> Callable[[Callable[..., Any]], Block]: ...
    @overload
    def block(
        self,
        name: str,
        params: Mapping[str, ParamType],
        returns: str | Sequence[str] | None,
        body: Callable[..., Any],
    ) -> Block: ...
    def block(
        self,
        name: str,
        params: Mapping[str, ParamType],
        returns: str | Sequence[str] | None = None,
        body: Callable[..., Any] | None = None,
    ) -> Block | Callable[[Callable[..., Any]], Block]:
        """``block name(params) -> returns { body }``. ``params`` maps each name to a type
        (``"hidden x scalar over nodes"`` or ``int``) or to ``(type, default)``. ``body``
        receives one handle per parameter and returns the block's value(s). Without ``body``
        this is a decorator. Returns a :class:`Block`, which writes calls to the block."""
        site = caller_site()
        header = self._block_header(name, params, returns, site)
        if body is None:
            return lambda fn: self._define(header, fn, site)
        return self._define(header, body, site)

    # --- calls ---

    def call(self, op: str, *args: Any, **kwargs: Any) -> Tensor:
        """``op(args..., key=value...)``: an operator or a block, as in .geo."""
        return self._call(op, args, kwargs, caller_site(), offset=1)

    def gather(self, x: Tensor, end: str) -> Tensor:
        """``x[end]`` (the same as ``x[end]`` on the handle)."""
        site = caller_site()
        value = self._expr(x, site.arg(0, "x"))
        index = self._parse(end, site.arg(1, "end"))
        return Tensor(self, ast.Index(value=value, index=index, span=site.span))

    # --- results ---

    def module(self) -> ast.Module:
        """The .geo AST of everything built so far."""
        file = self._site.span.file
        lines = max(1, len(linecache.getlines(file)))
        model = ast.Model(
            name=ast.Name(id=self.name, span=self._site.arg(0, "name").span),
            params=self._params,
            body=tuple(self._bodies[0]),
            span=self._site.span,
        )
        items = (*self._imports, *self._blocks, model)
        module = ast.Module(items=items, span=Span(file, 1, 1, lines, 1))
        check_structure(module, file_text(file))
        return module

    def program(self) -> Program:
        """The module with its imports loaded, as the parser's path would have it."""
        file = self._site.span.file
        path = Path(file) if Path(file).is_file() else None
        program = load_program(self.module(), file_text(file), path)
        program.sources.update({f: file_text(f) for f in self._files})
        return program

    def build(self, params: Mapping[str, Any] | None = None, verify: bool = False) -> Graph:
        """The typed, proven IR (``params`` override the defaults, as ``-p`` does)."""
        return middle_end(self.program(), dict(params or {}), None, verify)

    def source(self) -> str:
        """The model as .geo text."""
        # The printer keeps blank lines where spans leave gaps; Python lines say nothing.
        flat = respan(self.module(), lambda s: Span(s.file, 1, 1, 1, 1))
        return format_module(flat)

    # --- internals: statements, names, expressions ---

    def _emit(self, stmt: ast.Stmt) -> None:
        self._bodies[-1].append(stmt)

    def _bind(self, target: ast.Name) -> Tensor:
        return Tensor(self, target, self._scopes[-1].bind(target.id))

    def _named(self, name: str, span: Span) -> Tensor:
        """A handle for a name bound earlier in the current scope (a parameter)."""
        version = self._scopes[-1].versions.get(name, 0)
        return Tensor(self, ast.Name(id=name, span=span), version)

    def _model_param(self, name: str, value: Any, site: Site) -> ast.Param:
        """``name: int = 16`` from ``{"name": 16}``; ``{"name": int}`` has no default."""
        self._scopes[0].bind(name)
        site = site.entry(name)
        span = site.span
        kind = value if isinstance(value, type) else type(value)
        type_name = _PARAM_TYPES.get(kind)
        type_expr = ast.Name(id=type_name, span=span) if type_name else None
        default = None if isinstance(value, type) else self._expr(value, site)
        return ast.Param(
            name=ast.Name(id=name, span=span), type=type_expr, default=default, span=span
        )

    def _block_param(self, name: str, spec: ParamType, site: Site) -> ast.Param:
        kind, default = spec if isinstance(spec, tuple) else (spec, None)
        if isinstance(kind, type):
            kind = _PARAM_TYPES[kind]
        type_expr = None if kind is None else self._parse(str(kind), site)
        value = None if default is None else self._expr(default, site)
        return ast.Param(
            name=ast.Name(id=name, span=site.span), type=type_expr, default=value, span=site.span
        )

    def _block_header(
        self,
        name: str,
        params: Mapping[str, ParamType],
        returns: str | Sequence[str] | None,
        site: Site,
    ) -> ast.Block:
        """``block name(params) -> returns``: the block without its body."""
        params_site = site.arg(1, "params")
        specs = tuple(self._block_param(k, v, params_site.entry(k)) for k, v in params.items())
        returns_site = site.arg(2, "returns")
        declared = None
        if returns is not None:
            texts = [returns] if isinstance(returns, str) else list(returns)
            declared = tuple(self._parse(str(t), returns_site) for t in texts)
        name_node = ast.Name(id=name, span=site.arg(0, "name").span)
        return ast.Block(name=name_node, params=specs, returns=declared, body=(), span=site.span)

    def _define(self, header: ast.Block, body: Callable[..., Any], site: Site) -> Block:
        """The block ``header { body }``: ``body`` gets one handle per parameter."""
        name = header.name.id
        self._scopes.append(Scope(name))
        self._bodies.append([])
        try:
            handles = [self._bind(p.name) for p in header.params]
            result = body(*handles)
            values = result if isinstance(result, tuple) else (result,)
            exprs = tuple(self._expr(v, site) for v in values if v is not None)
            if exprs:
                self._emit(ast.Return(values=exprs, span=site.span))
            stmts = tuple(self._bodies[-1])
        finally:
            self._bodies.pop()
            self._scopes.pop()
        self._blocks.append(dataclasses.replace(header, body=stmts))
        return Block(self, name)

    def _call(
        self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], site: Site, offset: int
    ) -> Tensor:
        """``op(args, kwargs)``; ``offset`` is where ``args`` start among the Python call's
        arguments (1 for ``b.call(op, ...)``, 0 for a :class:`Block`)."""
        func_site = site.arg(0) if offset else site.part("func")
        positional = tuple(self._expr(a, site.arg(i + offset)) for i, a in enumerate(args))
        keywords = tuple(
            ast.Keyword(
                name=ast.Name(id=key, span=site.arg(None, key).span),
                value=self._expr(value, site.arg(None, key)),
                span=site.arg(None, key).span,
            )
            for key, value in kwargs.items()
        )
        func = ast.Name(id=op, span=func_span(func_site, op))
        return Tensor(self, ast.Call(func=func, args=positional, kwargs=keywords, span=site.span))

    def _binary(self, op: ast.BinOpKind, left: Operand, right: Operand) -> Tensor:
        """``left op right`` in source order (the reflected dunders pass them swapped)."""
        site = caller_site()
        left_site, right_site = site.part("left"), site.part("right")
        lhs, rhs = self._expr(left, left_site), self._expr(right, right_site)
        return Tensor(self, ast.BinOp(op=op, left=lhs, right=rhs, span=site.span))

    def _index(self, value: Tensor, end: str | Tensor, site: Site) -> Tensor:
        expr = self._expr(value, site.part("value"))
        index = self._expr(end, site.part("slice"))
        return Tensor(self, ast.Index(value=expr, index=index, span=site.span))

    def _parse(self, text: str, site: Site) -> ast.Expr:
        self._files.add(site.span.file)
        return parse_at(text, site)

    def _expr(self, value: Any, site: Site) -> ast.Expr:
        """The .geo expression for a Python value written at ``site``."""
        self._files.add(site.span.file)
        if isinstance(value, Tensor):
            return self._use(value, site.span)
        if isinstance(value, Text):
            return ast.Str(value=value.value, span=site.span)
        if isinstance(value, bool):
            return ast.Bool(value=value, span=site.span)
        if isinstance(value, (int, float)):
            return number_literal(value, site.span)
        if isinstance(value, (str, FeatureType, Initialiser)):  # `xavier(gain=0.001)`, too
            return self._parse(str(value), site)
        if isinstance(value, (list, tuple)):
            sites = site.items()
            items = tuple(
                self._expr(v, sites[i] if len(sites) == len(value) else site)
                for i, v in enumerate(value)
            )
            return ast.List(items=items, span=site.span)
        if isinstance(value, ast.Node):
            return value
        raise TypeError(f"cannot write a {type(value).__name__} into a .geo spec: {value!r}")

    def _use(self, handle: Tensor, span: Span) -> ast.Expr:
        """A handle written at ``span``: names may be used again, expressions only once."""
        if handle._builder is not self:
            raise BuilderError(f"{handle!r} belongs to another Builder")
        if handle._scope is not self._scopes[-1]:
            raise BuilderError(
                f"{handle!r} belongs to `{handle._scope.owner}` and is not visible in "
                f"`{self._scopes[-1].owner}` ({span}): pass it as an argument"
            )
        if handle._version is None:
            if handle._used:
                raise BuilderError(
                    f"{handle!r} is already written into the spec; using it again ({span}) would "
                    "copy it (weights included): bind it with `b.let(name, value)` first"
                )
            handle._used = True
            return handle._expr
        name = handle._expr.id  # type: ignore[union-attr]
        if handle._scope.versions.get(name, 0) != handle._version:
            raise BuilderError(
                f"`{name}` has been rebound since this handle was made ({span}); the spec can "
                "no longer name that value: bind it under another name"
            )
        return dataclasses.replace(handle._expr, span=span)
