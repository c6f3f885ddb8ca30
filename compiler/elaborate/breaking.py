"""Declared symmetry breaking in a model: `breaks T(3) by x` (docs/language.md "Declared
symmetry breaking"). The group that remains is computed once, before the body is elaborated;
every statement is then typed and proved under it: each operator equivariant under the
remainder H makes their composition H-equivariant, whatever the broken part does."""

from __future__ import annotations

from typing import Any

from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import Domain, DomainKind
from geoc.elaborate.values import Const, Poison, Scope, Value
from geoc.grammar import ast
from geoc.groups import Broken, Group
from geoc.groups.from_ast import remainder_from_ast


def declared_remainder(
    model: ast.Model, declared: Group, domains: tuple[Domain, ...], params: dict[str, Any]
) -> tuple[Group, tuple[Broken, ...]]:
    """What remains of ``declared`` after the model's `breaks` statements, checked against its
    domains (which must carry it too), and what each statement broke."""
    breaks = [s for s in model.body if isinstance(s, ast.Breaks)]
    if not breaks:
        return declared, ()
    if any(d.cell for d in domains):
        raise GeoError(
            Diagnostic(
                "GEO514",
                "a periodic cell with a declared break is not built",
                breaks[0].span,
                label="not built",
                help="moving an atom by a lattice vector is part of a periodic model's "
                "symmetry, which absolute coordinates break as well: use `cell=false`",
            )
        )
    polar = all(d.kind is DomainKind.SPHERE for d in domains)  # where SO(2) is polar
    remaining, broken = remainder_from_ast(declared, breaks, params, polar)
    for each in domains:
        each.rules.check_symmetry(remaining, each, breaks[-1].span)
    return remaining, broken


def check_breakers(model: ast.Model, scope: Scope) -> None:
    """Each name after `by` is a value of the model (an input, or a value it computes, bound
    by the end of its body); a compile-time parameter or an unknown name is GEO211."""
    for stmt in model.body:
        if not isinstance(stmt, ast.Breaks):
            continue
        for name in stmt.by:
            bound = scope.env.get(name.id)
            if isinstance(bound, Value | Poison):
                continue
            what = "a compile-time parameter" if isinstance(bound, Const) else "not defined"
            raise GeoError(
                Diagnostic(
                    "GEO211",
                    f"`{name.id}` after `by` is {what}, not a value of the model",
                    name.span,
                    label="not a value",
                    help="name the inputs or computed values that break the group, e.g. "
                    "`breaks T(3) by x` for an input `x: point(3) over nodes`",
                )
            )
