"""Neural sheaf diffusion on a graph (Bodnar, Di Giovanni, Chamberlain, Liò, Bronstein,
"Neural Sheaf Diffusion", NeurIPS 2022, arXiv:2202.04579).

A node's value is its stalk: ``d`` stalk coordinates of ``f`` channels each, laid out stalk
coordinate first (``d*f x scalar``, channel ``i*f + c``). Every edge ``e = (src -> dst)`` is a
sheaf edge between its two ends, with the restriction maps ``F_{dst◁e} = Φ(x_dst ‖ x_src)``
and ``F_{src◁e} = Φ(x_src ‖ x_dst)`` (one learned ``Φ``, both orders), held as one edge value
of ``2k`` scalars, ``k = d`` (diagonal maps) or ``d*d`` (orthogonal, row-major). The sheaf
Laplacian is ``L = Σ_e δ_eᵀ δ_e`` with ``δ_e x = F_{dst◁e} x_dst - F_{src◁e} x_src``: blocks
``L_vv = Σ_{e∋v} F_{v◁e}ᵀ F_{v◁e}`` and ``L_vu = -F_{v◁e}ᵀ F_{u◁e}``. On an undirected graph
given in both directions every edge is counted twice with the same maps, which doubles ``L``
and ``D`` alike, so the normalised ``Δ = D^{-1/2} L D^{-1/2}`` is the paper's.

Why it is equivariant under ``S(nodes)``: the maps are functions of each edge's own invariant
values, so a relabelling of the nodes relabels the edges' ends and carries the maps along;
``Δ`` is built from sums over each node's incident edges, which do not depend on the labels;
and the stalk coordinates and channels are mixed by the same learned matrices at every node.
The group never acts on stalk coordinates: channels that transform are refused (``GEO433``).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, not_invariant
from geoc.types import FeatureType, scalars

#: How the maps are parametrised: diagonal (tanh of Φ), orthogonal (Cayley transform of a
#: skew-symmetric matrix from Φ), general (not built: GEO435).
MAP_KINDS = ("diag", "orthogonal", "general")
#: The stalk dimension and the maps' kind: both sheaf operators take them, and must agree.
SHEAF_ATTRS = (
    attr("d", AttrKind.INT),
    attr("kind", AttrKind.SYMBOL, "orthogonal", choices=MAP_KINDS),
)
KIND_HELP = "`kind=diag` (d entries per map) or `kind=orthogonal` (the Cayley transform)"

RESTRICTION_MAPS = define(
    "restriction_maps",
    "sheaf",
    (tensor("a"), tensor("b"), *SHEAF_ATTRS),
    preset(PLAIN, "learned", commutes_gather=False),
    "the two restriction maps of every edge of a sheaf with `d`-dimensional stalks, "
    "`Φ(a ‖ b)` for the `dst` end and `Φ(b ‖ a)` for the `src` end (write `h[dst], h[src]`), "
    "`Φ` one learned linear map of the concatenated invariant edge values (`GEO432`, "
    "`GEO433`): `kind=diag` tanh of it, `d` entries per map; `kind=orthogonal` the Cayley "
    "transform `(I - S)⁻¹(I + S)` of a skew-symmetric `S` from it, `d x d` row-major per map "
    "(rotations, `d ≥ 2`: `GEO434`); `kind=general`: `GEO435`. The result: `2k x scalar` over "
    "the edges, the `dst` map first (`k = d` or `d*d`)",
)


@typing_rule(RESTRICTION_MAPS)
def _infer_restriction_maps(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Both maps of an edge are one learned function of that edge's own invariant values
    (the contract refuses others): relabelling the nodes permutes the edges' values and so
    their maps alike, and the scalars the maps are stored as are invariant."""
    a, b = types
    edges = _edge_axis(ctx, a, 0)
    if b.axes != a.axes:
        raise ctx.error(
            "GEO432",
            f"`restriction_maps` reads two values over one edge set `{edges}`; the second "
            f"is over {axes_text(b.axes)}",
            arg=1,
            label=str(b),
            help=f"gather both ends of `{edges}`: `restriction_maps(h[dst], h[src], d=2)`",
        )
    d, kind = attrs["d"], attrs["kind"]
    _check_kind(ctx, d, kind)
    return (scalars(2 * map_width(d, kind), a.axes),)


def _edge_axis(ctx: OpContext, x: FeatureType, arg: int) -> str:
    """The edge set ``x`` is over (``GEO432`` when it is not over one)."""
    if len(x.axes) == 1 and ctx.edge_ends(x.axes[0]) is not None:
        return x.axes[0]
    raise ctx.error(
        "GEO432",
        f"`{ctx.op}` reads values over an edge set, but this one is over {axes_text(x.axes)}",
        arg=arg,
        label=str(x),
        help="gather node values onto the edges: `restriction_maps(h[dst], h[src], d=2)`",
    )


