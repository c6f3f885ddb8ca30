"""The compile-time evaluator: the one place where literals, parameters and arithmetic on
numbers are evaluated (types, groups, domains and the elaborator all call it)."""

from __future__ import annotations

from typing import Any

from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast

Env = dict[str, object]


def evaluate(expr: ast.Expr, env: Env) -> object:
    """The value of a literal, a bound parameter, or ``-``, ``+``, ``*`` of numbers; None when
    ``expr`` is none of these."""
    if isinstance(expr, (ast.Int, ast.Float, ast.Str, ast.Bool)):
        return expr.value
    if isinstance(expr, ast.Name):
        return env.get(expr.id)
    if isinstance(expr, ast.Neg):
        value = evaluate(expr.operand, env)
        return -value if is_number(value) else None
    if isinstance(expr, ast.BinOp) and expr.op is not ast.BinOpKind.TIMES:
        return arithmetic(expr.op, evaluate(expr.left, env), evaluate(expr.right, env))
    return None


def arithmetic(op: ast.BinOpKind, left: object, right: object) -> object:
    """``left op right`` of two numbers (None unless both are numbers)."""
    if not (is_number(left) and is_number(right)):
        return None
    return {"+": left + right, "-": left - right, "*": left * right}[op.value]  # type: ignore[operator]


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def const_value(expr: ast.Expr, env: dict[str, object], symbols: bool = False) -> Any:
    """Evaluate a compile-time expression of the elaborator: literals, params, lists,
    arithmetic, types, initialisers (``xavier(gain=0.001)``); an unknown name is GEO200 (a
    symbol where ``symbols``), anything else GEO302."""
    from geoc.types import type_from_ast  # types evaluates its multiplicities here

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
        if is_number(value):
            return -value
    if isinstance(expr, ast.BinOp) and expr.op is not ast.BinOpKind.TIMES:
        value = arithmetic(expr.op, const_value(expr.left, env), const_value(expr.right, env))
        if value is not None:
            return value
    if isinstance(expr, (ast.BinOp, ast.Over, ast.Irrep)):
        return type_from_ast(expr, env)
    if isinstance(expr, ast.Call):  # `xavier(gain=0.001)` given to a block's parameter
        from geoc.elaborate.initialisers import initialiser_call

        found = initialiser_call(expr, env)
        if found is not None:
            return found
    raise GeoError(
        Diagnostic(
            "GEO302",
            "expected a compile-time value",
            expr.span,
            label="not a constant",
            help="use a literal, a parameter, or a feature type",
        )
    )
