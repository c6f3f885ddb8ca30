"""``set(axis)``: an unordered set of elements along one index axis, no edges."""

from __future__ import annotations

from geoc.domains import base
from geoc.domains.base import Domain, DomainKind, DomainRules
from geoc.grammar import ast


def parse(expr: ast.Call, env: base.Env) -> Domain:
    axis = base.axis_argument(expr)
    base.no_kwargs(expr, set())
    return Domain(DomainKind.SET, axis)


base.register(
    DomainRules(
        DomainKind.SET,
        describe=lambda d: f"set({d.axis})",
        axes=lambda d: (d.axis,),
        parse=parse,
    )
)
