"""Diagnostics of the elaborator that suggest a fix: close names, the signature, where."""

from __future__ import annotations

import difflib

from geoc.diagnostics import Diagnostic, Span
from geoc.grammar import ast
from geoc.program import Program


def factor_span(stmt: ast.Symmetry, axis: str) -> Span:
    """Where ``S(axis)`` is written in a ``symmetry`` statement."""
    for factor in stmt.factors:
        if isinstance(factor, ast.Call) and factor.func.id == "S" and factor.args:
            arg = factor.args[0]
            if isinstance(arg, ast.Name) and arg.id == axis:
                return factor.span
    return stmt.span


def unknown_name(expr: ast.Name, values: list[str]) -> Diagnostic:
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


def unknown_callee(expr: ast.Call, program: Program) -> Diagnostic:
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


def about_expr(code: str, expr: ast.Expr, what: str, label: str, help: str) -> Diagnostic:
    """``code`` at ``expr``: "`expr` ``what``", the expression as the user wrote it."""
    from geoc.grammar.formatter import format_expr

    return Diagnostic(code, f"`{format_expr(expr)}` {what}", expr.span, label=label, help=help)


def not_a_tensor(expr: ast.Expr) -> Diagnostic:
    return about_expr(
        "GEO303",
        expr,
        "is a compile-time value, not a tensor",
        label="not a tensor",
        help="tensor arguments are inputs or values computed from them",
    )
