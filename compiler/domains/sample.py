"""``sample(centres, from=points, rule=fps(m, tol=1e-6))``: a sampled axis, the points of a point
cloud chosen by farthest-point sampling (docs/language.md, "Sampled axes").

Its one axis is ``centres``: a node axis whose elements are points of ``points`` (its parent, a
point cloud or another sampled axis), chosen per graph of a batch and ordered by the rule, never
given as an input. ``x[from(centres)]`` takes a value over ``points`` to ``centres`` (the value
at each chosen point). The sampled axis is itself a point cloud (its positions are the chosen
points' positions), so edge sets may join it to any point cloud, and sampling may chain.

Farthest-point sampling here is order-independent: the first centre of a graph is the point
farthest from the graph's centroid, each next one the point farthest from the centres chosen;
the sampled set *and its order* are functions of the positions alone. So ``S(points)`` does not
permute ``centres`` (values over it are invariant; ``S(centres)`` is ``GEO480``), and any
isometry of the positions chooses the same points in the same order.
"""

from __future__ import annotations

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import base
from geoc.domains.base import Domain, DomainKind, DomainRules
from geoc.grammar import ast

#: The default relative tie tolerance of `fps` (on squared distances): well above the rounding
#: of float32 distances (~1e-7 relative), well below real gaps between farthest distances.
FPS_TOL = 1e-6
#: The one sampling rule built; written `rule=fps(m)`.
FPS = "fps"

RULE_HELP = (
    "sample with `domain sample(centres, from=points, rule=fps(m))`: `m` a positive whole "
    "number of centres per graph, optional `tol=` with 0 ≤ tol < 1"
)


def parse(expr: ast.Call, env: base.Env) -> Domain:
    name = base.axis_argument(expr)
    base.no_kwargs(expr, {"from", "rule"})
    kwargs = {k.name.id: k for k in expr.kwargs}
    if "from" not in kwargs or not isinstance(kwargs["from"].value, ast.Name):
        where = kwargs["from"].value if "from" in kwargs else expr
        raise GeoError(
            _rule_error("GEO214", "a sampled axis names its parent: `from=points`", where)
        )
    if "rule" not in kwargs:
        raise GeoError(_rule_error("GEO372", "a sampled axis names its rule: `rule=fps(m)`", expr))
    m, tol = _fps(kwargs["rule"].value, env)
    return Domain(
        DomainKind.SAMPLE, name, edge_arg=m, edge_tol=tol, ends=(kwargs["from"].value.id,)
    )


def _fps(expr: ast.Expr, env: base.Env) -> tuple[int, float]:
    """``fps(m)`` / ``fps(m, tol=t)``: GEO372 for anything else (``fps(ratio=...)`` is GEO515)."""
    if not (isinstance(expr, ast.Call) and expr.func.id == FPS):
        raise GeoError(_rule_error("GEO372", "the sampling rule is `fps(m)`", expr))
    ratio = next((k for k in expr.kwargs if k.name.id == "ratio"), None)
    if ratio is not None:
        why = "`fps(ratio=...)` (a fraction of each graph's points) is not built yet"
        help = "give a fixed number of centres per graph: `fps(m)`"
        raise GeoError(Diagnostic("GEO515", why, ratio.span, label="ratio", help=help))
    base.no_kwargs(expr, {"tol"})
    m = base.constant(expr.args[0], env, None) if len(expr.args) == 1 else None
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        where = expr.args[0] if len(expr.args) == 1 else expr
        raise GeoError(_rule_error("GEO372", "`fps(m)` takes a positive whole number `m`", where))
    given = next((k.value for k in expr.kwargs if k.name.id == "tol"), None)
    tol = base.constant(given, env, FPS_TOL)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
        raise GeoError(_rule_error("GEO372", "fps's `tol` is a number with 0 ≤ tol < 1", given))
    return m, float(tol)


def _rule_error(code: str, message: str, node: ast.Node | None) -> Diagnostic:
    span = node.span if node is not None else None
    return Diagnostic(code, message, span, label="sampled axis", help=RULE_HELP)


def describe(domain: Domain) -> str:
    tol = "" if domain.edge_tol in (None, FPS_TOL) else f", tol={domain.edge_tol!r}"
    return f"sample({domain.axis}, from={parent(domain)}, rule=fps({centres(domain)}{tol}))"


def parent(domain: Domain) -> str:
    """The axis the sampled axis's points are chosen from."""
    return domain.ends[0]


def centres(domain: Domain) -> int:
    """``m``: the centres per graph (all of a graph's points where it has fewer)."""
    return int(domain.edge_arg or 0)


def tolerance(domain: Domain) -> float:
    return FPS_TOL if domain.edge_tol is None else float(domain.edge_tol)


def check_symmetry(group: object, domain: Domain, span: Span | None) -> None:
    """GEO480 for ``S(centres)``: the centres are ordered by the geometry, and no input lies over
    them to permute. GEO481 where the group does not keep distances between points (the chosen
    set is invariant only under isometries)."""
    from geoc.types import Atom, AtomKind

    if domain.axis in group.permuted_axes:  # type: ignore[attr-defined]
        why = (
            f"`S({domain.axis})`: the sampled axis `{domain.axis}` is ordered by the geometry "
            f"(farthest-point order), not by an input, so nothing permutes it"
        )
        fix = f"drop `S({domain.axis})`: values over it are invariant under `S({parent(domain)})`"
        raise GeoError(Diagnostic("GEO480", why, span, label="symmetry", help=fix))
    if not group.keeps_norm(Atom(AtomKind.POINT)):  # type: ignore[attr-defined]
        why = f"farthest-point sampling compares distances, which {group} does not keep"
        fix = "sample under a group of isometries (E(n), SE(n), O(n), SO(n), T(n))"
        raise GeoError(Diagnostic("GEO481", why, span, label="symmetry", help=fix))


base.register(
    DomainRules(
        DomainKind.SAMPLE,
        describe=describe,
        axes=lambda d: (d.axis,),
        parse=parse,
        check_symmetry=check_symmetry,  # type: ignore[arg-type]
    )
)
