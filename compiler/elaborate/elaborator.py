"""Elaboration: AST -> typed IR.

Binds compile-time parameters, expands ``block`` calls and ``repeat`` (every iteration gets
its own weights), evaluates each call against its operator's signature (tensors first, then
attributes, positionally or by keyword), infers every value's type with the operator's typing
rule, and names every node after the spec (``layers.2.egnn_layer.m``).
"""

from __future__ import annotations

import contextlib
import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain, domain_from_ast
from geoc.grammar import ast
from geoc.groups import MANIFOLD_DIMS, Group, Rotations, UnsupportedAtom, group_from_ast
from geoc.ir import Graph, Node, Port, ValueRef
from geoc.ops import REQUIRED, ArgKind, AttrKind, OpContext, Param, infer_call, lookup
from geoc.program import Program
from geoc.types import FeatureType, points_dim, type_from_ast

SCALAR_PARAM_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


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
                        _factor_span(sym[0], axis),
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
        if name in self.graph.inputs:
            raise GeoError(
                Diagnostic("GEO209", f"input `{name}` is declared twice", stmt.name.span)
            )
        ftype = self._declared_type(stmt.type, scope)
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
        if name in self.graph.outputs:
            raise GeoError(
                Diagnostic("GEO209", f"output `{name}` is declared twice", stmt.name.span)
            )
        declared = self._declared_type(stmt.type, scope)
        value = self.tensor(stmt.value, scope, scope.prefix + name)
        if not (declared.same_rep(value.type) and declared.axes == value.type.axes):
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
        for atom in ftype.atoms:
            try:
                self.group.atom_dim(atom)
            except UnsupportedAtom as err:  # e.g. `regular` of a Lie group
                raise GeoError(Diagnostic("GEO330", str(err), expr.span, help=err.help)) from None
            except ValueError:
                raise GeoError(
                    Diagnostic(
                        "GEO309",
                        f"`{atom}` needs a group acting on R^n",
                        expr.span,
                        help="add `E(3)` or `O(3)` to `symmetry`, or use `point(n)`",
                    )
                ) from None
            n = self.group.space_dim
            rotated = self.group.rotations is not Rotations.NONE
            if rotated and atom.kind in MANIFOLD_DIMS and atom.args[0] != n:
                raise GeoError(
                    Diagnostic(
                        "GEO309",
                        f"`{atom}` lives on R^{atom.args[0]}, but {self.group} rotates R^{n}",
                        expr.span,
                        help=f"use `{atom.kind.value}({n})`, or a group of the same dimension",
                    )
                )
            if atom.is_point and n is not None and atom.args[0] != n:
                raise GeoError(
                    Diagnostic(
                        "GEO309",
                        f"`{atom}` does not live in the {n}-dimensional space of {self.group}",
                        expr.span,
                        help=f"use `point({n})`",
                    )
                )
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
            raise GeoError(_not_a_tensor(expr))
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
        raise GeoError(_unknown_name(expr, scope))

    def _binop(self, expr: ast.BinOp, scope: Scope, hint: Hint) -> Value:
        if expr.op is ast.BinOpKind.TIMES:
            raise GeoError(_not_a_tensor(expr))
        if expr.op is ast.BinOpKind.MUL:
            for number, other in ((expr.left, expr.right), (expr.right, expr.left)):
                if isinstance(number, (ast.Int, ast.Float)):
                    own = self._reserve(hint, "scale")
                    value = self.tensor(other, scope, Nested(own))
                    attrs = {"factor": float(number.value)}
                    return self._apply(own, "scale", [value], [other.span], attrs, expr)
        op = {ast.BinOpKind.ADD: "add", ast.BinOpKind.SUB: "sub", ast.BinOpKind.MUL: "mul"}[expr.op]
        own = self._reserve(hint, op)
        left = self.tensor(expr.left, scope, Nested(own))
        right = self.tensor(expr.right, scope, Nested(own))
        return self._apply(own, op, [left, right], [expr.left.span, expr.right.span], {}, expr)

    def _neg(self, expr: ast.Neg, scope: Scope, hint: Hint) -> Value:
        own = self._reserve(hint, "neg")
        value = self.tensor(expr.operand, scope, Nested(own))
        return self._apply(own, "neg", [value], [expr.operand.span], {}, expr)

    def _index(self, expr: ast.Index, scope: Scope, hint: Hint) -> Value:
        end = expr.index
        if not (isinstance(end, ast.Name) and end.id in ("src", "dst")):
            raise GeoError(
                Diagnostic(
                    "GEO200",
                    "index node values with `src` or `dst` (the ends of each edge)",
                    end.span,
                    label="not an edge end",
                    help="e.g. `x[dst] - x[src]`",
                )
            )
        own = self._reserve(hint, "gather")
        value = self.tensor(expr.value, scope, Nested(own))
        return self._apply(own, "gather", [value], [expr.value.span], {"end": end.id}, expr)

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
            raise GeoError(_unknown_callee(expr, self.program))
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
        params = tuple(_block_param(p) for p in block.params)
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
            _check_arg_type(call, param.name, declared, value.type, expr.span)
            env[param.name] = value
        inner = Scope(inner_prefix, env)
        results = self._statements(block.body, inner, in_block=True)
        return self._check_returns(block, results, consts, call)

    def _check_returns(
        self, block: ast.Block, results: list[Value], consts: dict[str, object], call: ast.Call
    ) -> Value | tuple[Value, ...]:
        declared = [type_from_ast(t, consts) for t in block.returns or ()]
        if block.returns is not None and len(declared) != len(results):
            raise GeoError(
                Diagnostic(
                    "GEO306",
                    f"block `{block.name.id}` declares {len(declared)} return values but "
                    f"returns {len(results)}",
                    block.name.span,
                )
            )
        for want, got in zip(declared, results, strict=False):
            if not (want.same_rep(got.type) and want.axes == got.type.axes):
                raise GeoError(
                    Diagnostic(
                        "GEO306",
                        f"block `{block.name.id}` declares it returns `{want}`, but the "
                        f"value is `{got.type}`",
                        block.name.span,
                        label="declared here",
                        notes=(f"called at {call.span}",),
                    )
                )
        if not results:
            raise GeoError(
                Diagnostic(
                    "GEO304",
                    f"block `{block.name.id}` returns nothing",
                    call.span,
                    help="end the block with `return ...`",
                )
            )
        return results[0] if len(results) == 1 else tuple(results)

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


