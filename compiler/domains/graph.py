"""``graph(nodes)``: nodes along an index axis and edges given as an ``edge_index`` input."""

from geoc.domains.base import EDGE_AXIS, DomainKind, EdgeRule, axis_rules, register

register(axis_rules(DomainKind.GRAPH, (EDGE_AXIS,), EdgeRule.GIVEN))
