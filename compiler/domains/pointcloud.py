"""``pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k))``: points whose edges the
module builds from one input of positions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains.base import (
    EDGE_AXIS,
    Domain,
    DomainKind,
    DomainRules,
    EdgeRule,
    Env,
    axis_argument,
    bad,
    constant,
    no_kwargs,
    register,
)
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.ir import Port


def parse(expr: ast.Call, env: Env) -> Domain:
    axis = axis_argument(expr)
    no_kwargs(expr, {"dim", "edges"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    dim = constant(kwargs.get("dim"), env, 3)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise GeoError(bad(kwargs["dim"], "`dim` must be a positive integer"))
    rule, arg = _edge_rule(kwargs.get("edges"), env)
    return Domain(DomainKind.POINTCLOUD, axis, dim, rule, arg)


def _edge_rule(expr: ast.Expr | None, env: Env) -> tuple[EdgeRule, float | None]:
    if expr is None or (isinstance(expr, ast.Name) and expr.id == "full"):
        return EdgeRule.FULL, None
    if isinstance(expr, ast.Call) and expr.func.id in ("radius", "knn") and len(expr.args) == 1:
        value = constant(expr.args[0], env, None)
        rule = EdgeRule(expr.func.id)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        if rule is EdgeRule.KNN:
            ok = ok and isinstance(value, int)
        if ok:
            return rule, float(value)
    raise GeoError(bad(expr, "edges are `full`, `radius(r)` with r > 0, or `knn(k)` with k ≥ 1"))


def describe(domain: Domain) -> str:
    edges = domain.edges.value if domain.edges else "full"
    if domain.edge_arg is not None:
        arg = int(domain.edge_arg) if domain.edges is EdgeRule.KNN else domain.edge_arg
        edges += f"({arg})"
    return f"pointcloud({domain.axis}, dim={domain.dim}, edges={edges})"


def positions(domain: Domain, inputs: dict[str, Port], span: Span | None) -> str:
    """The one input of points that the edges are built from."""
    wanted = f"point({domain.dim}) over {domain.axis}"
    found = [p.name for p in inputs.values() if str(p.type) == wanted]
    if len(found) != 1:
        raise GeoError(
            Diagnostic(
                "GEO204",
                f"a point cloud builds its edges from one input `{wanted}`; found {len(found)}",
                span,
                help=f"declare exactly one `input pos: {wanted}`",
            )
        )
    return found[0]


register(
    DomainRules(
        DomainKind.POINTCLOUD,
        describe=describe,
        axes=lambda d: (d.axis, EDGE_AXIS),
        parse=parse,
        positions=positions,
    )
)
