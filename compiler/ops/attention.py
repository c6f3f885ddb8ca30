"""Normalisation over sets of messages: ``softmax(s, over=E, into=B)`` and ``softmax(s,
over=AXIS)`` (docs/language.md, "Softmax and attention").

``w_e = exp(s_e / T) / Σ_{e' in seg(e)} exp(s_e' / T)``, channel by channel (each channel a
head), where ``seg(e)`` is the set of edges of ``E`` that share ``e``'s destination
(``into=``), or the elements of ``AXIS`` in ``e``'s graph (no ``into``). The scores must be
invariant: the weights then are invariant too, and multiply values of any type through the
ordinary typing of ``*`` and ``sum``. The lowering subtracts each segment's max before ``exp``;
an empty segment produces no entry, so nothing is NaN (backends/torch_fx/attention/kernels.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.attention_window import window_checks
from geoc.ops.core import axes_text, not_invariant
from geoc.ops.euclidean import REDUCE
from geoc.ops.graph import reduced_axes
from geoc.types import FeatureType, simplify

SOFTMAX = define(
    "softmax",
    "attention",
    (
        tensor("s"),
        attr("over", AttrKind.SYMBOL),
        attr("into", AttrKind.SYMBOL, None),
        attr("temperature", AttrKind.FLOAT, 1.0, written_only=True),
    ),
    preset(PLAIN, commutes_gather=False),
    "`exp(s / temperature)` normalised to sum 1, channel by channel: over the edges of `over` "
    "that share a destination (`into=` the edge set's `dst` axis; a node without incoming "
    "edges gets no weight), or over the axis `over` in each graph; the result over `s`'s "
    "axis; `s` invariant (`GEO486`), `temperature > 0` (`GEO378`)",
)


@typing_rule(SOFTMAX)
def _infer_softmax(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Invariant scores give invariant weights: each weight is a function of the scores of its
    own segment, and a permutation of an axis moves every segment's elements together (an
    edge moves with its ends, a node's incoming edges stay its incoming edges), so the
    weights are permuted exactly as the scores; the type, and the axis, are the scores'."""
    (s,) = types
    over, into = attrs["over"], attrs["into"]
    reduced_axes(ctx, s, over, into, "normalises")  # GEO203: wrong axis or `into`
    if s.axes != (over,):
        raise ctx.error(
            "GEO305",
            f"`softmax(..., over={over})` normalises values over `{over}`, but this one is "
            f"over {axes_text(s.axes)}",
            arg=0,
            label=str(s),
            help=f"take scores declared `over {over}`",
        )
    if attrs.get("temperature", 1.0) <= 0:
        raise ctx.error(
            "GEO378",
            f"`softmax(..., temperature={attrs['temperature']})`: the temperature must be > 0",
            label="temperature <= 0",
            help="write a positive temperature (1.0 is the plain softmax)",
        )
    return (s,)


@contract(SOFTMAX)
def _softmax_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """``exp`` of a transforming channel is not equivariant: the scores must be invariant."""
    (s,) = types
    moving = not_invariant(ctx, s)
    if not moving:
        return []
    return [
        ctx.diagnostic(
            "GEO486",
            f"`softmax` of `{moving[0]}` is not equivariant under {ctx.group}: the scores "
            "must be invariant",
            arg=0,
            label=str(s),
            help="take an invariant: `dot`, `sqnorm`, `norm`, or a `linear` to scalars"
            + ctx.breaks_help(),
        )
    ]


ATTENTION = define(
    "attention",
    "attention",
    (
        tensor("q"),
        tensor("k"),
        tensor("v"),
        attr("over", AttrKind.SYMBOL),
        attr("heads", AttrKind.INT, 1),
        attr("window", AttrKind.FLOAT, 0.0, written_only=True),
    ),
    preset(PLAIN, "ambient", "causal", euclidean=REDUCE, linear_in=("v",), commutes_gather=False),
    "multi-head scaled dot-product attention, all to all within each graph along the axis "
    "`over` (in a `causal=true` sequence each token attends to those at or before it), or "
    "across an edge set `over=E` (cross-attention: `q` over `E`'s `dst` axis, `k`, `v` "
    "over its `src` axis, any of them over `E` itself; the result over `dst`, a `dst` element "
    "without edges gets 0; wrong axes `GEO390`): the channels of `q`, `k`, `v` split into `heads` "
    "equal parts (`GEO379`), `softmax(q_h k_hᵀ / √d) v_h` per head, heads concatenated; the "
    "result typed as `v`; `q`, `k` invariant (`GEO487`); `v` of any type whose copies the heads "
    "split whole (one atom type, copies divisible by `heads`, or `heads=1`; else `GEO519`), "
    "not points over an edge set (`GEO404`); `window=σ` adds `-|p_dst - p_src|² / σ²` to every "
    "score (a Gaussian window; an edge set between point clouds, `GEO393`; `σ > 0`, `GEO392`)",
)


