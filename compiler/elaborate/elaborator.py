"""Elaboration: AST -> typed IR.

Binds compile-time parameters, expands ``block`` calls and ``repeat`` (every iteration gets
its own weights), matches each call to its operator's signature (tensors, then attributes),
types every value by the operator's typing rule, and names every node after the spec."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain, domain_from_ast
from geoc.elaborate.constants import const_value, evaluate, is_number
from geoc.elaborate.declared import check_atoms
from geoc.elaborate.messages import factor_span, not_a_tensor, unknown_callee, unknown_name
from geoc.elaborate.signatures import (
    bind_params,
    block_param,
    check_arg_type,
    check_attr,
    check_returns,
    match_arguments,
)
from geoc.grammar import ast
from geoc.groups import Group, group_from_ast
from geoc.ir import Graph, Node, Port, ValueRef
from geoc.ops import ArgKind, AttrKind, OpContext, Param, infer_call, lookup, syntax_op
from geoc.program import Program
from geoc.types import FeatureType, points_dim, type_from_ast


@dataclass(frozen=True)
class Value:
    """A tensor value while elaborating: where it comes from and its type."""

    ref: ValueRef
    type: FeatureType


@dataclass(frozen=True)
class Const:
    """A compile-time value: int, float, bool, str, tuple, FeatureType or symbol (str)."""

    value: Any


Binding = Value | Const


@dataclass(frozen=True)
class Nested:
    """Naming hint for a value computed inside another: its id becomes ``parent.op``."""

    parent: str


Hint = str | Nested


class Scope:
    """Names visible in a model or block body, and the prefix of the node ids made there."""

    def __init__(self, prefix: str, env: dict[str, Binding]) -> None:
        self.prefix = prefix
        self.env = env
        self.counters: dict[str, int] = defaultdict(int)

    def consts(self) -> dict[str, object]:
        return {k: v.value for k, v in self.env.items() if isinstance(v, Const)}

    def child_prefix(self, base: str) -> str:
        """``base`` the first time, then ``base_1``, ``base_2``... within this scope."""
        count = self.counters[base]
        self.counters[base] += 1
        return f"{self.prefix}{base if count == 0 else f'{base}_{count}'}."


class Elaborator:
    def __init__(self, program: Program, model: ast.Model, overrides: dict[str, Any]) -> None:
        self.program = program
        self.model = model
        params = bind_params(model.params, overrides, model.name.span)
        self.group, self.domain = self._symmetry_and_domain(params)
        self.graph = Graph(model.name.id, self.group, self.domain, params, span=model.span)
        self.ids: set[str] = set()

    # --- model level ---

    def run(self) -> Graph:
        scope = Scope("", {k: Const(v) for k, v in self.graph.params.items()})
        self._statements(self.model.body, scope, in_block=False)
        self._check_ports()
        return self.graph

    def _symmetry_and_domain(self, params: dict[str, Any]) -> tuple[Group, Domain]:
        sym = [s for s in self.model.body if isinstance(s, ast.Symmetry)]
        dom = [s for s in self.model.body if isinstance(s, ast.Domain)]
        for stmts, what in ((sym, "symmetry"), (dom, "domain")):
            if len(stmts) > 1:
                raise GeoError(
                    Diagnostic(
                        "GEO209",
                        f"`{what}` is declared twice",
                        stmts[1].span,
                        help=f"declare `{what}` once",
                    )
                )
        domain = domain_from_ast(dom[0].value, params) if dom else Domain()
        group = group_from_ast(sym[0].factors, params) if sym else Group()
        for axis in group.permuted_axes:
            if axis not in domain.axes:
                raise GeoError(
                    Diagnostic(
                        "GEO406",
                        f"`S({axis})` permutes `{axis}`, but the domain has no such axis",
                        factor_span(sym[0], axis),
                        label="no such axis",
                        help=f"the domain's axes: {', '.join(domain.axes) or 'none'}",
                    )
                )
        domain.rules.check_symmetry(group, domain, sym[0].span if sym else None)
        return group.with_default_dim(domain.dim or self._points_dim(params)), domain

    def _points_dim(self, params: dict[str, Any]) -> int | None:
        """Without a geometric factor or a point cloud, the inputs' points fix the space
        that `vector` (e.g. `p - q`) lives in; a bad input type is reported at its input."""
        types = []
        for stmt in self.model.body:
            if isinstance(stmt, ast.Input):
                with contextlib.suppress(GeoError):
                    types.append(type_from_ast(stmt.type, params))
        return points_dim(types)

    def _check_ports(self) -> None:
        rules = self.domain.rules
        self.graph.positions = rules.positions(self.domain, self.graph.inputs, self.model.name.span)

    # --- statements ---

    def _statements(self, body: tuple[ast.Stmt, ...], scope: Scope, in_block: bool) -> list[Value]:
        for stmt in body:
            handler = _STATEMENTS[type(stmt)]
            result = handler(self, stmt, scope)
            if isinstance(stmt, ast.Return):
                return result
        return []

    def _input(self, stmt: ast.Input, scope: Scope) -> None:
        name = stmt.name.id
        ftype = self._new_port_type("input", stmt, self.graph.inputs, scope)
        self._check_axes(ftype, stmt.type)
        node = self._add(
            Node(
                id=f"input.{name}",
                op="input",
                attrs={"name": name},
                out_types=(ftype,),
                span=stmt.span,
            )
        )
        ref = ValueRef(node=node.id)
        self.graph.inputs[name] = Port(name=name, type=ftype, value=ref, span=stmt.span)
        scope.env[name] = Value(ref, ftype)

    def _output(self, stmt: ast.Output, scope: Scope) -> None:
        name = stmt.name.id
        declared = self._new_port_type("output", stmt, self.graph.outputs, scope)
        value = self.tensor(stmt.value, scope, scope.prefix + name)
        if not (self.group.same_rep(declared, value.type) and declared.axes == value.type.axes):
            raise GeoError(
                Diagnostic(
                    "GEO306",
                    f"output `{name}` is declared `{declared}` but its value is `{value.type}`",
                    stmt.value.span,
                    label=str(value.type),
                    help=f"declare `output {name}: {value.type}`, or change the value",
                )
            )
        self.graph.outputs[name] = Port(name=name, type=declared, value=value.ref, span=stmt.span)

    def _new_port_type(
        self, what: str, stmt: ast.Input | ast.Output, ports: dict[str, Port], scope: Scope
    ) -> FeatureType:
        """The declared type of a new input or output; GEO209 when its name is taken."""
        name = stmt.name.id
        if name in ports:
            raise GeoError(
                Diagnostic("GEO209", f"{what} `{name}` is declared twice", stmt.name.span)
            )
        return self._declared_type(stmt.type, scope)

    def _assign(self, stmt: ast.Assign, scope: Scope) -> None:
        hint = scope.prefix + stmt.targets[0].id
        result = self.evaluate(stmt.value, scope, hint)
        values = result if isinstance(result, tuple) else (result,)
        if len(values) != len(stmt.targets):
            raise GeoError(
                Diagnostic(
                    "GEO308",
                    f"{len(stmt.targets)} names but the value gives {len(values)}",
                    stmt.span,
                    help="bind as many names as the block returns",
                )
            )
        for target, value in zip(stmt.targets, values, strict=True):
            scope.env[target.id] = value

    def _repeat(self, stmt: ast.Repeat, scope: Scope) -> None:
        count = self.const(stmt.count, scope)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise GeoError(
                Diagnostic(
                    "GEO302",
                    "`repeat` needs a non-negative integer count",
                    stmt.count.span,
                    label=repr(count),
                )
            )
        base = scope.child_prefix("layers")
        for i in range(count):
            inner = Scope(f"{base}{i}.", scope.env)  # rebinding carries to the next iteration
            self._statements(stmt.body, inner, in_block=True)

    def _return(self, stmt: ast.Return, scope: Scope) -> list[Value]:
        return [self.tensor(v, scope, f"{scope.prefix}return") for v in stmt.values]

    def _declared_type(self, expr: ast.Expr, scope: Scope) -> FeatureType:
        ftype = type_from_ast(expr, scope.consts())
        type_ctx = OpContext("type", self.group, self.domain, expr.span)
        self.domain.rules.check_type(type_ctx, ftype)
        check_atoms(self.group, ftype, expr.span)
        return ftype

    def _check_axes(self, ftype: FeatureType, expr: ast.Expr) -> None:
        written = {a.id: a.span for a in expr.axes} if isinstance(expr, ast.Over) else {}
        for axis in ftype.axes:
            if axis not in self.domain.axes:
                raise GeoError(
                    Diagnostic(
                        "GEO203",
                        f"axis `{axis}` is not an axis of the domain `{self.domain}`",
                        written.get(axis, expr.span),
                        label="unknown axis",
                        help=f"the domain's axes: {', '.join(self.domain.axes) or 'none'}",
                    )
                )

    # --- expressions ---

    def evaluate(self, expr: ast.Expr, scope: Scope, hint: Hint) -> Value | tuple[Value, ...]:
        """A tensor expression; block calls may give several values."""
        if isinstance(expr, ast.Call) and expr.func.id in self.program.blocks:
            return self._block_call(expr, scope)
        return self.tensor(expr, scope, hint)

    def tensor(self, expr: ast.Expr, scope: Scope, hint: Hint) -> Value:
        handler = _TENSOR_FORMS.get(type(expr))
        if handler is None:
            raise GeoError(not_a_tensor(expr))
        return handler(self, expr, scope, hint)

    def _name(self, expr: ast.Name, scope: Scope, hint: Hint) -> Value:
        binding = scope.env.get(expr.id)
        if isinstance(binding, Value):
            return binding
        if isinstance(binding, Const):
            raise GeoError(
                Diagnostic(
                    "GEO303",
                    f"`{expr.id}` is a compile-time value ({binding.value!r}), not a tensor",
                    expr.span,
                    label="compile-time",
                    help="pass a tensor value here",
                )
            )
        raise GeoError(
            unknown_name(expr, [k for k, v in scope.env.items() if isinstance(v, Value)])
        )

    def _binop(self, expr: ast.BinOp, scope: Scope, hint: Hint) -> Value:
        if expr.op is ast.BinOpKind.TIMES:
            raise GeoError(not_a_tensor(expr))
        symbol = expr.op.value
        if expr.op is ast.BinOpKind.MUL:  # a number times a value: the one-tensor `*`
            for number, other in ((expr.left, expr.right), (expr.right, expr.left)):
                factor = evaluate(number, scope.consts())  # `0.5`, `-0.5`, a parameter, `2 * p`
                if is_number(factor):
                    op = syntax_op(symbol, tensors=1)
                    own = self._reserve(hint, op.name)
                    value = self.tensor(other, scope, Nested(own))
                    attrs = {op.attr_params[0].name: float(factor)}  # type: ignore[arg-type]
                    return self._apply(own, op.name, [value], [other.span], attrs, expr)
        op = syntax_op(symbol, tensors=2)
        own = self._reserve(hint, op.name)
        left = self.tensor(expr.left, scope, Nested(own))
        right = self.tensor(expr.right, scope, Nested(own))
        spans = [expr.left.span, expr.right.span]
        return self._apply(own, op.name, [left, right], spans, {}, expr)

    def _neg(self, expr: ast.Neg, scope: Scope, hint: Hint) -> Value:
        op = syntax_op("-", tensors=1)
        own = self._reserve(hint, op.name)
        value = self.tensor(expr.operand, scope, Nested(own))
        return self._apply(own, op.name, [value], [expr.operand.span], {}, expr)

    def _index(self, expr: ast.Index, scope: Scope, hint: Hint) -> Value:
        op = syntax_op("[]", tensors=1)
        (end_param,) = op.attr_params
        end = expr.index
        if not (isinstance(end, ast.Name) and end.id in end_param.choices):
            ends = " or ".join(f"`{c}`" for c in end_param.choices)
            raise GeoError(
                Diagnostic(
                    "GEO200",
                    f"index node values with {ends} (the ends of each edge)",
                    end.span,
                    label="not an edge end",
                    help="e.g. `x[dst] - x[src]`",
                )
            )
        own = self._reserve(hint, op.name)
        value = self.tensor(expr.value, scope, Nested(own))
        attrs = {end_param.name: end.id}
        return self._apply(own, op.name, [value], [expr.value.span], attrs, expr)

    def _call(self, expr: ast.Call, scope: Scope, hint: Hint) -> Value:
        if expr.func.id in self.program.blocks:
            result = self._block_call(expr, scope)
            if isinstance(result, tuple):
                raise GeoError(
                    Diagnostic(
                        "GEO308",
                        f"`{expr.func.id}` returns {len(result)} values; bind them with "
                        "`a, b = ...`",
                        expr.span,
                    )
                )
            return result
        op = lookup(expr.func.id)
        if op is None or not op.surface:
            raise GeoError(unknown_callee(expr, self.program))
        own = self._reserve(hint, op.name)
        tensors, attrs, spans = self._bind(op.params, expr, scope, Nested(own))
        return self._apply(own, op.name, tensors, spans, attrs, expr)

    def _apply(
        self,
        own: str,
        op_name: str,
        inputs: list[Value],
        spans: list[Span],
        attrs: dict[str, Any],
        expr: ast.Expr,
    ) -> Value:
        op = lookup(op_name)
        assert op is not None
        ctx = OpContext(op_name, self.group, self.domain, expr.span, tuple(spans))
        out_types = infer_call(ctx, op, [v.type for v in inputs], attrs)
        node = self._add(
            Node(
                id=own,
                op=op_name,
                inputs=tuple(v.ref for v in inputs),
                attrs=attrs,
                out_types=out_types,
                span=expr.span,
                arg_spans=tuple(spans),
            )
        )
        return Value(ValueRef(node=node.id), out_types[0])

    # --- argument binding ---

    def _bind(
        self,
        params: tuple[Param, ...],
        call: ast.Call,
        scope: Scope,
        hint: Hint,
    ) -> tuple[list[Value], dict[str, Any], list[Span]]:
        given = match_arguments(params, call)
        tensors: list[Value] = []
        spans: list[Span] = []
        attrs: dict[str, Any] = {}
        for param in params:
            exprs = given.get(param.name)
            if param.kind is ArgKind.ATTR:
                attrs[param.name] = (
                    param.default if exprs is None else self.attribute(exprs[0], param, scope)
                )
                continue
            for expr in exprs or ():
                tensors.append(self.tensor(expr, scope, hint))
                spans.append(expr.span)
        return tensors, attrs, spans

    def attribute(self, expr: ast.Expr, param: Param, scope: Scope) -> Any:
        if isinstance(expr, ast.Name) and isinstance(scope.env.get(expr.id), Value):
            raise GeoError(
                Diagnostic(
                    "GEO303",
                    f"`{expr.id}` is a tensor, but `{param.name}` is a compile-time "
                    f"{param.attr.value}",
                    expr.span,
                    label="tensor",
                    help=f"pass a compile-time value for `{param.name}`",
                )
            )
        if param.attr is AttrKind.TYPE:
            return self._declared_type(expr, scope)
        value = self.const(expr, scope, symbols=True)
        return check_attr(value, param, expr.span)

    def const(self, expr: ast.Expr, scope: Scope, symbols: bool = False) -> Any:
        return const_value(expr, scope.consts(), symbols)

    # --- blocks ---

    def _block_call(self, call: ast.Call, scope: Scope) -> Value | tuple[Value, ...]:
        block = self.program.blocks[call.func.id]
        params = tuple(block_param(p) for p in block.params)
        given = match_arguments(params, call)
        env: dict[str, Binding] = {}
        for param, spec in zip(
            params, block.params, strict=True
        ):  # attributes first: types use them
            if param.kind is ArgKind.ATTR:
                exprs = given.get(param.name)
                value = (
                    (const_value(spec.default, {}, True) if spec.default is not None else None)
                    if exprs is None
                    else self.attribute(exprs[0], param, scope)
                )
                env[param.name] = Const(value)
        consts = {k: v.value for k, v in env.items()}
        inner_prefix = scope.child_prefix(call.func.id)
        for param, spec in zip(params, block.params, strict=True):
            if param.kind is ArgKind.ATTR:
                continue
            (expr,) = given[param.name]
            value = self.tensor(expr, scope, f"{inner_prefix}{param.name}")
            declared = type_from_ast(spec.type, consts)
            check_arg_type(self.group, call, param.name, declared, value.type, expr.span)
            env[param.name] = value
        inner = Scope(inner_prefix, env)
        results = self._statements(block.body, inner, in_block=True)
        return check_returns(self.group, block, results, consts, call)

    # --- naming ---

    def _reserve(self, hint: Hint, op: str) -> str:
        """The node's id: the bound name for a top-level value, else ``parent.op``; a
        numeric suffix keeps ids unique (``h``, ``h_1``; ``m.gather``, ``m.gather_1``)."""
        base = f"{hint.parent}.{op}" if isinstance(hint, Nested) else hint
        name, n = base, 0
        while name in self.ids:
            n += 1
            name = f"{base}_{n}"
        self.ids.add(name)
        return name

    def _add(self, node: Node) -> Node:
        self.ids.add(node.id)
        return self.graph.add(node)


_STATEMENTS = {
    ast.Symmetry: lambda self, stmt, scope: None,
    ast.Domain: lambda self, stmt, scope: None,
    ast.Input: Elaborator._input,
    ast.Output: Elaborator._output,
    ast.Assign: Elaborator._assign,
    ast.Repeat: Elaborator._repeat,
    ast.Return: Elaborator._return,
}
_TENSOR_FORMS = {
    ast.Name: Elaborator._name,
    ast.BinOp: Elaborator._binop,
    ast.Neg: Elaborator._neg,
    ast.Index: Elaborator._index,
    ast.Call: Elaborator._call,
}


def elaborate(
    program: Program, model: str | None = None, params: dict[str, Any] | None = None
) -> Graph:
    """The typed IR of one model of ``program``."""
    try:
        chosen = program.model(model)
        return Elaborator(program, chosen, dict(params or {})).run()
    except GeoError as err:
        raise GeoError(err.diagnostics, {**program.sources, **err.sources}) from None


__all__ = ["Const", "Elaborator", "Value", "elaborate"]
