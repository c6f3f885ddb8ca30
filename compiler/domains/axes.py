"""Models over several axes (docs/language.md, "Several axes"): a model's domains, the first
the *primary* one, and the edge sets between their axes.

The primary domain keeps every meaning it has alone (``x[src]``, ``over=edges``, ``batch``);
a further ``set`` or ``pointcloud`` adds a node axis, an ``edges(E, src=A, dst=B, rule=R)``
domain an edge set, a ``sample(A, from=P, rule=fps(m))`` a node axis of points chosen from
``P`` (``sample.py``: derived inside the module, never an input). Everything that needs an
edge set asks :func:`edge_ends` by its axis name, so the primary's edges (``edges``, from its
axis to itself) and declared sets are one concept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains.base import EDGE_AXIS, Domain, DomainKind
from geoc.domains.edges import needs_positions
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.ir import Port

#: Kinds a further domain may be (a grid, a weight space or a second `graph` is GEO510), and
#: kinds the primary may be when there are further ones.
FURTHER = (DomainKind.SET, DomainKind.POINTCLOUD, DomainKind.EDGES, DomainKind.SAMPLE)
#: Kinds whose elements have positions: edge rules that measure distances may join them.
CLOUDS = (DomainKind.POINTCLOUD, DomainKind.SAMPLE)
PRIMARY = (DomainKind.SET, DomainKind.POINTCLOUD, DomainKind.GRAPH)


def edge_ends(domains: Sequence[Domain], name: str) -> tuple[str, str] | None:
    """The (src, dst) axes of the edge set called ``name`` (None: no such edge set)."""
    primary = domains[0] if domains else Domain()
    if name == EDGE_AXIS and primary.has_edges and primary.axis is not None:
        return primary.axis, primary.axis
    for domain in domains[1:]:
        if domain.kind is DomainKind.EDGES and domain.axis == name:
            return domain.ends[0], domain.ends[1]
    return None


def edge_sets(domains: Sequence[Domain]) -> tuple[str, ...]:
    """Every edge set's axis, the primary's ``edges`` first."""
    return tuple(d for d in all_axes(domains) if edge_ends(domains, d) is not None)


def node_axes(domains: Sequence[Domain]) -> tuple[str, ...]:
    """The axes elements live on (every axis but the edge sets'), the primary's first."""
    return tuple(d.axis for d in domains if d.axis is not None and d.kind is not DomainKind.EDGES)


def all_axes(domains: Sequence[Domain]) -> tuple[str, ...]:
    return tuple(a for d in domains for a in d.axes)


def further(domains: Sequence[Domain]) -> tuple[Domain, ...]:
    """The domains after the primary that hold elements (not edge sets)."""
    return tuple(d for d in domains[1:] if d.kind is not DomainKind.EDGES)


def cross_sets(domains: Sequence[Domain]) -> tuple[Domain, ...]:
    """The declared edge sets (the primary's own edges are not among them)."""
    return tuple(d for d in domains[1:] if d.kind is DomainKind.EDGES)


def samples(domains: Sequence[Domain]) -> tuple[Domain, ...]:
    """The sampled axes (``sample(centres, from=points, rule=fps(m))``), in declaration order:
    a sampled axis comes after its parent, so this order builds every parent first."""
    return tuple(d for d in domains[1:] if d.kind is DomainKind.SAMPLE)


def sampled(domains: Sequence[Domain], axis: str) -> Domain | None:
    """The sampled axis called ``axis`` (None: no such sampled axis)."""
    return next((d for d in samples(domains) if d.axis == axis), None)


def domain_of(domains: Sequence[Domain], axis: str) -> Domain | None:
    return next((d for d in domains if d.axis == axis and d.kind is not DomainKind.EDGES), None)


def as_further(domain: Domain) -> Domain:
    """A point cloud after the primary: no edges of its own (its edge sets are declared)."""
    if domain.kind is DomainKind.POINTCLOUD:
        return dataclasses.replace(domain, edges=None, edge_arg=None, edge_tol=None)
    return domain


def check_domains(domains: Sequence[Domain], stmts: Sequence[ast.Domain]) -> tuple[Domain, ...]:
    """The model's domains, each after the first as a further one; raises the first problem."""
    if domains and domains[0].kind is DomainKind.EDGES:
        why = "the first domain is the primary one: it declares a node axis, not an edge set"
        raise GeoError(_problem("GEO204", why, stmts[0].value.span, "declare the axes first"))
    if domains and domains[0].kind is DomainKind.SAMPLE:  # its parent comes before it
        _check_sample((), domains[0], stmts[0])
    if len(domains) < 2:
        return tuple(domains)
    _check_kinds(domains, stmts)
    result = (domains[0], *(as_further(d) for d in domains[1:]))
    _check_names(result, stmts)
    for index, (domain, stmt) in enumerate(zip(result, stmts, strict=True)):
        if domain.kind is DomainKind.EDGES:
            _check_edge_set(result, domain, stmt)
        if domain.kind is DomainKind.SAMPLE:
            _check_sample(result[:index], domain, stmt)
    _check_dims(result, stmts)
    return result


NOT_BUILT_HELP = (
    "several axes are built for `set(...)` and `pointcloud(...)` domains and `edges(...)` sets "
    "between them (the primary may also be `graph(nodes)`)"
)


def _check_kinds(domains: Sequence[Domain], stmts: Sequence[ast.Domain]) -> None:
    for index, (domain, stmt) in enumerate(zip(domains, stmts, strict=True)):
        allowed = PRIMARY if index == 0 else FURTHER
        what = "" if index == 0 else "further "
        if domain.kind not in allowed:
            why = f"a model with several domains over a {what}`{domain.kind.value}` domain"
            raise GeoError(_problem("GEO510", why + " is not built yet", stmt.value.span))
        if domain.cell:
            why = "a periodic cell in a model with several domains is not built yet"
            raise GeoError(_problem("GEO510", why, stmt.value.span))
        if index and domain.kind is DomainKind.POINTCLOUD:
            _no_own_edges(stmt)


def _no_own_edges(stmt: ast.Domain) -> None:
    call = stmt.value
    written = [k for k in call.kwargs if k.name.id == "edges"] if isinstance(call, ast.Call) else []
    if written:
        why = "a further point cloud has no edges of its own: its edge sets are declared"
        axis = call.args[0].id if isinstance(call.args[0], ast.Name) else "centres"
        fix = f"declare `domain edges(near, src={axis}, dst={axis}, rule=...)`"
        raise GeoError(_problem("GEO204", why, written[0].span, fix))


def _check_names(domains: Sequence[Domain], stmts: Sequence[ast.Domain]) -> None:
    """GEO209 for an axis declared twice (the primary's ``edges`` included)."""
    seen: set[str] = set()
    for domain, stmt in zip(domains, stmts, strict=True):
        for axis in domain.axes:
            if axis in seen:
                span = _first_arg_span(stmt)
                why = f"axis `{axis}` is declared twice"
                fix = "give every axis and edge set its own name (`edges` is the primary's)"
                raise GeoError(_problem("GEO209", why, span, fix))
            seen.add(axis)


def _check_edge_set(domains: Sequence[Domain], edges: Domain, stmt: ast.Domain) -> None:
    nodes = node_axes(domains)
    for end, axis in zip(("src", "dst"), edges.ends, strict=True):
        span = _kwarg_span(stmt, end)
        if axis not in nodes:
            why = f"`{end}={axis}`: no domain declares the axis `{axis}`"
            raise GeoError(_problem("GEO203", why, span, f"the node axes: {', '.join(nodes)}"))
        owner = domain_of(domains, axis)
        if needs_positions(edges) and (owner is None or owner.kind not in CLOUDS):
            rule = edges.edges.value if edges.edges else "full"
            why = f"`{rule}` edges measure distances, but `{axis}` is not a point cloud"
            fix = f"declare `domain pointcloud({axis}, dim=3)`, or use `rule=full`"
            raise GeoError(_problem("GEO204", why, span, fix))


def _check_sample(before: Sequence[Domain], sample: Domain, stmt: ast.Domain) -> None:
    """The parent of a sampled axis: a point cloud (or sampled axis) declared before it."""
    parent, span = sample.ends[0], _kwarg_span(stmt, "from")
    owner = domain_of(before, parent)
    if owner is None:
        nodes = ", ".join(node_axes(before)) or "none"
        why = f"`from={parent}`: no axis `{parent}` is declared before `{sample.axis}`"
        fix = f"sample from a point cloud declared above it (declared: {nodes})"
        raise GeoError(Diagnostic("GEO214", why, span, label="parent axis", help=fix))
    if owner.kind not in CLOUDS:
        kind = owner.kind.value
        why = f"`from={parent}`: farthest-point sampling needs positions; `{parent}` is a {kind}"
        fix = f"declare `domain pointcloud({parent}, dim=3)`"
        raise GeoError(Diagnostic("GEO373", why, span, label="not a point cloud", help=fix))


def _check_dims(domains: Sequence[Domain], stmts: Sequence[ast.Domain]) -> None:
    """Every point cloud's positions live in one space: E(n) moves them together."""
    clouds = [(d, s) for d, s in zip(domains, stmts, strict=True) if d.dim is not None]
    for domain, stmt in clouds[1:]:
        if domain.dim != clouds[0][0].dim:
            first = clouds[0][0]
            why = f"`{domain.axis}` has dim={domain.dim}, `{first.axis}` dim={first.dim}"
            fix = "the group moves every point cloud's positions together: give them one `dim`"
            raise GeoError(_problem("GEO204", why, stmt.value.span, fix))


def _first_arg_span(stmt: ast.Domain) -> Span | None:
    call = stmt.value
    if isinstance(call, ast.Call) and call.args:
        return call.args[0].span
    return call.span


def _kwarg_span(stmt: ast.Domain, name: str) -> Span | None:
    call = stmt.value
    kwargs = call.kwargs if isinstance(call, ast.Call) else ()
    return next((k.value.span for k in kwargs if k.name.id == name), call.span)


def _problem(code: str, message: str, span: Span | None, help: str = NOT_BUILT_HELP) -> Diagnostic:
    return Diagnostic(code, message, span, label="domain", help=help)


def check_ports(
    domains: Sequence[Domain],
    inputs: Mapping[str, Port],
    outputs: Mapping[str, Port],
    span: Span | None,
) -> None:
    """Every node axis takes its length from an input over it; values over an edge set between
    axes stay inside the module (an output over one is not built yet: GEO510)."""
    derived = {d.axis for d in samples(domains)}
    for port in inputs.values():
        if derived.intersection(port.type.axes):
            axis = derived.intersection(port.type.axes).pop()
            why = f"`{port.name}` lies over the sampled axis `{axis}`, chosen inside the module"
            fix = f"declare it over the parent axis and take it with `x[from({axis})]`"
            raise GeoError(Diagnostic("GEO374", why, port.span, label="derived axis", help=fix))
    for axis in node_axes(domains):
        if axis not in derived and not any(p.type.axes == (axis,) for p in inputs.values()):
            why = f"no input lies over `{axis}`: its length would be unknown"
            raise GeoError(_problem("GEO204", why, span, f"declare an input `... over {axis}`"))
    sets = {d.axis for d in cross_sets(domains)}
    for port in [*inputs.values(), *outputs.values()]:
        crossing = sets.intersection(port.type.axes)
        if crossing:
            name = crossing.pop()
            why = f"`{port.name}` over the edge set `{name}` between axes is not built yet"
            fix = "reduce it onto an axis first: `sum(m, over=near, into=centres)`"
            raise GeoError(_problem("GEO510", why, port.span, fix))
