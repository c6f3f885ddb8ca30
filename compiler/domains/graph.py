"""``graph(nodes)``: nodes along an index axis and edges given as an ``edge_index`` input."""

from __future__ import annotations

from geoc.domains import base
from geoc.domains.base import Domain, DomainKind, DomainRules
from geoc.grammar import ast


def parse(expr: ast.Call, env: base.Env) -> Domain:
    axis = base.axis_argument(expr)
    base.no_kwargs(expr, set())
    return Domain(DomainKind.GRAPH, axis, edges=base.EdgeRule.GIVEN)


base.register(
    DomainRules(
        DomainKind.GRAPH,
        describe=lambda d: f"graph({d.axis})",
        axes=lambda d: (d.axis, base.EDGE_AXIS),
        parse=parse,
    )
)