def value_width(ctx: OpContext, v: FeatureType) -> int:
    """The width of invariant values; 0 for values that transform, whose split into heads
    the contract checks copy by copy (GEO519)."""
    return 0 if not_invariant(ctx, v) else ctx.group.type_dim(v)


@typing_rule(ATTENTION)
def _infer_attention(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Each output row is, per head, a combination of its graph's value rows with invariant
    weights (functions of invariant scores) summing to 1 (the row's graph holds the row):
    the heads take whole copies of ``v`` (contract), which the group moves copy by copy, so
    the combination moves as ``v`` (points: an affine combination is a point); a permutation
    of the axis permutes queries, keys and values alike, and the output rows with them."""
    q, k, v = types
    over, heads = attrs["over"], attrs.get("heads", 1)
    ends = ctx.edge_ends(over)
    window_checks(ctx, over, ends, attrs.get("window", 0.0))
    if ends is not None:
        return _infer_cross_attention(ctx, types, over, ends, heads)
    for i, x in enumerate(types):
        if x.axes != (over,):
            raise ctx.error(
                "GEO203",
                f"`attention(..., over={over})` reads values over `{over}`, but this one is "
                f"over {axes_text(x.axes)}",
                arg=i,
                label=str(x),
                help=f"take queries, keys and values declared `over {over}`",
            )
    if not not_invariant(ctx, q) and not not_invariant(ctx, k):  # else the contract refuses
        check_heads(ctx, heads, ctx.group.type_dim(q), ctx.group.type_dim(k), value_width(ctx, v))
    return (v,)


def _infer_cross_attention(
    ctx: OpContext,
    types: Sequence[FeatureType],
    over: str,
    ends: tuple[str, str],
    heads: int,
) -> tuple[FeatureType, ...]:
    """Over an edge set ``A -> B``, each ``B`` element's output is, per head, a combination of
    the values of its incoming edges with invariant weights (invariant scores of its own
    edges, summing to 1 or, without edges, 0): an edge moves with its ends under the
    permutations of ``A`` and ``B``, so the weights are permuted edge scalars and the sum into
    ``B`` moves as ``v`` does copy by copy (whole copies per head: contract; not points, a
    ``B`` element without edges gets 0: contract)."""
    src, dst = ends
    q, k, v = types
    allowed = ((dst, over), (src, over), (src, over))
    for i, (x, axes) in enumerate(zip(types, allowed, strict=True)):
        if x.axes not in ((axes[0],), (axes[1],)):
            role = ("queries", "keys", "values")[i]
            raise ctx.error(
                "GEO390",
                f"`attention(..., over={over})` attends from `{dst}` to `{src}`: its {role} are "
                f"over `{axes[0]}` or `{over}`, but this one is over {axes_text(x.axes)}",
                arg=i,
                label=str(x),
                help=f"queries over `{dst}` (the edges' `dst`), keys and values over `{src}` "
                f"(their `src`), or any of them over `{over}` itself",
            )
    if not not_invariant(ctx, q) and not not_invariant(ctx, k):  # else the contract refuses
        check_heads(ctx, heads, ctx.group.type_dim(q), ctx.group.type_dim(k), value_width(ctx, v))
    return (v.with_axes((dst,)),)


def check_heads(ctx: OpContext, heads: int, nq: int, nk: int, nv: int) -> None:
    """GEO379: queries and keys of one width, every width a multiple of ``heads``."""
    problem = ""
    if heads < 1:
        problem = f"`heads={heads}`: at least one head"
    elif nq != nk:
        problem = f"queries have {nq} channels and keys {nk}: they must be equal"
    elif nq % heads or nv % heads:
        problem = f"{nq} query and {nv} value channels do not split into {heads} heads"
    if problem:
        raise ctx.error(
            "GEO379",
            f"`{ctx.op}`: {problem}",
            label=f"heads={heads}",
            help="project with `linear(x, n x scalar)` to widths divisible by `heads`",
        )


@contract(ATTENTION)
def _attention_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """Scores from transforming channels are not invariant; values that transform need whole
    copies per head; over an edge set, a destination without edges gets 0: no points."""
    if ctx.edge_ends(attrs["over"]) is not None:
        points = _no_points(ctx, types[-1], 2, "a destination without edges")
        if points:
            return points
    return _invariant_inputs(ctx, types, scores=2, heads=attrs.get("heads", 1))


def _no_points(ctx: OpContext, v: FeatureType, arg: int, empty: str) -> list[Diagnostic]:
    """GEO404: a pool that gives 0 where it has nothing to pool is no point."""
    if not (v.has_points and ctx.group.translations):
        return []
    return [
        ctx.diagnostic(
            "GEO404",
            f"`{ctx.op}` of points: {empty} would get 0, not a point",
            arg=arg,
            label=str(v),
            help="attend to displacements from a point every element has, e.g. "
            "`x[src(E)] - c[dst(E)]`, or pool `x - mean(x, over=...)`",
        )
    ]


def _invariant_inputs(
    ctx: OpContext, types: Sequence[FeatureType], scores: int, heads: int
) -> list[Diagnostic]:
    """GEO487 for the first ``scores`` inputs (queries, keys); the values (last) may transform
    when the heads split them into whole copies (GEO519 otherwise)."""
    for i, x in enumerate(types[:scores]):
        moving = not_invariant(ctx, x)
        if moving:
            return [
                ctx.diagnostic(
                    "GEO487",
                    f"`{ctx.op}` scores from `{moving[0]}` are not invariant under {ctx.group}",
                    arg=i,
                    label=str(x),
                    help="take an invariant: `dot`, `sqnorm`, `norm`, or a `linear` to scalars"
                    + ctx.breaks_help(),
                )
            ]
    v = types[-1]
    moving = not_invariant(ctx, v)
    whole = heads == 1 or (heads > 1 and len(v.terms) == 1 and v.terms[0].mul % heads == 0)
    if not moving or whole:
        return []
    return [
        ctx.diagnostic(
            "GEO519",
            f"`{ctx.op}` with {heads} heads would split the values `{v.with_axes(())}` inside "
            "a copy: not built",
            arg=len(types) - 1,
            label=str(v),
            help=f"give transforming values one atom type with copies divisible by {heads} "
            "(`4 x vector` for 2 heads), or use `heads=1`",
        )
    ]


ATTENTION_POOL = define(
    "attention_pool",
    "attention",
    (
        tensor("k"),
        tensor("v"),
        attr("over", AttrKind.SYMBOL),
        attr("heads", AttrKind.INT, 1),
        attr("seeds", AttrKind.INT, 1, written_only=True),
    ),
    preset(PLAIN, "learned", "ambient", euclidean=REDUCE, linear_in=("v",), commutes_gather=False),
    "attention pooling with `seeds` learned queries `s_1..s_k` (the Set Transformer's PMA_k): "
    "per graph, seed and head `Σ_j softmax_j(s_ih · k_jh / √d) v_jh` over the axis `over`, "
    "heads concatenated, then the seeds; a global value typed as `seeds` copies of `v` (a graph "
    "without elements gets 0; of points: `GEO404`); `k` invariant (`GEO487`), `v` as in "
    "`attention` (`GEO519`), widths divisible by `heads` (`GEO379`), `seeds >= 1` (`GEO391`)",
)


@typing_rule(ATTENTION_POOL)
def _infer_attention_pool(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Each learned query, which no group element moves, scores invariant keys: the weights
    are invariant and range over a whole graph's elements, which a permutation only reorders;
    per head they multiply whole copies of ``v`` (contract), so each seed's pool moves as
    ``v``, and the seeds' pools, side by side in a fixed order, as that many copies of ``v``."""
    k, v = types
    over, heads, seeds = attrs["over"], attrs.get("heads", 1), attrs.get("seeds", 1)
    if seeds < 1:
        raise ctx.error(
            "GEO391",
            f"`attention_pool(..., seeds={seeds})`: at least one seed",
            attr="seeds",
            label=f"seeds={seeds}",
            help="`seeds=1` is the Set Transformer's PMA_1; `seeds=k` gives k pooled values",
        )
    for i, x in enumerate(types):
        if x.axes != (over,) or ctx.edge_ends(over) is not None:
            raise ctx.error(
                "GEO203",
                f"`attention_pool(..., over={over})` pools values over an axis that is no "
                f"edge set, `{over}`; this one is over {axes_text(x.axes)}",
                arg=i,
                label=str(x),
                help=f"take keys and values declared `over {over}` of a point cloud or set",
            )
    if not not_invariant(ctx, k):  # else the contract refuses it
        check_heads(ctx, heads, ctx.group.type_dim(k), ctx.group.type_dim(k), value_width(ctx, v))
    return (FeatureType(simplify(v.terms * seeds), ()),)


@contract(ATTENTION_POOL)
def _attention_pool_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    """As :func:`_attention_contract`, the learned query invariant by construction; points
    are refused, since a graph without elements gets 0, which is not a point."""
    points = _no_points(ctx, types[-1], 1, "a graph without elements")
    if points:
        return points
    return _invariant_inputs(ctx, types, scores=1, heads=attrs.get("heads", 1))
