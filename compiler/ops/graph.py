"""Graph operators: gather onto edges, scatter onto nodes, pooling over an axis.

Edges always stay inside one graph of a batch; an edge runs ``src -> dst`` and ``into=nodes``
reduces onto ``dst``. A node with no incoming edge receives 0 (the PyTorch Geometric rule).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.domains import EDGE_AXIS
from geoc.domains.axes import sampled, samples
from geoc.domains.grid import axis_scale, is_canonical_axis, is_grid_axis
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, not_invariant
from geoc.ops.euclidean import REDUCE
from geoc.types import FeatureType

EDGE_ENDS = ("src", "dst")
#: ``x[from(centres)]``: a value over a sampled axis's parent taken to the sampled axis.
SAMPLE_END = "from"

GATHER = define(
    "gather",
    "graph",
    (
        tensor("x"),
        attr("end", AttrKind.SYMBOL, choices=(*EDGE_ENDS, SAMPLE_END)),
        attr("edges", AttrKind.SYMBOL, EDGE_AXIS),
    ),
    preset(PLAIN, "keeps_manifold", linear_in=("x",), commutes_gather=False),
    "`x` over an edge set: node values at each edge's `src` or `dst` (`x[src]`: the domain's "
    "`edges`, `GEO203` without; `x[src(near)]`: the edge set `near`); `x` over that end's "
    "axis, `GEO305`; `x[from(centres)]`: the values at the points the sampled axis `centres` "
    "chose (`GEO215` where `centres` is not a sampled axis)",
    syntax="[]",
)


@typing_rule(GATHER)
def _infer_gather(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Node values copied onto edges, channels untouched: commutes with every group element
    (under a periodic cell a point at ``src`` is its image seen from ``dst``, ``x[src] - shift
    @ cell``: the cell's rows turn with the positions, so it moves as ``x`` does). Permuting
    either end's axis relabels the edge set's ends, so the edges are permuted with it."""
    (x,) = types
    end, name = attrs["end"], attrs.get("edges", EDGE_AXIS)
    if end == SAMPLE_END:
        return (_infer_take(ctx, x, name),)
    ends = ctx.edge_ends(name)
    written = f"[{end}]" if name == EDGE_AXIS else f"[{end}({name})]"
    if ends is None:
        raise _no_edge_set(ctx, name, written)
    node_axis = ends[EDGE_ENDS.index(end)]
    if x.axes != (node_axis,):
        where = axes_text(x.axes)
        raise ctx.error(
            "GEO305",
            f"`{written}` gathers values over `{node_axis}`, but this one is over {where}",
            arg=0,
            label=str(x),
            help=f"gather a value declared `over {node_axis}`",
        )
    return (x.with_axes((name,)),)


def _infer_take(ctx: OpContext, x: FeatureType, name: str) -> FeatureType:
    """``x[from(centres)]``: the rows of ``x`` at the points farthest-point sampling chose.
    The choice and its order are functions of the positions alone, invariant under
    permutations of the parent and under isometries (the domain refuses other groups:
    GEO481): permuting the parent permutes ``x`` and the chosen indices alike, so the rows
    taken are the same, and channels are untouched, so they transform as ``x`` does."""
    domain = sampled(ctx.domains, name)
    if domain is None and name == EDGE_AXIS:  # `x[from]`: no axis named
        raise ctx.error(
            "GEO215",
            "`x[from]` names the sampled axis it takes values to: `x[from(centres)]`",
            label="no sampled axis",
            help=SAMPLE_HELP,
        )
    if domain is None:
        names = [d.axis for d in samples(ctx.domains)]
        return_help = f"the sampled axes: {', '.join(names)}" if names else SAMPLE_HELP
        raise ctx.error(
            "GEO215",
            f"`x[from({name})]`: `{name}` is not a sampled axis",
            label="not a sampled axis",
            help=return_help,
        )
    parent = domain.ends[0]
    if x.axes != (parent,):
        raise ctx.error(
            "GEO305",
            f"`[from({name})]` takes values over `{parent}`, but this one is over "
            f"{axes_text(x.axes)}",
            arg=0,
            label=str(x),
            help=f"take a value declared `over {parent}`",
        )
    return x.with_axes((name,))


SAMPLE_HELP = "declare `domain sample(centres, from=points, rule=fps(m))`"


def _no_edge_set(ctx: OpContext, name: str, written: str) -> Exception:
    if name == EDGE_AXIS:
        return ctx.error(
            "GEO203",
            f"`x{written}` needs edges, but the domain `{ctx.domain}` has none",
            label="no edges here",
            help="declare `domain graph(nodes)` or `domain pointcloud(nodes, edges=...)`",
        )
    declared = [d.axis for d in ctx.domains if d.ends]
    return ctx.error(
        "GEO203",
        f"`x{written}`: no edge set is called `{name}`",
        label="unknown edge set",
        help=f"the edge sets: {', '.join(declared)}"
        if declared
        else f"declare `domain edges({name}, src=points, dst=centres, rule=knn(8))`",
    )


