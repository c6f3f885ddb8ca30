"""``pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k))``: points whose edges the
module builds from one input of positions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import base
from geoc.domains.base import Domain, DomainKind, DomainRules
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.ir import Port


def parse(expr: ast.Call, env: base.Env) -> Domain:
    axis = base.axis_argument(expr)
    base.no_kwargs(expr, {"dim", "edges"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    dim = base.constant(kwargs.get("dim"), env, 3)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise GeoError(base.bad(kwargs["dim"], "`dim` must be a positive integer"))
    rule, arg = _edge_rule(kwargs.get("edges"), env)
    return Domain(DomainKind.POINTCLOUD, axis, dim, rule, arg)


def _edge_rule(expr: ast.Expr | None, env: base.Env) -> tuple[base.EdgeRule, float | None]:
    if expr is None or (isinstance(expr, ast.Name) and expr.id == "full"):
        return base.EdgeRule.FULL, None
    if isinstance(expr, ast.Call) and expr.func.id in ("radius", "knn") and len(expr.args) == 1:
        value = base.constant(expr.args[0], env, None)
        rule = base.EdgeRule(expr.func.id)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        if rule is base.EdgeRule.KNN:
            ok = ok and isinstance(value, int)
        if ok:
            return rule, float(value)
    raise GeoError(
        base.bad(expr, "edges are `full`, `radius(r)` with r > 0, or `knn(k)` with k ≥ 1")
    )


def describe(domain: Domain) -> str:
    edges = domain.edges.value if domain.edges else "full"
    if domain.edge_arg is not None:
        arg = int(domain.edge_arg) if domain.edges is base.EdgeRule.KNN else domain.edge_arg
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


base.register(
    DomainRules(
        DomainKind.POINTCLOUD,
        describe=describe,
        axes=lambda d: (d.axis, base.EDGE_AXIS),
        parse=parse,
        positions=positions,
    )
)
