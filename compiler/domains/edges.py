"""``edges(E, src=A, dst=B, rule=full | radius(r) | knn(k, tol=1e-4) | ball(r, k, tol=1e-4))``:
an edge set between two node axes of a model's other domains (docs/language.md, "Several
axes").

Its one axis is ``E``: values ``over E`` live on its edges, ``x[src(E)]`` / ``x[dst(E)]`` gather
onto it from ``A`` / ``B``, and ``sum(m, over=E, into=B)`` scatters onto ``B``. The rules are the
point cloud's (``pointcloud.edge_rule``), read across the two axes inside each graph of a batch;
with ``A == B`` self-pairs are left out, as in a point cloud.
"""

from __future__ import annotations

from geoc.diagnostics import GeoError
from geoc.domains import base, pointcloud
from geoc.domains.base import Domain, DomainKind, DomainRules, EdgeRule
from geoc.grammar import ast

HELP = "declare `domain edges(near, src=points, dst=centres, rule=knn(8))`"


def parse(expr: ast.Call, env: base.Env) -> Domain:
    name = base.axis_argument(expr)
    base.no_kwargs(expr, {"src", "dst", "rule"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    ends = tuple(_axis_name(expr, kwargs.get(end), end) for end in ("src", "dst"))
    rule, arg, tol, k = pointcloud.edge_rule(kwargs.get("rule"), env)
    return Domain(
        DomainKind.EDGES, name, edges=rule, edge_arg=arg, edge_tol=tol, edge_k=k, ends=ends
    )


def _axis_name(call: ast.Call, expr: ast.Expr | None, end: str) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    raise GeoError(base.bad(expr or call, f"an edge set names its `{end}=` axis: {HELP}"))


def describe(domain: Domain) -> str:
    rule = pointcloud.describe_rule(domain)
    src, dst = domain.ends
    return f"edges({domain.axis}, src={src}, dst={dst}, rule={rule})"


def needs_positions(domain: Domain) -> bool:
    """Whether the rule reads distances (``radius``, ``knn``, ``ball``): both ends are point
    clouds."""
    return domain.edges in (EdgeRule.RADIUS, EdgeRule.KNN, EdgeRule.BALL)


base.register(
    DomainRules(
        DomainKind.EDGES,
        describe=describe,
        axes=lambda d: (d.axis,),
        parse=parse,
    )
)
