"""``sphere(nlat, nlon, grid=equiangular | legendre_gauss)``: a latitude-longitude grid;
fields ``[batch, channels, nlat, nlon]`` that ``SO(3)`` (or ``SO(2)`` about the pole) moves,
and their spherical-harmonic coefficients over ``spectrum``."""

from __future__ import annotations

from geoc.diagnostics import GeoError
from geoc.domains import base
from geoc.domains.base import Domain, DomainKind
from geoc.domains.grid import SPHERE, field_rules
from geoc.grammar import ast
from geoc.groups import Group, Rotations

_USAGE = "write `sphere(nlat=32, nlon=64, grid=equiangular)`"


def parse(expr: ast.Call, env: base.Env) -> Domain:
    base.no_kwargs(expr, {"nlat", "nlon", "grid"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    positional = dict(zip(("nlat", "nlon"), expr.args, strict=False))
    if len(expr.args) > 2 or set(positional) & set(kwargs):
        raise GeoError(base.bad(expr, _USAGE))
    kwargs |= positional
    if "nlat" not in kwargs or "nlon" not in kwargs:
        raise GeoError(base.bad(expr, _USAGE))
    nlat, nlon = base.grid_size(kwargs["nlat"], env, 4), base.grid_size(kwargs["nlon"], env, 4)
    grid = kwargs.get("grid")
    quadrature = grid.id if isinstance(grid, ast.Name) else "equiangular" if grid is None else ""
    if quadrature not in base.SPHERE_GRIDS:
        raise GeoError(base.bad(grid or expr, "`grid` is `equiangular` or `legendre_gauss`"))
    return Domain(DomainKind.SPHERE, SPHERE, grid=(nlat, nlon), quadrature=quadrature)


def symmetry_error(group: Group, domain: Domain) -> str | None:
    """Why ``group`` has no action on the sphere: it carries ``SO(3)``, or ``SO(2)`` about its
    polar axis (None when it has one)."""
    geo = group.geometric
    alone = len(group.factors) == 1 and geo is not None
    if not group.factors or (
        alone and geo.rotations is Rotations.SO and not geo.translations and geo.n in (2, 3)
    ):
        return None
    return "a sphere carries the rotations `SO(3)`, or `SO(2)` about its polar axis"


def describe(domain: Domain) -> str:
    nlat, nlon = domain.grid
    return f"sphere(nlat={nlat}, nlon={nlon}, grid={domain.quadrature})"


base.register(
    field_rules(
        DomainKind.SPHERE,
        describe=describe,
        parse=parse,
        symmetry_error=symmetry_error,
        more_axes=(base.SPECTRUM_AXIS,),
    )
)