# ---------------------------------------------------------------------------------------------
# Signatures, parameters and compile-time values


def match_arguments(params: tuple[Param, ...], call: ast.Call) -> dict[str, list[ast.Expr]]:
    """Python's rules: positionals fill parameters in order (a variadic one takes the rest),
    then keywords by name; each parameter at most once; required ones must be given."""
    given: dict[str, list[ast.Expr]] = {}
    positional = list(call.args)
    for param in params:
        if not positional:
            break
        if param.kind is ArgKind.TENSORS:
            given[param.name], positional = positional, []
        else:
            given[param.name] = [positional.pop(0)]
    if positional:
        count = f"{len(given)} positional argument{'s' if len(given) != 1 else ''}"
        raise GeoError(
            _arity(
                call,
                f"`{call.func.id}` takes at most {count}",
                positional[0].span,
                [p.name for p in params],
            )
        )
    names = {p.name for p in params}
    for kw in call.kwargs:
        if kw.name.id not in names:
            raise GeoError(
                _arity(
                    call,
                    f"`{call.func.id}` has no argument `{kw.name.id}`",
                    kw.name.span,
                    sorted(names),
                )
            )
        if kw.name.id in given:
            raise GeoError(_arity(call, f"`{kw.name.id}` is given twice", kw.name.span))
        given[kw.name.id] = [kw.value]
    for param in params:
        if param.required and param.name not in given and param.kind is not ArgKind.TENSORS:
            raise GeoError(
                _arity(
                    call,
                    f"`{call.func.id}` needs its argument `{param.name}`",
                    call.span,
                    [p.name for p in params],
                )
            )
    return given


