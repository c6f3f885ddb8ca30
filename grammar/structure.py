"""Structural rules the grammar leaves open: where declarations may stand, unique names.

These are still syntax-level facts (no types, no scopes), so they live in the front end and
report ``GEO1xx`` codes.
"""

from __future__ import annotations

from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast

# Statements that declare a model's interface, and the code that explains where they go.
_MODEL_ONLY = (ast.Symmetry, ast.Breaks, ast.Domain, ast.Input, ast.Output)
_KEYWORD = {
    ast.Symmetry: "symmetry",
    ast.Breaks: "breaks",
    ast.Domain: "domain",
    ast.Input: "input",
    ast.Output: "output",
    ast.Return: "return",
}


def check_structure(module: ast.Module, text: str) -> None:
    """Raise :class:`GeoError` with every structural problem of ``module`` (its rendering shows
    the first few and counts the rest, like every other list of diagnostics)."""
    problems: list[Diagnostic] = []
    for item in module.items:
        if isinstance(item, (ast.Block, ast.Model)):
            problems.extend(_duplicate_params(item.params))
            problems.extend(_misplaced(item.body, isinstance(item, ast.Model), top=True))
    if problems:
        raise GeoError(problems, {module.span.file: text})


def _duplicate_params(params: tuple[ast.Param, ...]) -> list[Diagnostic]:
    """One diagnostic per repeated name, at its second declaration."""
    first: dict[str, ast.Param | None] = {}  # None once reported
    out: list[Diagnostic] = []
    for param in params:
        name = param.name.id
        if name not in first:
            first[name] = param
            continue
        earlier_param = first[name]
        if earlier_param is None:
            continue
        earlier = earlier_param.name.span
        out.append(
            Diagnostic(
                "GEO114",
                f"parameter `{name}` is declared twice",
                param.name.span,
                label="repeated",
                notes=(f"`{name}` is first declared at {earlier.line}:{earlier.col}",),
                help="give each parameter a distinct name",
            )
        )
        first[name] = None
    return out


def _misplaced(
    body: tuple[ast.Stmt, ...], in_model: bool, top: bool, inside: str = "repeat"
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for index, stmt in enumerate(body):
        if isinstance(stmt, (ast.Repeat, ast.Canonical)):
            owner = "repeat" if isinstance(stmt, ast.Repeat) else "canonical"
            out.extend(_misplaced(stmt.body, in_model, top=False, inside=owner))
        elif isinstance(stmt, _MODEL_ONLY) and not (in_model and top):
            where = f"inside `{inside}`" if in_model else "in a `block`"
            out.append(_misplaced_diag(stmt, where, "it belongs directly in a `model` body"))
        elif isinstance(stmt, ast.Return):
            if in_model or not top:
                where = "in a `model`" if in_model and top else f"inside `{inside}`"
                out.append(_misplaced_diag(stmt, where, "`return` ends a `block` body"))
            elif index != len(body) - 1:
                out.append(
                    _misplaced_diag(stmt, "before the end of the block", "make it the last line")
                )
    return out


def _misplaced_diag(stmt: ast.Stmt, where: str, help_text: str) -> Diagnostic:
    keyword = _KEYWORD[type(stmt)]
    span = stmt.span
    head = type(span)(span.file, span.line, span.col, span.line, span.col + len(keyword))
    return Diagnostic(
        "GEO116",
        f"`{keyword}` is not allowed {where}",
        head,
        label="misplaced",
        help=help_text,
    )
