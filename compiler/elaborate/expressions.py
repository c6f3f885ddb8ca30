"""Expressions: a tensor expression to typed IR nodes, an attribute to its compile-time value,
a ``block`` call expanded into its body; every node named after the spec."""

from __future__ import annotations

import contextlib
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain
from geoc.elaborate.breaking import breaks_fix
from geoc.elaborate.canonical import body_type, check_read
from geoc.elaborate.constants import const_value, evaluate, is_number
from geoc.elaborate.declared import check_atoms, check_labels
from geoc.elaborate.initialisers import initialiser_attr
from geoc.elaborate.messages import not_a_tensor, unknown_callee, unknown_name
from geoc.elaborate.signatures import (
    block_param,
    check_arg_type,
    check_attr,
    check_returns,
    match_arguments,
)
from geoc.elaborate.values import Binding, Const, Hint, Nested, Poison, Poisoned, Scope, Value
from geoc.grammar import ast
from geoc.groups import Group
from geoc.ir import Graph, Node, ValueRef
from geoc.ops import ArgKind, AttrKind, OpContext, OpDef, Param, infer_call, lookup, syntax_op
from geoc.program import Program
from geoc.types import FeatureType, type_from_ast


class Expressions(ABC):
    """Elaborates expressions in a scope; the statement elaborator subclasses it."""

    program: Program
    group: Group  # what remains of the declared group after `breaks` (itself without any)
    declared: Group  # the `symmetry` declared: unbroken values are typed under it
    breaking: bool = False  # in a statement that binds a value named after `by`
    domain: Domain
    graph: Graph
    ids: set[str]
    calling: list[str]  # the blocks being expanded, outermost first
    # Inside `canonical { ... }`: the model's full group (``group`` is then the reduced one).
    #: In a `canonical` body, the groups outside it: (what remains, declared); else None.
    outside: tuple[Group, Group] | None = None

    @abstractmethod
    def _statements(self, body: tuple[ast.Stmt, ...], scope: Scope, in_block: bool) -> list[Value]:
        """A body's statements; the values of its ``return``."""

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
            if self.outside is not None:  # the one door into a canonical body
                remains, declared = self.outside  # a value is read under the group it has
                group = remains if binding.broken else declared
                check_read(group, expr.id, binding.type, expr.span)
            return binding
        if isinstance(binding, Poison):
            raise Poisoned(expr.id)
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
        """``x[src]`` / ``x[dst]`` (the primary domain's edges) or ``x[src(near)]`` (the edge
        set ``near`` of a model over several axes)."""
        op = syntax_op("[]", tensors=1)
        end_param, edges_param = op.attr_params
        end, edges = _edge_end(expr.index, end_param.choices)
        own = self._reserve(hint, op.name)
        value = self.tensor(expr.value, scope, Nested(own))
        attrs = {end_param.name: end} | ({edges_param.name: edges} if edges else {})
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
        attr_spans = _attr_spans(op.params, expr)
        return self._apply(own, op.name, tensors, spans, attrs, expr, attr_spans)

    def _apply(
        self,
        own: str,
        op_name: str,
        inputs: list[Value],
        spans: list[Span],
        attrs: dict[str, Any],
        expr: ast.Expr,
        attr_spans: tuple[tuple[str, Span], ...] = (),
    ) -> Value:
        op = lookup(op_name)
        assert op is not None
        # The one place an operator gets its group: what remains where it reads a broken value
        # (or computes one named after `by`), else the declared group (elaborate/breaking.py).
        broken = self.breaking or any(v.broken for v in inputs)
        ctx = OpContext(
            op_name,
            self.group_for(broken),
            self.domain,
            expr.span,
            tuple(spans),
            attr_spans,
            self.graph.domains,
        )
        out_types = self._infer(ctx, op, inputs, attrs, broken)
        if self.outside is not None:  # functions of invariants: plain scalars
            out_types = tuple(body_type(self.group, t, expr.span) for t in out_types)
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
        if not broken and self.graph.broken:
            self.graph.unbroken.add(node.id)
        return Value(ValueRef(node=node.id), out_types[0], broken)

    def group_for(self, broken: bool) -> Group:
        """The group a value's operator (or a check of it) is typed under."""
        return self.group if broken else self.declared

    def _infer(
        self, ctx: OpContext, op: OpDef, inputs: list[Value], attrs: dict[str, Any], broken: bool
    ) -> tuple[FeatureType, ...]:
        """``op``'s output types; refused under the declared group, the help names the inputs
        the call reads, which `by` could name."""
        if not broken:
            for attr in attrs.values():
                if isinstance(attr, FeatureType):  # written under what remains
                    check_atoms(ctx.group, attr, ctx.span)
        try:
            return infer_call(ctx, op, [v.type for v in inputs], attrs)
        except GeoError:
            fix = "" if broken else breaks_fix(self.graph, [v.ref for v in inputs])
            if not fix:
                raise
            ctx = dataclasses.replace(ctx, breaks_fix=fix)
            return infer_call(ctx, op, [v.type for v in inputs], attrs)  # raises, with the fix

    @contextlib.contextmanager
    def breaking_statement(self, breaks: bool) -> Iterator[None]:
        """Every operator of a statement that binds a value named after `by` (its blocks
        included) is typed under what remains."""
        outer, self.breaking = self.breaking, self.breaking or breaks
        try:
            yield
        finally:
            self.breaking = outer

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
                if exprs is not None:
                    attrs[param.name] = self.attribute(exprs[0], param, scope)
                elif not param.written_only:
                    attrs[param.name] = param.default
                continue
            for expr in exprs or ():
                tensors.append(self.tensor(expr, scope, hint))
                spans.append(expr.span)
        return tensors, attrs, spans

    def attribute(self, expr: ast.Expr, param: Param, scope: Scope) -> Any:
        name = expr.id if isinstance(expr, ast.Name) else ""
        binding = scope.env.get(name)
        if isinstance(binding, Poison):
            raise Poisoned(name)
        if isinstance(binding, Value):
            raise GeoError(
                Diagnostic(
                    "GEO303",
                    f"`{name}` is a tensor, but `{param.name}` is a compile-time "
                    f"{param.attr.value}",
                    expr.span,
                    label="tensor",
                    help=f"pass a compile-time value for `{param.name}`",
                )
            )
        if param.attr is AttrKind.TYPE:
            declared = self._declared_type(expr, scope, f"the type `{param.name}`")
            return declared if self.outside is None else body_type(self.group, declared, expr.span)
        if param.attr in (AttrKind.INIT, AttrKind.BIAS_INIT):
            return initialiser_attr(expr, param, scope.consts())
        value = self.const(expr, scope, symbols=True)
        return check_attr(value, param, expr.span)

    def const(self, expr: ast.Expr, scope: Scope, symbols: bool = False) -> Any:
        return const_value(expr, scope.consts(), symbols)

    # --- blocks ---

    def _block_call(self, call: ast.Call, scope: Scope) -> Value | tuple[Value, ...]:
        """The block's body expanded at the call; GEO521 for a call to a block being expanded
        (recursion, direct or mutual, never ends: blocks have no conditionals)."""
        name = call.func.id
        if name in self.calling:
            cycle = " -> ".join([*self.calling[self.calling.index(name) :], name])
            raise GeoError(
                Diagnostic(
                    "GEO521",
                    f"block `{name}` calls itself ({cycle}): its expansion never ends",
                    call.span,
                    label=f"`{name}` again",
                    help="blocks expand at compile time and cannot recurse; repeat a layer with "
                    "`repeat n { ... }` instead",
                )
            )
        return self._expand_block(call, scope)

    def _expand_block(self, call: ast.Call, scope: Scope) -> Value | tuple[Value, ...]:
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
            group = self.group_for(value.broken)
            check_arg_type(group, call, param.name, declared, value.type, expr.span)
            env[param.name] = value
        inner = Scope(inner_prefix, env)
        self.calling.append(call.func.id)  # its body only: arguments belong to the caller
        try:
            results = self._statements(block.body, inner, in_block=True)
        finally:
            self.calling.pop()
        group = self.group_for(any(v.broken for v in results))
        return check_returns(group, block, results, consts, call)

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
        """Add a node; GEO520 once the IR passes the budget (blocks calling blocks twice over
        grow it exponentially, with no `repeat` to size first)."""
        self._check_size(len(self.graph) + 1, "", node.span)
        self.ids.add(node.id)
        return self.graph.add(node)

    @abstractmethod
    def _check_size(self, nodes: int, what: str, span: Span | None) -> None: ...

    def _declared_type(self, expr: ast.Expr, scope: Scope, what: str) -> FeatureType:
        """A type written in the spec; ``what`` it types (``input``, ``output``, an attribute)."""
        ftype = type_from_ast(expr, scope.consts())
        type_ctx = OpContext("type", self.group, self.domain, expr.span, domains=self.graph.domains)
        check_labels(ftype, expr.span, what)
        self.domain.rules.check_type(type_ctx, ftype)
        check_atoms(self.group, ftype, expr.span)
        return ftype