def _arity(call: ast.Call, message: str, span: Span, names: list[str] | None = None) -> Diagnostic:
    signature = f"`{call.func.id}({', '.join(names)})`" if names else ""
    return Diagnostic(
        "GEO304",
        message,
        span,
        label="here",
        help=f"the signature is {signature}" if signature else "",
    )


def _factor_span(stmt: ast.Symmetry, axis: str) -> Span:
    """Where ``S(axis)`` is written in a ``symmetry`` statement."""
    for factor in stmt.factors:
        if isinstance(factor, ast.Call) and factor.func.id == "S" and factor.args:
            arg = factor.args[0]
            if isinstance(arg, ast.Name) and arg.id == axis:
                return factor.span
    return stmt.span


def _block_param(spec: ast.Param) -> Param:
    """Block parameters typed `int`/`float`/`bool`/`str` (or untyped) are attributes;
    parameters with a feature type are tensors."""
    type_expr = spec.type
    if type_expr is None or (
        isinstance(type_expr, ast.Name) and type_expr.id in SCALAR_PARAM_TYPES
    ):
        kind = AttrKind(type_expr.id) if type_expr is not None else AttrKind.ANY
        default = REQUIRED if spec.default is None else spec.default
        return Param(spec.name.id, ArgKind.ATTR, kind, default)
    return Param(spec.name.id, ArgKind.TENSOR)


def bind_params(
    specs: tuple[ast.Param, ...], overrides: dict[str, Any], span: Span
) -> dict[str, Any]:
    """A model's compile-time parameters: defaults, then overrides, each type-checked."""
    known = {p.name.id for p in specs}
    for name in overrides:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise GeoError(
                Diagnostic(
                    "GEO208",
                    f"the model has no parameter `{name}`",
                    span,
                    help=f"did you mean `{close[0]}`?"
                    if close
                    else f"parameters: {', '.join(sorted(known)) or 'none'}",
                )
            )
    values: dict[str, Any] = {}
    for spec in specs:
        param = _block_param(spec)
        if spec.name.id in overrides:
            value = overrides[spec.name.id]
        elif spec.default is not None:
            value = const_value(spec.default, values, symbols=True)
        else:
            raise GeoError(
                Diagnostic(
                    "GEO302",
                    f"parameter `{spec.name.id}` has no default and no value",
                    spec.span,
                    help=f"pass `-p {spec.name.id}=...`",
                )
            )
        values[spec.name.id] = (
            check_attr(value, param, spec.span) if param.kind is ArgKind.ATTR else value
        )
    return values


