"""The feature type of every value a model names, for hover: where each was written (its
span) and the type elaboration gave it.

:class:`Recorder` is geoc's own elaborator with three notes taken on the way (every tensor
expression it types, every name a statement binds, every block parameter at each call), so
the types shown are the ones the compiler inferred, never a second inference. A block body
is typed once per call: a span typed differently at two calls shows both types.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from geoc.diagnostics import GeoError, Span
from geoc.elaborate.elaborator import Elaborator
from geoc.elaborate.values import Hint, Scope, Value
from geoc.grammar import ast
from geoc.program import Program
from geoc.types import FeatureType

Types = dict[Span, list[FeatureType]]


class Recorder(Elaborator):
    """An elaborator that keeps the type of every value it types, by span."""

    def __init__(self, program: Program, model: ast.Model, types: Types) -> None:
        self.types = types
        super().__init__(program, model, {})

    def _note(self, span: Span | None, ftype: FeatureType) -> None:
        if span is not None and ftype not in self.types[span]:
            self.types[span].append(ftype)

    def tensor(self, expr: ast.Expr, scope: Scope, hint: Hint) -> Value:
        value = super().tensor(expr, scope, hint)
        self._note(expr.span, value.type)
        return value

    def evaluate(self, expr: ast.Expr, scope: Scope, hint: Hint) -> Any:
        result = super().evaluate(expr, scope, hint)
        if isinstance(result, Value):
            self._note(expr.span, result.type)
        return result

    def _statements(self, body: tuple[ast.Stmt, ...], scope: Scope, in_block: bool) -> list[Value]:
        """The elaborator's statements one at a time, noting the names each binds."""
        self._note_params(body, scope)
        for stmt in body:
            result = super()._statements((stmt,), scope, in_block)
            for name in _binders(stmt):
                value = scope.env.get(name.id)
                if isinstance(value, Value):
                    self._note(name.span, value.type)
            if isinstance(stmt, ast.Output) and stmt.name.id in self.graph.outputs:
                self._note(stmt.name.span, self.graph.outputs[stmt.name.id].type)
            if isinstance(stmt, ast.Return):
                return result
        return []

    def _note_params(self, body: tuple[ast.Stmt, ...], scope: Scope) -> None:
        """At a block's body: the types its tensor parameters have at this call."""
        block = next((b for b in self.program.blocks.values() if b.body is body), None)
        for param in block.params if block is not None else ():
            value = scope.env.get(param.name.id)
            if isinstance(value, Value):
                self._note(param.name.span, value.type)


def _binders(stmt: ast.Stmt) -> tuple[ast.Name, ...]:
    if isinstance(stmt, ast.Input):
        return (stmt.name,)
    return stmt.targets if isinstance(stmt, ast.Assign) else ()


def value_types(program: Program) -> Types:
    """The types of the values of every model of the main file, as far as each types."""
    types: Types = defaultdict(list)
    for model in program.main.models:
        try:
            Recorder(program, model, types).run()
        except GeoError:
            continue  # a bad parameter, symmetry or domain: nothing in the body typed
    return types
