"""Domains: where features live, which index axes exist, and how edges are made.

>>> str(Domain.parse("pointcloud(nodes, dim=3, edges=radius(5.0))"))
'pointcloud(nodes, dim=3, edges=radius(5.0))'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast

EDGE_AXIS = "edges"
#: The axis of spherical-harmonic coefficients (`sht` output): [batch, channels, lmax, mmax].
SPECTRUM_AXIS = "spectrum"
#: Sphere grids: their quadrature decides how far a band-limited field is integrated exactly.
SPHERE_GRIDS = ("equiangular", "legendre_gauss")
#: A weight space's axes: its values live over `weights`; `S(hidden)` permutes hidden neurons.
WEIGHTS_AXIS = "weights"
HIDDEN_AXIS = "hidden"


class DomainKind(str, enum.Enum):
    GLOBAL = "global"  # a single point: no index axes
    SET = "set"
    GRAPH = "graph"  # edges come in as an `edge_index` input
    POINTCLOUD = "pointcloud"  # edges are built inside the module from the positions
    TORUS = "torus"  # a periodic grid: fields [batch, channels, n1, ..., nd]
    SPHERE = "sphere"  # a latitude-longitude grid: fields [batch, channels, nlat, nlon]
    WEIGHTSPACE = "weightspace"  # an MLP's weights and biases: docs/weightspace.md


class EdgeRule(str, enum.Enum):
    GIVEN = "given"  # graph(nodes): edge_index is an input
    FULL = "full"
    RADIUS = "radius"
    KNN = "knn"


@dataclass(frozen=True, slots=True)
class Domain:
    kind: DomainKind = DomainKind.GLOBAL
    axis: str | None = None  # the node (or set) axis
    dim: int | None = None  # pointcloud: dimension of the positions
    edges: EdgeRule | None = None
    edge_arg: float | None = None  # radius r, or k of knn
    grid: tuple[int, ...] = ()  # torus: (n1, ..., nd); sphere: (nlat, nlon)
    quadrature: str | None = None  # sphere: one of SPHERE_GRIDS
    layers: tuple[int, ...] = ()  # weightspace: the MLP's layer sizes (d0, d1, ..., dL)

    def __str__(self) -> str:
        if self.kind is DomainKind.GLOBAL:
            return "global"
        if self.kind is DomainKind.TORUS:
            return f"torus({', '.join(map(str, self.grid))})"
        if self.kind is DomainKind.SPHERE:
            nlat, nlon = self.grid
            return f"sphere(nlat={nlat}, nlon={nlon}, grid={self.quadrature})"
        if self.kind is DomainKind.WEIGHTSPACE:
            return f"weightspace(mlp=[{', '.join(map(str, self.layers))}])"
        if self.kind is not DomainKind.POINTCLOUD:
            return f"{self.kind.value}({self.axis})"
        edges = self.edges.value if self.edges else "full"
        if self.edge_arg is not None:
            arg = int(self.edge_arg) if self.edges is EdgeRule.KNN else self.edge_arg
            edges += f"({arg})"
        return f"pointcloud({self.axis}, dim={self.dim}, edges={edges})"

    @classmethod
    def parse(cls, text: str) -> Domain:
        from geoc.grammar.parser import parse_expr

        return domain_from_ast(parse_expr(text, "<domain>"), {})

    @property
    def is_field(self) -> bool:
        """Values live on a grid, ``[batch, channels, *grid]`` (torus and sphere)."""
        return self.kind in (DomainKind.TORUS, DomainKind.SPHERE)

    @property
    def axes(self) -> tuple[str, ...]:
        if self.kind is DomainKind.WEIGHTSPACE:
            return (WEIGHTS_AXIS, HIDDEN_AXIS)
        if self.axis is None:
            return ()
        if self.kind is DomainKind.SPHERE:
            return (self.axis, SPECTRUM_AXIS)
        if self.edges is None:
            return (self.axis,)
        return (self.axis, EDGE_AXIS)

    @property
    def has_edges(self) -> bool:
        return self.edges is not None


def domain_from_ast(expr: ast.Expr, env: dict[str, object]) -> Domain:
    if not isinstance(expr, ast.Call) or expr.func.id not in _BUILDERS | _GRID_BUILDERS:
        raise GeoError(_bad(expr, "not a known domain"))
    if expr.func.id in _GRID_BUILDERS:
        return _GRID_BUILDERS[expr.func.id](expr, env)
    if len(expr.args) != 1 or not isinstance(expr.args[0], ast.Name):
        raise GeoError(_bad(expr, f"`{expr.func.id}` takes the name of its index axis first"))
    return _BUILDERS[expr.func.id](expr, expr.args[0].id, env)


def _set(expr: ast.Call, axis: str, env: dict[str, object]) -> Domain:
    _no_kwargs(expr, set())
    return Domain(DomainKind.SET, axis)


def _graph(expr: ast.Call, axis: str, env: dict[str, object]) -> Domain:
    _no_kwargs(expr, set())
    return Domain(DomainKind.GRAPH, axis, edges=EdgeRule.GIVEN)


def _pointcloud(expr: ast.Call, axis: str, env: dict[str, object]) -> Domain:
    _no_kwargs(expr, {"dim", "edges"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    dim = _constant(kwargs.get("dim"), env, 3)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise GeoError(_bad(kwargs["dim"], "`dim` must be a positive integer"))
    rule, arg = _edge_rule(kwargs.get("edges"), env)
    return Domain(DomainKind.POINTCLOUD, axis, dim, rule, arg)


def _torus(expr: ast.Call, env: dict[str, object]) -> Domain:
    _no_kwargs(expr, set())
    sizes = tuple(_grid_size(arg, env, 2) for arg in expr.args)
    if not 1 <= len(sizes) <= 3:
        raise GeoError(_bad(expr, "`torus` takes one to three grid sizes: `torus(64, 64)`"))
    return Domain(DomainKind.TORUS, "torus", grid=sizes)


def _sphere(expr: ast.Call, env: dict[str, object]) -> Domain:
    _no_kwargs(expr, {"nlat", "nlon", "grid"})
    kwargs = {k.name.id: k.value for k in expr.kwargs}
    positional = dict(zip(("nlat", "nlon"), expr.args, strict=False))
    if len(expr.args) > 2 or set(positional) & set(kwargs):
        raise GeoError(_bad(expr, "write `sphere(nlat=32, nlon=64, grid=equiangular)`"))
    kwargs |= positional
    if "nlat" not in kwargs or "nlon" not in kwargs:
        raise GeoError(_bad(expr, "write `sphere(nlat=32, nlon=64, grid=equiangular)`"))
    nlat, nlon = _grid_size(kwargs["nlat"], env, 4), _grid_size(kwargs["nlon"], env, 4)
    grid = kwargs.get("grid")
    quadrature = grid.id if isinstance(grid, ast.Name) else "equiangular" if grid is None else ""
    if quadrature not in SPHERE_GRIDS:
        raise GeoError(_bad(grid or expr, "`grid` is `equiangular` or `legendre_gauss`"))
    return Domain(DomainKind.SPHERE, "sphere", grid=(nlat, nlon), quadrature=quadrature)


def _weightspace(expr: ast.Call, env: dict[str, object]) -> Domain:
    """``weightspace(mlp=[d0, d1, ..., dL])``: the weights and biases of an MLP with these layer
    sizes (Navon et al., ICML 2023); ``mlp`` may also name a list parameter."""
    _no_kwargs(expr, {"mlp"})
    given = next((kw.value for kw in expr.kwargs if kw.name.id == "mlp"), None)
    usage = "write `weightspace(mlp=[d0, d1, ..., dL])`: at least two positive layer sizes"
    if expr.args or given is None:
        raise GeoError(_bad(expr, usage))
    items = given.items if isinstance(given, ast.List) else None
    value = env.get(given.id) if isinstance(given, ast.Name) else None
    sizes = [_constant(i, env, None) for i in items] if items is not None else value
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise GeoError(_bad(given, usage))
    for size, item in zip(sizes, items or [given] * len(sizes), strict=True):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 65536:
            raise GeoError(_bad(item, "a layer size is an integer between 1 and 65536"))
    return Domain(DomainKind.WEIGHTSPACE, layers=tuple(sizes))


def _grid_size(expr: ast.Expr, env: dict[str, object], least: int) -> int:
    value = _constant(expr, env, None)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 65536:
        raise GeoError(_bad(expr, f"a grid size is an integer between {least} and 65536"))
    return value


def _edge_rule(expr: ast.Expr | None, env: dict[str, object]) -> tuple[EdgeRule, float | None]:
    if expr is None or (isinstance(expr, ast.Name) and expr.id == "full"):
        return EdgeRule.FULL, None
    if isinstance(expr, ast.Call) and expr.func.id in ("radius", "knn") and len(expr.args) == 1:
        value = _constant(expr.args[0], env, None)
        rule = EdgeRule(expr.func.id)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        if rule is EdgeRule.KNN:
            ok = ok and isinstance(value, int)
        if ok:
            return rule, float(value)
    raise GeoError(_bad(expr, "edges are `full`, `radius(r)` with r > 0, or `knn(k)` with k ≥ 1"))


def _constant(expr: ast.Expr | None, env: dict[str, object], default: object) -> object:
    if expr is None:
        return default
    if isinstance(expr, (ast.Int, ast.Float)):
        return expr.value
    if isinstance(expr, ast.Name) and expr.id in env:
        return env[expr.id]
    return None


def _no_kwargs(expr: ast.Call, allowed: set[str]) -> None:
    for kw in expr.kwargs:
        if kw.name.id not in allowed:
            raise GeoError(_bad(kw, f"`{expr.func.id}` has no argument `{kw.name.id}`"))


def _bad(node: ast.Node, message: str) -> Diagnostic:
    return Diagnostic(
        "GEO204",
        message,
        node.span,
        label="domain",
        help="domains: `set(axis)`, `graph(nodes)`, "
        "`pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k))`, `torus(n1, n2, ...)`, "
        "`sphere(nlat, nlon, grid=equiangular | legendre_gauss)`, "
        "`weightspace(mlp=[d0, d1, ..., dL])`",
    )


_BUILDERS = {"set": _set, "graph": _graph, "pointcloud": _pointcloud}
# Domains that name their own axes (no axis argument first).
_GRID_BUILDERS = {"torus": _torus, "sphere": _sphere, "weightspace": _weightspace}