def const_value(expr: ast.Expr, env: dict[str, object], symbols: bool = False) -> Any:
    """Evaluate a compile-time expression: literals, params, lists, arithmetic, types."""
    if isinstance(expr, (ast.Int, ast.Float, ast.Str, ast.Bool)):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id in env:
            return env[expr.id]
        if symbols:
            return expr.id
        raise GeoError(Diagnostic("GEO200", f"`{expr.id}` is not defined", expr.span))
    if isinstance(expr, ast.List):
        return tuple(const_value(i, env, symbols) for i in expr.items)
    if isinstance(expr, ast.Neg):
        value = const_value(expr.operand, env)
        if _is_number(value):
            return -value
    if isinstance(expr, ast.BinOp) and expr.op is not ast.BinOpKind.TIMES:
        left, right = const_value(expr.left, env), const_value(expr.right, env)
        if _is_number(left) and _is_number(right):
            return {"+": left + right, "-": left - right, "*": left * right}[expr.op.value]
    if isinstance(expr, (ast.BinOp, ast.Over, ast.Irrep)):
        return type_from_ast(expr, env)
    raise GeoError(
        Diagnostic(
            "GEO302",
            "expected a compile-time value",
            expr.span,
            label="not a constant",
            help="use a literal, a parameter, or a feature type",
        )
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_attr(value: Any, param: Param, span: Span | None) -> Any:
    """Check (and normalise) an attribute against its declared kind."""
    kind = param.attr
    ok = {
        AttrKind.INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        AttrKind.FLOAT: _is_number,
        AttrKind.BOOL: lambda v: isinstance(v, bool),
        AttrKind.STR: lambda v: isinstance(v, str),
        AttrKind.SYMBOL: lambda v: isinstance(v, str) or v is None,
        AttrKind.TYPE: lambda v: isinstance(v, FeatureType),
        AttrKind.INT_LIST: lambda v: (
            isinstance(v, tuple) and all(_is_number(x) and isinstance(x, int) for x in v)
        ),
        AttrKind.ANY: lambda v: True,
        None: lambda v: True,
    }[kind]
    if not ok(value):
        raise GeoError(
            Diagnostic(
                "GEO302",
                f"`{param.name}` must be {kind.value if kind else 'a value'}, got {value!r}",
                span,
                label=repr(value),
            )
        )
    if param.choices and value not in param.choices:
        raise GeoError(
            Diagnostic(
                "GEO302",
                f"`{param.name}` must be one of {', '.join(param.choices)}, got {value!r}",
                span,
            )
        )
    return float(value) if kind is AttrKind.FLOAT else value


def _check_arg_type(
    call: ast.Call, name: str, declared: FeatureType, actual: FeatureType, span: Span
) -> None:
    if declared.same_rep(actual) and declared.axes == actual.axes:
        return
    raise GeoError(
        Diagnostic(
            "GEO300",
            f"`{call.func.id}` expects `{name}: {declared}`, but the argument is `{actual}`",
            span,
            label=str(actual),
            help=f"pass a value of type `{declared}`",
        )
    )


# ---------------------------------------------------------------------------------------------
# Diagnostics with suggestions


def _unknown_name(expr: ast.Name, scope: Scope) -> Diagnostic:
    values = [k for k, v in scope.env.items() if isinstance(v, Value)]
    close = difflib.get_close_matches(expr.id, values, n=1)
    return Diagnostic(
        "GEO200",
        f"`{expr.id}` is not defined",
        expr.span,
        label="unknown name",
        help=f"did you mean `{close[0]}`?"
        if close
        else "bind it first with `input` or `name = ...`",
    )


def _unknown_callee(expr: ast.Call, program: Program) -> Diagnostic:
    from geoc.ops import REGISTRY

    names = [n for n, op in REGISTRY.items() if op.surface] + list(program.blocks)
    close = difflib.get_close_matches(expr.func.id, names, n=1)
    return Diagnostic(
        "GEO201",
        f"`{expr.func.id}` is neither an operator nor a block",
        expr.func.span,
        label="unknown",
        help=f"did you mean `{close[0]}`?" if close else "see docs/language.md for the operators",
    )


def _not_a_tensor(expr: ast.Expr) -> Diagnostic:
    from geoc.grammar.formatter import format_expr

    return Diagnostic(
        "GEO303",
        f"`{format_expr(expr)}` is a compile-time value, not a tensor",
        expr.span,
        label="not a tensor",
        help="tensor arguments are inputs or values computed from them",
    )


def elaborate(
    program: Program, model: str | None = None, params: dict[str, Any] | None = None
) -> Graph:
    """The typed IR of one model of ``program``."""
    try:
        chosen = program.model(model)
        return Elaborator(program, chosen, dict(params or {})).run()
    except GeoError as err:
        raise GeoError(err.diagnostics, {**program.sources, **err.sources}) from None


__all__ = ["Const", "Elaborator", "Value", "bind_params", "const_value", "elaborate"]
