"""``set(axis)``: an unordered set of elements along one index axis, no edges."""

from __future__ import annotations

from geoc.domains.base import (
    Domain,
    DomainKind,
    DomainRules,
    Env,
    axis_argument,
    no_kwargs,
    register,
)
from geoc.grammar import ast


def parse(expr: ast.Call, env: Env) -> Domain:
    axis = axis_argument(expr)
    no_kwargs(expr, set())
    return Domain(DomainKind.SET, axis)


register(
    DomainRules(
        DomainKind.SET,
        describe=lambda d: f"set({d.axis})",
        axes=lambda d: (d.axis,),
        parse=parse,
    )
)
