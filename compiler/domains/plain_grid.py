"""``grid(n1, ..., nd, boundary=zero | reflect)``: a non-periodic grid; fields ``[batch,
channels, n1, ..., nd]`` whose convolutions read zeros (or the mirror image) past the edges.

A shift moves points off the grid and brings unknown values in at the other edge, so no
translation acts on it, and no rotation either (they move the edges): the only group is
``trivial``. ``geoc check`` says so, and checks what remains: that every sample of a batch is
computed on its own."""

from __future__ import annotations

from geoc.diagnostics import GeoError
from geoc.domains import base
from geoc.domains.base import GRID_BOUNDARIES, Domain, DomainKind
from geoc.domains.grid import GRID, field_rules
from geoc.grammar import ast
from geoc.groups import Group


def parse(expr: ast.Call, env: base.Env) -> Domain:
    base.no_kwargs(expr, {"boundary"})
    sizes = tuple(base.grid_size(arg, env, 2) for arg in expr.args)
    if not 1 <= len(sizes) <= 3:
        raise GeoError(
            base.bad(expr, "`grid` takes one to three grid sizes: `grid(64, 64, boundary=zero)`")
        )
    given = next((k.value for k in expr.kwargs if k.name.id == "boundary"), None)
    boundary = given.id if isinstance(given, ast.Name) else "zero" if given is None else ""
    if boundary not in GRID_BOUNDARIES:
        raise GeoError(base.bad(given or expr, "`boundary` is `zero` or `reflect`"))
    return Domain(DomainKind.GRID, GRID, grid=sizes, boundary=boundary)


def symmetry_error(group: Group, domain: Domain) -> str | None:
    """Why ``group`` has no action on a non-periodic grid: only the trivial group has one."""
    if not group.factors:
        return None
    d = len(domain.grid)
    return (
        f"a non-periodic grid carries no translation group (nor rotations), only `trivial`: a "
        f"shift moves points past its {domain.boundary} boundary (`torus(...)` carries the "
        f"cyclic shifts `T({d})`)"
    )


base.register(
    field_rules(
        DomainKind.GRID,
        describe=lambda d: f"grid({', '.join(map(str, d.grid))}, boundary={d.boundary})",
        parse=parse,
        symmetry_error=symmetry_error,
    )
)
