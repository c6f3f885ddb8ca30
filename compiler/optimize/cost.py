"""The optimiser's cost model: multiply-adds per node and per edge, from the types and the
domain's edge rule.

Sizes are not known when a spec compiles, so the model counts work per node and per edge and
weighs an edge against a node by the average in-degree the edge rule implies: ``knn(k)`` has
exactly ``k``; ``full``, ``radius`` and given edges assume :data:`DEFAULT_DEGREE` (a molecule
at a 5 Å cutoff has 10 to 40 neighbours; a full graph of n nodes has n - 1). A rewrite whose
saving does not depend on the degree (it holds for any graph with at least as many edges as
nodes) fires whatever the model says.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoc.domains import Domain
from geoc.domains.base import EdgeRule

#: The in-degree assumed where the edge rule does not fix one.
DEFAULT_DEGREE = 16.0


def average_degree(domain: Domain) -> float:
    if domain.edges is EdgeRule.KNN and domain.edge_arg:
        return float(domain.edge_arg)
    if domain.edges is EdgeRule.BALL and domain.edge_k:
        return float(domain.edge_k)
    return DEFAULT_DEGREE


@dataclass(frozen=True)
class Work:
    """Multiply-adds (a scatter's or an add's element counts as one) per node and per edge."""

    per_node: float = 0.0
    per_edge: float = 0.0

    def __add__(self, other: Work) -> Work:
        return Work(self.per_node + other.per_node, self.per_edge + other.per_edge)

    def __sub__(self, other: Work) -> Work:
        return Work(self.per_node - other.per_node, self.per_edge - other.per_edge)

    def total(self, degree: float) -> float:
        """Per node, counting each node's ``degree`` in-edges."""
        return self.per_node + degree * self.per_edge

    def describe(self) -> str:
        parts = []
        if self.per_edge:
            parts.append(f"{_signed(self.per_edge)} per edge")
        if self.per_node:
            parts.append(f"{_signed(self.per_node)} per node")
        return ", ".join(parts) or "no change"


def _signed(value: float) -> str:
    return f"{'-' if value < 0 else '+'}{abs(value):,.0f}"