#: Reductions: sum and mean are linear; pooling a torus field is allowed.
_REDUCTION = preset(
    PLAIN, "fields", "ambient", euclidean=REDUCE, linear_in=("x",), commutes_gather=False
)
_REDUCE_PARAMS = (tensor("x"), attr("over", AttrKind.SYMBOL), attr("into", AttrKind.SYMBOL, None))
_REDUCE_DOC = (
    "{} over an axis (the axis removed; of points: {}), or over `edges` into `nodes` (a node "
    "without incoming edges gets 0; of points: `GEO404`){}"
)
SUM = define("sum", "graph", _REDUCE_PARAMS, _REDUCTION, _REDUCE_DOC.format("sum", "`GEO404`", ""))
MEAN = define(
    "mean", "graph", _REDUCE_PARAMS, _REDUCTION, _REDUCE_DOC.format("mean", "a point", "")
)
MAX = define(
    "max",
    "graph",
    _REDUCE_PARAMS,
    preset(_REDUCTION, linear_in=()),
    _REDUCE_DOC.format("componentwise max", "`GEO404`", "; of transforming channels: `GEO405`"),
)


@typing_rule(SUM, MEAN, MAX)
def _infer_reduce(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (x,) = types
    over, into = attrs["over"], attrs["into"]
    if is_grid_axis(over) and over in x.axes:  # fields pool over their whole grid
        _check_grid_pool(ctx, x, over, into)
    return (x.with_axes(reduced_axes(ctx, x, over, into)),)


def reduced_axes(
    ctx: OpContext, x: FeatureType, over: str, into: str | None, scatter: str = "scatters"
) -> tuple[str, ...]:
    """The axes of ``x`` after reducing ``over`` (pooling), or edges scattered ``into`` nodes."""
    if over not in x.axes:
        raise ctx.error(
            "GEO203",
            f"`{ctx.op}(..., over={over})`: the value is over {axes_text(x.axes)}",
            arg=0,
            label=str(x),
            help=f"reduce over one of the value's axes ({', '.join(x.axes) or 'none'})",
        )
    if into is None:
        return tuple(a for a in x.axes if a != over)
    ends = ctx.edge_ends(over)
    if ends is not None and into == ends[1]:
        return (into,)
    if ends is not None and over != EDGE_AXIS:
        raise ctx.error(
            "GEO203",
            f"`into=` {scatter} the values of `{over}` onto its `dst` axis `{ends[1]}`, "
            f"not `{into}`",
            label=f"over={over}, into={into}",
            help=f"write `{ctx.op}(m, over={over}, into={ends[1]})`, or drop `into` to pool",
        )
    raise ctx.error(
        "GEO203",
        f"`into=` {scatter} edge values onto nodes: `over=edges, into={ctx.domain.axis}`",
        label=f"over={over}, into={into}",
        help=f"write `{ctx.op}(m, over=edges, into={ctx.domain.axis})`, or drop `into` to pool",
    )


def _check_grid_pool(ctx: OpContext, x: FeatureType, over: str, into: str | None) -> None:
    """Pooling a field over its whole grid: a flat one only, a torus or grid of any resolution
    (every point weighs the same, so the result is invariant under the grid's shifts and
    rotations, which permute its points) or a canonical torus (whose points the group does not
    move: pooling commutes with its action on channels); no scatter."""
    if (axis_scale(over) is not None or is_canonical_axis(over)) and into is None:
        return
    raise ctx.error(
        "GEO311",
        f"`{ctx.op}(..., over={over})`"
        + (" cannot scatter a field" if into else ": pooling over a sphere grid is not defined"),
        arg=0,
        label=str(x),
        help="pool a torus field with `sum` / `mean` / `max(z, over=torus)`; on a sphere the "
        "points have quadrature weights: take the degree-0 coefficient of `sht(z)`",
    )


@contract(SUM, MEAN, MAX)
def _reduce_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (x,) = types
    if ctx.op == "max":
        # The componentwise max commutes with permutations of the components (and of the
        # reduced axis), not with other matrices: the group may only permute the channels.
        moving = [a for a in not_invariant(ctx, x) if not ctx.group.permutes(a)]
        if moving:
            return [
                ctx.diagnostic(
                    "GEO405",
                    f"componentwise `max` of `{moving[0]}` is not equivariant under {ctx.group}",
                    arg=0,
                    label=str(x),
                    help="reduce with `sum` or `mean`, or take `max` of invariants (`norm(v)`)",
                )
            ]
    if not (x.has_points and ctx.group.translations):
        return []
    maybe_empty = attrs["over"] in further_axes(ctx)
    if ctx.op == "mean" and attrs["into"] is None and not maybe_empty:
        return []  # the mean of a non-empty set of points is a point
    reason = {
        "sum": "the sum of points is not a point (translations add up)",
        "mean": f"a graph may have no element of `{attrs['over']}`: it would get 0, not a point"
        if maybe_empty
        else "a node without incoming edges would receive 0, which is not a point",
        "max": "the componentwise max of points is not a point",
    }[ctx.op]
    return [
        ctx.diagnostic(
            "GEO404",
            f"`{ctx.op}` of points over {attrs['over']}: {reason}",
            arg=0,
            label=str(x),
            help=_points_fix(attrs["over"], attrs["into"], maybe_empty),
        )
    ]


def further_axes(ctx: OpContext) -> tuple[str, ...]:
    """The axes of a model's further domains and edge sets between axes: a graph of a batch may
    have no element of them."""
    return tuple(a for d in ctx.domains[1:] for a in d.axes)


def _points_fix(over: str, into: str | None, maybe_empty: bool = False) -> str:
    """The equivariant way to reduce points: a pooled mean, or displacements for a scatter."""
    if into is None and maybe_empty:
        return f"pool vectors, e.g. `mean(c - p, over={over})` from a point `p` of every graph"
    if into is None:
        return f"pool with `mean(x, over={over})`, which is a point"
    return "reduce differences `x[src] - x[dst]` (vectors) and add the result to `x`"
