"""``pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k, tol=1e-4) | ball(r, k, tol=1e-4),
cell=false)``: points whose edges the module builds from one input of positions.

The edge rules (docs/language.md, "Point-cloud edges"), each inside one graph of a batch:

* ``full``: every ordered pair of distinct nodes.
* ``radius(r)``: distinct pairs with ``|p_dst - p_src| < r``. A pair within rounding of ``r``
  may flip under a rotation; no tolerance can remove that boundary, so a model is continuous
  across it only if its messages vanish at ``r`` (``radial_basis(..., cutoff=r)`` does).
* ``knn(k, tol)``: node ``i`` receives an edge from every other node ``j`` with
  ``d_ij <= (1 + tol) d_k(i)``, ``d_k(i)`` the ``k``-th smallest distance from ``i`` to the
  others (every other node if there are at most ``k``). Neighbours tied with the k-th are all
  included, so the edge set is a function of the distances: exact under permutations, and
  under isometries whenever no distance lies within rounding of ``(1 + tol) d_k``; with a gap
  above ``tol`` after the k-th neighbour a node gets exactly ``k`` edges.
* ``ball(r, k, tol)``: PointNet++'s ball query made order-independent: ``knn(k, tol)`` among
  the nodes closer than ``r`` (``d_k(i)`` the k-th smallest distance below ``r``, every such
  node if there are at most ``k``), never the first ``k`` in memory order. Exact whenever no
  distance lies within rounding of ``r`` or of ``(1 + tol) d_k``.

``cell=true`` (with ``radius`` edges, ``dim=3``): each graph lies in a periodic cell, given at
run time as ``cell`` (rows the lattice vectors) and ``pbc`` (periodic axes); an edge may join an
atom to a periodic image of another (or of itself). Translating one atom by a lattice vector
changes nothing, so a point is only ever meaningful per atom: a global point (declared, or a
pooled one) is ``GEO450``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import base
from geoc.domains.base import Domain, DomainKind, DomainRules
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.ir import Port
    from geoc.ops import OpContext
    from geoc.types import FeatureType

#: knn's default relative tie tolerance: well above float32 rounding of distances (~1e-7
#: relative, times |p| / d away from the origin), well below real gaps between neighbours.
KNN_TOL = 1e-4


def parse(expr: ast.Call, env: base.Env) -> Domain:
    axis = base.axis_argument(expr)
    base.no_kwargs(expr, {"dim", "edges", "cell"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    dim = base.constant(kwargs.get("dim"), env, 3)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise GeoError(base.bad(kwargs["dim"], "`dim` must be a positive integer"))
    rule, arg, tol, k = edge_rule(kwargs.get("edges"), env)
    cell = _cell(kwargs.get("cell"), env, dim, rule)
    return Domain(DomainKind.POINTCLOUD, axis, dim, rule, arg, tol, cell=cell, edge_k=k)


CELL_HELP = (
    "a periodic cell: `pointcloud(nodes, dim=3, edges=radius(r), cell=true)`, with the runtime "
    "inputs `cell` [graphs, 3, 3] (rows the lattice vectors) and `pbc` [graphs, 3]"
)


def _cell(expr: ast.Expr | None, env: base.Env, dim: int, rule: base.EdgeRule) -> bool:
    """``cell=true``: only with ``radius`` edges (the images within ``r`` are well defined;
    ``full`` and ``knn`` would need infinitely many or a periodic k-th distance) in 3D."""
    if expr is None:
        return False
    cell = base.constant(expr, env, False)
    if not isinstance(cell, bool):
        raise GeoError(base.bad(expr, "`cell` is `true` or `false`"))
    if cell and rule is not base.EdgeRule.RADIUS:
        why = f"a periodic cell needs `edges=radius(r)`, not `{rule.value}`"
        raise GeoError(Diagnostic("GEO204", why, expr.span, label="cell", help=CELL_HELP))
    if cell and dim != 3:
        why = f"a periodic cell is 3 x 3: it needs `dim=3`, not `dim={dim}`"
        raise GeoError(Diagnostic("GEO204", why, expr.span, label="cell", help=CELL_HELP))
    return cell


#: An edge rule as parsed: the rule, its number (``r`` of radius and ball, ``k`` of knn), its
#: tie tolerance (knn, ball) and ball's ``k``.
EdgeSpec = tuple[base.EdgeRule, float | None, float | None, int | None]
EDGES_HELP = (
    "edges are `full`, `radius(r)` with r > 0, `knn(k, tol=1e-4)` with k ≥ 1, or "
    "`ball(r, k, tol=1e-4)` (the k nearest within r) with r > 0 and k ≥ 1"
)


def edge_rule(expr: ast.Expr | None, env: base.Env) -> EdgeSpec:
    if expr is None or (isinstance(expr, ast.Name) and expr.id == "full"):
        return base.EdgeRule.FULL, None, None, None
    if isinstance(expr, ast.Call) and expr.func.id == "ball" and len(expr.args) == 2:
        return _ball(expr, env)
    if isinstance(expr, ast.Call) and expr.func.id in ("radius", "knn") and len(expr.args) == 1:
        rule = base.EdgeRule(expr.func.id)
        base.no_kwargs(expr, {"tol"} if rule is base.EdgeRule.KNN else set())
        value = base.constant(expr.args[0], env, None)
        ok = _is_number(value) and value > 0
        if rule is base.EdgeRule.KNN:
            ok = ok and isinstance(value, int)
        if ok:
            tol = _knn_tol(expr, env) if rule is base.EdgeRule.KNN else None
            return rule, float(value), tol, None
    raise GeoError(base.bad(expr, EDGES_HELP))


def _ball(expr: ast.Call, env: base.Env) -> EdgeSpec:
    """``ball(r, k, tol)``: r > 0 and k ≥ 1, each refused at its own argument."""
    base.no_kwargs(expr, {"tol"})
    radius, k = (base.constant(arg, env, None) for arg in expr.args)
    if not (_is_number(radius) and radius > 0):
        raise GeoError(base.bad(expr.args[0], f"ball's radius is a number r > 0: {EDGES_HELP}"))
    if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
        raise GeoError(base.bad(expr.args[1], f"ball's `k` is an integer k ≥ 1: {EDGES_HELP}"))
    return base.EdgeRule.BALL, float(radius), _knn_tol(expr, env), k


def _knn_tol(expr: ast.Call, env: base.Env) -> float:
    given = next((kw.value for kw in expr.kwargs if kw.name.id == "tol"), None)
    tol = base.constant(given, env, KNN_TOL)
    if not (_is_number(tol) and 0 <= tol < 1):
        raise GeoError(
            base.bad(given or expr, f"{expr.func.id}'s `tol` is a number with 0 ≤ tol < 1")
        )
    return float(tol)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe_rule(domain: Domain) -> str:
    """The edge rule as written: ``full``, ``radius(5.0)``, ``knn(8)``, ``knn(8, tol=0.01)``,
    ``ball(0.2, 32)``."""
    edges = domain.edges.value if domain.edges else "full"
    if domain.edge_arg is not None:
        arg = int(domain.edge_arg) if domain.edges is base.EdgeRule.KNN else domain.edge_arg
        args = f"{arg}" if domain.edge_k is None else f"{arg}, {domain.edge_k}"
        tol = domain.edge_tol
        edges += f"({args})" if tol is None or tol == KNN_TOL else f"({args}, tol={tol!r})"
    return edges


def describe(domain: Domain) -> str:
    if domain.edges is None:  # a model's further point cloud: its edge sets are declared apart
        return f"pointcloud({domain.axis}, dim={domain.dim})"
    cell = ", cell=true" if domain.cell else ""
    return f"pointcloud({domain.axis}, dim={domain.dim}, edges={describe_rule(domain)}{cell})"


LATTICE_HELP = (
    "under a periodic cell each atom may move by a lattice vector: keep points per atom "
    "(`pos[dst] - pos[src]` is the vector to the nearest image; `pos + v` a point per atom)"
)


def _no_global_points(ctx: OpContext, ftype: FeatureType, what: str) -> None:
    if ctx.domain.cell and ftype.has_points and not ftype.axes:
        raise ctx.error(
            "GEO450",
            f"{what} `{ftype}` is a point shared by all atoms of a periodic cell",
            label=str(ftype),
            help=LATTICE_HELP,
        )


def check_type(ctx: OpContext, ftype: FeatureType) -> None:
    """GEO450 for a declared global point under a periodic cell."""
    _no_global_points(ctx, ftype, "the declared type")


def check_result(
    ctx: OpContext, types: Sequence[FeatureType], results: Sequence[FeatureType]
) -> None:
    """GEO450 for a global point computed from points over atoms or edges under a periodic
    cell (e.g. ``mean(pos, over=nodes)``): moving one atom by a lattice vector would move it."""
    for ftype in results:
        _no_global_points(ctx, ftype, f"`{ctx.op}` gives")


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
        axes=lambda d: (d.axis, base.EDGE_AXIS) if d.edges else (d.axis,),
        parse=parse,
        positions=positions,
        check_type=check_type,
        check_result=check_result,
    )
)
