"""``torus(n1, ..., nd)``: a periodic grid; fields ``[batch, channels, n1, ..., nd]`` that the
cyclic shifts ``T(d)`` move, and on a square 2-D grid the rotations ``C(4)`` / ``D(4)``."""

from __future__ import annotations

from geoc.diagnostics import GeoError
from geoc.domains import base
from geoc.domains.base import Domain, DomainKind
from geoc.domains.grid import TORUS, field_rules, rotates_grid
from geoc.grammar import ast
from geoc.groups import Group, Rotations

#: Orders of the rotations that map a square grid onto itself (multiples of 90°).
GRID_ROTATION_ORDERS = (1, 2, 4)


def parse(expr: ast.Call, env: base.Env) -> Domain:
    base.no_kwargs(expr, set())
    sizes = tuple(base.grid_size(arg, env, 2) for arg in expr.args)
    if not 1 <= len(sizes) <= 3:
        raise GeoError(base.bad(expr, "`torus` takes one to three grid sizes: `torus(64, 64)`"))
    return Domain(DomainKind.TORUS, TORUS, grid=sizes)


def symmetry_error(group: Group, domain: Domain) -> str | None:
    """Why ``group`` has no action on the torus (None when it has one): a torus carries the
    cyclic shifts ``T(d)`` (those by multiples of a step dividing its sizes: ``T(d, step=k)``);
    a square 2-D torus also ``C(4)`` / ``D(4)`` (rotations by 90° and reflections about the
    origin), alone or with ``T(2)`` (the wallpaper groups p4 / p4m)."""
    if not group.factors:
        return None
    geo = group.geometric
    alone = len(group.factors) == 1 and geo is not None
    d = len(domain.grid)
    if rotates_grid(group):
        return _rotation_error(group, domain)
    if alone and geo.rotations is Rotations.NONE and geo.n == d:
        return _step_error(geo.step, domain)
    rotations = ", and a square 2-D one `C(4)` / `D(4)` with or without `T(2)`"
    return f"a {d}-D torus carries the cyclic shifts `T({d})`" + (rotations if d == 2 else "")


def _step_error(step: int, domain: Domain) -> str | None:
    """Why shifts by multiples of ``step`` do not form a group of the torus's shifts: the
    step must divide every grid size (None when it does)."""
    if all(n % step == 0 for n in domain.grid):
        return None
    sizes = ", ".join(map(str, domain.grid))
    return (
        f"the shifts by multiples of {step} wrap around the torus only when {step} divides "
        f"every grid size ({sizes}): it carries `T({len(domain.grid)}, step=k)` for such a k"
    )


def _rotation_error(group: Group, domain: Domain) -> str | None:
    """Why the rotation group ``group`` (:func:`rotates_grid`) has no exact action on the
    torus ``domain`` (None when it has one)."""
    grid = domain.grid
    n = group.matrix.n
    if len(grid) != 2:
        return (
            f"`{group.matrix}` rotates a 2-D grid; a {len(grid)}-D torus carries `T({len(grid)})`"
        )
    if n not in GRID_ROTATION_ORDERS:
        return (
            "only rotations by multiples of 90° map grid points to grid points: "
            "`C(4)`, `D(4)` (or `C(2)`, `D(2)`, `C(1)`, `D(1)`), with `T(2)` for shifts"
        )
    if n == 4 and grid[0] != grid[1]:
        return (
            f"a 90° rotation maps the {grid[0]}x{grid[1]} grid onto itself only when it is "
            "square; use `torus(n, n)`, or `C(2)` / `D(2)`"
        )
    return None


base.register(
    field_rules(
        DomainKind.TORUS,
        describe=lambda d: f"torus({', '.join(map(str, d.grid))})",
        parse=parse,
        symmetry_error=symmetry_error,
    )
)
