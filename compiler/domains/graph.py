"""``graph(nodes)``: nodes along an index axis and edges given as an ``edge_index`` input."""

from __future__ import annotations

from geoc.domains.base import (
    EDGE_AXIS,
    Domain,
    DomainKind,
    DomainRules,
    EdgeRule,
    Env,
    axis_argument,
    no_kwargs,
    register,
)
from geoc.grammar import ast


def parse(expr: ast.Call, env: Env) -> Domain:
    axis = axis_argument(expr)
    no_kwargs(expr, set())
    return Domain(DomainKind.GRAPH, axis, edges=EdgeRule.GIVEN)


register(
    DomainRules(
        DomainKind.GRAPH,
        describe=lambda d: f"graph({d.axis})",
        axes=lambda d: (d.axis, EDGE_AXIS),
        parse=parse,
    )
)
