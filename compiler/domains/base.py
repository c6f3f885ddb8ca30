"""The domain value, and the rules each kind of domain answers for: one module per kind
registers its :class:`DomainRules` in :data:`KINDS`, so that no driver branches on the kind.

>>> str(Domain.parse("pointcloud(nodes, dim=3, edges=radius(5.0))"))
'pointcloud(nodes, dim=3, edges=radius(5.0))'
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.elaborate.constants import evaluate
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.groups import Group
    from geoc.ir import Graph, Port
    from geoc.ops import OpContext, OpDef
    from geoc.types import AtomKind, FeatureType

EDGE_AXIS = "edges"
#: The axis of spherical-harmonic coefficients (`sht` output): [batch, channels, lmax, mmax],
#: of the band the grid resolves exactly; another band is :func:`spectrum_axis` of its lmax.
SPECTRUM_AXIS = "spectrum"


def spectrum_axis(lmax: int | None) -> str:
    """The axis of coefficients of degrees ``l < lmax``: ``spectrum`` for the grid's exact band
    (None), ``spectrum(lmax=4)`` for another, so that coefficients of different bands (of
    different shapes) never combine: ``sht(u, lmax=4) + sht(u, lmax=8)`` is ``GEO305``."""
    return SPECTRUM_AXIS if lmax is None else f"{SPECTRUM_AXIS}(lmax={lmax})"


def spectrum_band(axis: str) -> int | None:
    """The ``lmax`` of a :func:`spectrum_axis` (None: the grid's exact band)."""
    if axis == SPECTRUM_AXIS:
        return None
    return int(axis.removeprefix(f"{SPECTRUM_AXIS}(lmax=").removesuffix(")"))


def is_spectrum_axis(axis: str) -> bool:
    return axis == SPECTRUM_AXIS or axis.startswith(f"{SPECTRUM_AXIS}(")


#: Sphere grids: their quadrature decides how far a band-limited field is integrated exactly.
SPHERE_GRIDS = ("equiangular", "legendre_gauss")
#: What a non-periodic grid's convolutions read past its edges: zeros, or the mirror image
#: (without repeating the edge, PyTorch's ``padding_mode="reflect"``).
GRID_BOUNDARIES = ("zero", "reflect")
#: A weight space's axes: its values live over `weights`; `S(hidden)` permutes hidden neurons.
WEIGHTS_AXIS = "weights"
HIDDEN_AXIS = "hidden"

Env = dict[str, object]


class DomainKind(str, enum.Enum):
    GLOBAL = "global"  # a single point: no index axes
    SET = "set"
    GRAPH = "graph"  # edges come in as an `edge_index` input
    POINTCLOUD = "pointcloud"  # edges are built inside the module from the positions
    TORUS = "torus"  # a periodic grid: fields [batch, channels, n1, ..., nd]
    GRID = "grid"  # a non-periodic grid (zero or reflect boundary), no group moves it
    SPHERE = "sphere"  # a latitude-longitude grid: fields [batch, channels, nlat, nlon]
    WEIGHTSPACE = "weightspace"  # a network's weights and biases: docs/weightspace.md
    EDGES = "edges"  # an edge set between two axes of a model's other domains (several axes)
    SAMPLE = "sample"  # points of another point cloud chosen by farthest-point sampling
    SEQUENCE = "sequence"  # an ordered axis of tokens: docs/language.md "Sequences and causality"


class EdgeRule(str, enum.Enum):
    GIVEN = "given"  # graph(nodes): edge_index is an input
    FULL = "full"
    RADIUS = "radius"
    KNN = "knn"
    BALL = "ball"  # the k nearest within r (PointNet++'s ball query, order-independent)


@dataclass(frozen=True, slots=True)
class Domain:
    kind: DomainKind = DomainKind.GLOBAL
    axis: str | None = None  # the node (or set) axis
    dim: int | None = None  # pointcloud: dimension of the positions
    edges: EdgeRule | None = None
    edge_arg: float | None = None  # radius r (radius, ball), or k of knn
    edge_tol: float | None = None  # knn, ball: the relative tie tolerance (pointcloud.KNN_TOL)
    edge_k: int | None = None  # ball: the k nearest within r
    cell: bool = False  # pointcloud: a periodic cell per graph (runtime `cell`, `pbc`)
    grid: tuple[int, ...] = ()  # torus: (n1, ..., nd); sphere: (nlat, nlon)
    quadrature: str | None = None  # sphere: one of SPHERE_GRIDS
    boundary: str | None = None  # grid: one of GRID_BOUNDARIES, what lies past its edges
    layers: tuple[int, ...] = ()  # weightspace: the layer sizes (d0, d1, ..., dL)
    ends: tuple[str, ...] = ()  # edges: the (src, dst) axes the edge set joins; sample: (parent,)
    causal: bool = False  # sequence: each output token reads only the tokens at or before it
    conv: int = 0  # weightspace: how many of `layers` (after d0) are conv layers (cnn=)
    kernel: int = 0  # weightspace: the conv layers' kernel size k (k x k kernels)
    skips: tuple[int, ...] = ()  # weightspace: the layers i whose input h_(i-1) is added back
    padded: bool = False  # weightspace: `layers` are maxima; inputs carry per-network widths

    def __str__(self) -> str:
        return self.rules.describe(self)

    @classmethod
    def parse(cls, text: str) -> Domain:
        from geoc.domains import domain_from_ast
        from geoc.grammar.parser import parse_expr

        return domain_from_ast(parse_expr(text, "<domain>"), {})

    @property
    def rules(self) -> DomainRules:
        return KINDS[self.kind]

    @property
    def is_field(self) -> bool:
        """Values live on a grid, ``[batch, channels, *grid]`` (torus and sphere)."""
        return self.rules.is_field

    @property
    def axes(self) -> tuple[str, ...]:
        return self.rules.axes(self)

    @property
    def has_edges(self) -> bool:
        return self.edges is not None


def _no_check(*args: Any) -> None:
    return None


def _no_problems(*args: Any) -> list[Diagnostic]:
    return []


@dataclass(frozen=True)
class DomainRules:
    """What one kind of domain decides; the defaults are those of a domain without checks."""

    kind: DomainKind
    #: How the domain is written in a spec (``str(domain)``).
    describe: Callable[[Domain], str]
    #: Its index axes: the axes values may be declared over.
    axes: Callable[[Domain], tuple[str, ...]]
    #: The domain from its call ``kind(...)`` in a spec (None: never written).
    parse: Callable[[ast.Call, Env], Domain] | None = None
    #: Values live on a grid, ``[batch, channels, *grid]``.
    is_field: bool = False
    #: Its elements have positions (a sequence): values may break ``S(axis)`` on purpose
    #: (`breaks S(tokens) by q`); elsewhere breaking a permutation is not built (GEO514).
    ordered: bool = False
    #: Raises unless the model's group acts on the domain (given the `symmetry` statement's span).
    check_symmetry: Callable[[Group, Domain, Span | None], None] = _no_check
    #: Raises unless a declared type (input, output, attribute) is a value the domain carries.
    check_type: Callable[[OpContext, FeatureType], None] = _no_check
    #: Raises unless the operator acts on these values over the domain (before its typing rule).
    check_use: Callable[[OpContext, OpDef, Sequence[FeatureType]], None] = _no_check
    #: Raises unless a global value (argument ``arg`` of the call) may meet values over the
    #: axes given, as the value over those axes that equals it everywhere (`joint_axes`).
    check_broadcast: Callable[[OpContext, FeatureType, tuple[str, ...], int], None] = _no_check
    #: Raises unless the results of a call (``types`` in, ``results`` out) are values the
    #: domain carries (after the typing rule: a periodic cell has no global points).
    check_result: Callable[[OpContext, Sequence[FeatureType], Sequence[FeatureType]], None] = (
        _no_check
    )
    #: The input whose points build the edges, checked (None: the domain needs none).
    positions: Callable[[Domain, dict[str, Port], Span | None], str | None] = _no_check
    #: The problems of the whole typed graph that no single call shows (a causal sequence:
    #: a value that reads a later token), after every call is typed.
    check_graph: Callable[[Graph], list[Diagnostic]] = _no_problems


KINDS: dict[DomainKind, DomainRules] = {}


def register(rules: DomainRules) -> DomainRules:
    KINDS[rules.kind] = rules
    return rules


def check_channels(
    ctx: OpContext,
    ftype: FeatureType,
    allowed: set[AtomKind],
    code: str,
    where: str,
    help: str,
    arg: int | None,
) -> None:
    """``code`` unless every channel of ``ftype`` is of an ``allowed`` kind (or transforms as
    one, such as ``0e``); ``where`` says what the value is, e.g. "a field over `torus`"."""
    from geoc.types import NAMED_ATOMS, Atom

    named = [Atom(kind) for kind in allowed if kind in NAMED_ATOMS.values()]
    bad = [
        a
        for a in ftype.atoms
        if a.kind not in allowed and not any(ctx.group.same_atom(a, n) for n in named)
    ]
    if bad:
        raise ctx.error(
            code,
            f"{where} carries scalar channels, not `{bad[0]}`",
            arg=arg,
            label=str(ftype),
            help=help,
        )


def axis_rules(
    kind: DomainKind, more_axes: tuple[str, ...] = (), edges: EdgeRule | None = None
) -> DomainRules:
    """The rules of a domain written ``kind(axis)``: one index axis (and ``more_axes``), no
    other argument."""

    def parse(expr: ast.Call, env: Env) -> Domain:
        axis = axis_argument(expr)
        no_kwargs(expr, set())
        return Domain(kind, axis, edges=edges)

    return DomainRules(
        kind,
        describe=lambda d: f"{kind.value}({d.axis})",
        axes=lambda d: (d.axis, *more_axes),
        parse=parse,
    )


# ---------------------------------------------------------------------------------------------
# Reading the arguments of `kind(...)`


def axis_argument(expr: ast.Call) -> str:
    """The index axis a domain such as ``graph(nodes)`` names first."""
    if len(expr.args) != 1 or not isinstance(expr.args[0], ast.Name):
        raise GeoError(bad(expr, f"`{expr.func.id}` takes the name of its index axis first"))
    from geoc.domains.grid import is_field_axis

    if is_field_axis(expr.args[0].id):  # `torus_over2`: the axis of a restricted grid field
        raise GeoError(bad(expr.args[0], f"`{expr.args[0].id}` names the axis of grid fields"))
    return expr.args[0].id


def constant(expr: ast.Expr | None, env: Env, default: object) -> object:
    """The compile-time value of an argument (``default`` when it is not given)."""
    return default if expr is None else evaluate(expr, env)


def grid_size(expr: ast.Expr, env: Env, least: int) -> int:
    value = constant(expr, env, None)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 65536:
        raise GeoError(bad(expr, f"a grid size is an integer between {least} and 65536"))
    return value


def no_kwargs(expr: ast.Call, allowed: set[str]) -> None:
    for kw in expr.kwargs:
        if kw.name.id not in allowed:
            raise GeoError(bad(kw, f"`{expr.func.id}` has no argument `{kw.name.id}`"))


def bad(node: ast.Node, message: str) -> Diagnostic:
    return Diagnostic(
        "GEO204",
        message,
        node.span,
        label="domain",
        help="domains: `set(axis)`, `graph(nodes)`, "
        "`pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k, tol=1e-4) | ball(r, k), "
        "cell=false)`, "
        "`torus(n1, n2, ...)`, `grid(n1, n2, ..., boundary=zero | reflect)`, "
        "`sphere(nlat, nlon, grid=equiangular | legendre_gauss)`, "
        "`weightspace(mlp=[d0, d1, ..., dL])`, "
        "`weightspace(cnn=[c0, ..., cL], kernel=k, head=[n])`, `sequence(tokens, causal=false)`; "
        "between two axes: "
        "`edges(near, src=points, dst=centres, rule=full | radius(r) | knn(k) | ball(r, k))`; "
        "a sampled axis: `sample(centres, from=points, rule=fps(m))`",
    )