def _check_kind(ctx: OpContext, d: int, kind: str) -> None:
    if kind == "general":
        raise ctx.error(
            "GEO435",
            "general (unconstrained) restriction maps are not built: their normalisation "
            "needs the inverse square root of every node's d x d block, whose derivatives "
            "are not finite where its eigenvalues meet",
            attr="kind",
            label="kind=general",
            help=KIND_HELP,
        )
    least = 2 if kind == "orthogonal" else 1
    if d < least:
        why = "orthogonal maps need `d >= 2` (a line has no rotation but 1)" if least == 2 else ""
        raise ctx.error(
            "GEO434",
            f"stalks of dimension {d} with `kind={kind}`: "
            + (why or "a stalk has dimension `d >= 1`"),
            attr="d",
            label=f"d={d}",
            help="take `d=2` or more, or `kind=diag` for one-dimensional stalks"
            if least == 2
            else "take `d=1` or more",
        )


def map_width(d: int, kind: str) -> int:
    """The entries of one restriction map: ``d`` (diagonal) or ``d*d`` (a full matrix)."""
    return d if kind == "diag" else d * d


SHEAF_DIFFUSION = define(
    "sheaf_diffusion",
    "sheaf",
    (tensor("x"), tensor("maps"), *SHEAF_ATTRS),
    preset(PLAIN, "learned", commutes_gather=False),
    "`Δ_F (I ⊗ W1) X W2` (Bodnar et al. 2022): the node stalks `x` (`d*f x scalar`, stalk "
    "coordinate first; `GEO437`) mixed by learned `W1` (`d x d`, on the stalk coordinates) "
    "and `W2` (`f x f`, on the channels), then the normalised sheaf Laplacian "
    "`D^{-1/2} L D^{-1/2}` of the edge maps `maps` (from `restriction_maps` of the same `d` "
    "and `kind`, `GEO438`) over an edge set between `x`'s nodes (`GEO436`); a node without "
    "edges gets 0. Write the paper's step as `h - act(sheaf_diffusion(h, F, d=2), elu)`",
)


@typing_rule(SHEAF_DIFFUSION)
def _infer_sheaf_diffusion(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """``Δ`` sums over each node's incident edges with the edges' own maps, and ``W1``, ``W2``
    are the same at every node, so relabelling the nodes permutes the result's rows as it
    permutes ``x``'s; its channels are ``x``'s invariant scalars."""
    x, maps = types
    edges = _edge_axis(ctx, maps, 1)
    ends = ctx.edge_ends(edges)
    if x.axes != (ends[0],) or ends[0] != ends[1]:
        raise ctx.error(
            "GEO436",
            f"`sheaf_diffusion` diffuses over the edges `{edges}` from `{ends[0]}` to "
            f"`{ends[1]}`, but the stalks are over {axes_text(x.axes)}",
            arg=0,
            label=str(x),
            help="give stalks over the nodes both ends of the edges are on",
        )
    d, kind = attrs["d"], attrs["kind"]
    _check_kind(ctx, d, kind)
    width = ctx.group.type_dim(x)
    if width % d:
        raise ctx.error(
            "GEO437",
            f"stalks of dimension {d} hold `d*f` channels, but `x` has {width}",
            arg=0,
            label=str(x),
            help=f"give `x` a multiple of {d} channels: `linear(x, {d}*f x scalar)`",
        )
    expected = 2 * map_width(d, kind)
    if ctx.group.type_dim(maps) != expected:
        raise ctx.error(
            "GEO438",
            f"`kind={kind}` maps of `d={d}` stalks are {expected} numbers per edge (two "
            f"maps), but `maps` has {ctx.group.type_dim(maps)}",
            arg=1,
            label=str(maps),
            help=f"pass `restriction_maps(h[dst], h[src], d={d}, kind={kind})`",
        )
    return (x,)


@contract(RESTRICTION_MAPS, SHEAF_DIFFUSION)
def _sheaf_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    """Stalk coordinates, channels and map entries are mixed by learned matrices and multiplied
    together: equivariant only where the group leaves them all unchanged."""
    for i, x in enumerate(types):
        moving = not_invariant(ctx, x)
        if moving:
            return [
                ctx.diagnostic(
                    "GEO433",
                    f"`{ctx.op}` of `{moving[0]}` is not equivariant under {ctx.group}: "
                    "stalks and restriction maps are invariant scalars, which it mixes and "
                    "multiplies",
                    arg=i,
                    label=str(x),
                    help="map to invariant channels first, e.g. `norm(v)` of vectors"
                    + ctx.breaks_help(),
                )
            ]
    return []
