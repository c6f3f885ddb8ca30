"""Declared symmetry breaking in a model: `breaks T(3) by x` (docs/language.md "Declared
symmetry breaking"). The group H that remains is computed once, before the body is elaborated.
A value is broken if `by` names it or an operator computes it from a broken value; an operator
reading only unbroken values is typed and proved under the declared group G, every other one
under H. Each operator is then at least H-equivariant (G contains H), so their composition is
H-equivariant: the extra strictness only rejects more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import Domain, DomainKind
from geoc.elaborate.messages import about_expr
from geoc.elaborate.values import Const, Poison, Scope, Value
from geoc.grammar import ast
from geoc.groups import Broken, Group
from geoc.groups.factors import Permutation
from geoc.groups.from_ast import remainder_from_ast
from geoc.ir import Graph, ValueRef


def declared_remainder(
    model: ast.Model, declared: Group, domains: tuple[Domain, ...], params: dict[str, Any]
) -> tuple[Group, tuple[Broken, ...]]:
    """What remains of ``declared`` after the model's `breaks` statements, checked against its
    domains (which must carry it too), and what each statement broke."""
    breaks = [s for s in model.body if isinstance(s, ast.Breaks)]
    if not breaks:
        return declared, ()
    if any(d.cell for d in domains):
        raise GeoError(
            Diagnostic(
                "GEO514",
                "a periodic cell with a declared break is not built",
                breaks[0].span,
                label="not built",
                help="moving an atom by a lattice vector is part of a periodic model's "
                "symmetry, which absolute coordinates break as well: use `cell=false`",
            )
        )
    polar = all(d.kind is DomainKind.SPHERE for d in domains)  # where SO(2) is polar
    remaining, broken = remainder_from_ast(declared, breaks, params, polar)
    for stmt, each in zip(breaks, broken, strict=True):
        _check_permutation_break(stmt, each, domains)
    for each in domains:
        each.rules.check_symmetry(remaining, each, breaks[-1].span)
    return remaining, broken


def _check_permutation_break(stmt: ast.Breaks, broken: Broken, domains: tuple[Domain, ...]) -> None:
    """GEO514 unless a broken permutation permutes an ordered axis (a sequence's tokens, whose
    positions break it); an unordered set has nothing but its permutations to break."""
    if not isinstance(broken.part, Permutation):
        return
    owner = next((d for d in domains if d.axis == broken.part.axis), None)
    if owner is not None and owner.rules.ordered:
        return
    raise GeoError(
        about_expr(
            "GEO514",
            stmt.group,
            "is part of the symmetry, but breaking it is not built: only a `sequence` axis has "
            "positions to break its permutations",
            label="not built",
            help="drop the factor from `symmetry` instead",
        )
    )


def check_breakers(model: ast.Model, scope: Scope) -> None:
    """Each name after `by` is a value of the model (an input, or a value it computes, bound
    by the end of its body); a compile-time parameter or an unknown name is GEO211."""
    for stmt in model.body:
        if not isinstance(stmt, ast.Breaks):
            continue
        for name in stmt.by:
            bound = scope.env.get(name.id)
            if isinstance(bound, Value | Poison):
                continue
            what = "a compile-time parameter" if isinstance(bound, Const) else "not defined"
            raise GeoError(
                Diagnostic(
                    "GEO211",
                    f"`{name.id}` after `by` is {what}, not a value of the model",
                    name.span,
                    label="not a value",
                    help="name the inputs or computed values that break the group, e.g. "
                    "`breaks T(3) by x` for an input `x: point(3) over nodes`",
                )
            )


def breaking_names(model: ast.Model) -> frozenset[str]:
    """Every name after `by`: the model-level values whose statements break the group."""
    return frozenset(n.id for s in model.body if isinstance(s, ast.Breaks) for n in s.by)


def breaks_fix(graph: Graph, refs: Iterable[ValueRef]) -> str:
    """The help's suggestion for a call typed under the declared group that the group refuses:
    name the inputs it reads that the declared group moves, after `by` (declared broken, they
    make the call broken); "" where nothing is broken or it reads no such input."""
    if not graph.broken:
        return ""
    seen: set[str] = set()
    for ref in refs:
        seen |= nx.ancestors(graph.g, ref.node) | {ref.node}
    declared = graph.declared or graph.group
    inputs = [graph.node(n) for n in graph.g.nodes if n in seen]  # in the model's order
    names = [
        node.attrs["name"]
        for node in inputs
        if node.op == "input" and not all(map(declared.is_invariant, node.out_types[0].atoms))
    ]
    if not names:
        return ""
    last = graph.broken[-1]
    reduced = f" to {last.to}" if last.to else ""
    written = f"breaks {last.part}{reduced} by " + ", ".join([*last.by, *names])
    quoted, one = ", ".join(f"`{n}`" for n in names), len(names) == 1
    verb, them = ("breaks", "it") if one else ("break", "them")
    return f"; if {quoted} {verb} the symmetry on purpose, name {them} after `by`: `{written}`"