def _edge_end(index: ast.Expr, ends: tuple[str, ...]) -> tuple[str, str | None]:
    """The end (``src``/``dst``) and the edge set (None: the primary's) an index names."""
    if isinstance(index, ast.Name) and index.id in ends:
        return index.id, None
    named = isinstance(index, ast.Call) and index.func.id in ends and not index.kwargs
    if named and len(index.args) == 1 and isinstance(index.args[0], ast.Name):
        return index.func.id, index.args[0].id
    choices = " or ".join(f"`{c}`" for c in ends)
    raise GeoError(
        Diagnostic(
            "GEO200",
            f"index node values with {choices} (the ends of each edge), or `src(E)` / "
            "`dst(E)` for the edge set `E`",
            index.span,
            label="not an edge end",
            help="e.g. `x[dst] - x[src]`, or `x[src(near)] - c[dst(near)]`",
        )
    )


def _attr_spans(params: tuple[Param, ...], call: ast.Call) -> tuple[tuple[str, Span], ...]:
    """Where each attribute of ``call`` was written, for diagnostics on its value."""
    given = match_arguments(params, call)
    return tuple(
        (p.name, given[p.name][0].span)
        for p in params
        if p.kind is ArgKind.ATTR and p.name in given
    )


_TENSOR_FORMS = {
    ast.Name: Expressions._name,
    ast.BinOp: Expressions._binop,
    ast.Neg: Expressions._neg,
    ast.Index: Expressions._index,
    ast.Call: Expressions._call,
}
