"""Domains: where features live, which index axes exist, and how edges are made.

One module per kind of domain (``set``, ``graph``, ``pointcloud``, ``torus``, ``sphere``,
``grid``, ``weightspace``, ``sequence``, ``global_``) holds that kind's rules
(:class:`DomainRules`: how it is written, its axes, which groups act on it, which values and
operators it takes), registered in
:data:`KINDS`; a new kind is one new module imported below.

>>> str(Domain.parse("pointcloud(nodes, dim=3, edges=radius(5.0))"))
'pointcloud(nodes, dim=3, edges=radius(5.0))'
"""

from __future__ import annotations

from geoc.diagnostics import GeoError
from geoc.domains import (  # noqa: F401
    edges,
    global_,
    graph,
    plain_grid,
    pointcloud,
    sample,
    sequence,
    set,
    sphere,
    torus,
    weightspace,
)
from geoc.domains.base import (
    EDGE_AXIS,
    HIDDEN_AXIS,
    KINDS,
    SPECTRUM_AXIS,
    SPHERE_GRIDS,
    WEIGHTS_AXIS,
    Domain,
    DomainKind,
    DomainRules,
    EdgeRule,
    Env,
    bad,
    is_spectrum_axis,
    spectrum_axis,
    spectrum_band,
)
from geoc.grammar import ast

_WRITTEN = {rules.kind.value: rules.parse for rules in KINDS.values() if rules.parse}


def domain_from_ast(expr: ast.Expr, env: Env) -> Domain:
    """The domain a `domain` statement writes, e.g. ``graph(nodes)``."""
    parse = _WRITTEN.get(expr.func.id) if isinstance(expr, ast.Call) else None
    if parse is None:
        raise GeoError(bad(expr, "not a known domain"))
    return parse(expr, env)


__all__ = [
    "EDGE_AXIS",
    "HIDDEN_AXIS",
    "KINDS",
    "SPECTRUM_AXIS",
    "SPHERE_GRIDS",
    "WEIGHTS_AXIS",
    "Domain",
    "DomainKind",
    "DomainRules",
    "EdgeRule",
    "domain_from_ast",
    "is_spectrum_axis",
    "spectrum_axis",
    "spectrum_band",
]
