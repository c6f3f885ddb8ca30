"""Models over several axes, backend side (docs/language.md, "Several axes").

The primary domain's rules (``points.py``) do everything they do alone; :func:`several` wraps
them with the further axes: a ``batch_<axis>`` input per further node axis (the graph of each
element; ``num_graphs`` is shared), the axis's length, and each declared edge set built once
from its two axes (``common/axes_kernels.py``). For ``geoc check``: each further axis gets its
own sizes per graph (in the degenerate trial a graph without any element of it; in the ties
trial point-cloud positions copied from the primary's points, so knn sees equal distances),
its inputs and ``batch_<axis>`` move with its own permutation, drawn independently for each
``S(axis)`` by the group.

A sampled axis (``sample(A, from=P, rule=fps(m))``, "Sampled axes") takes no input: its indices
into ``P`` come from ``common/sample_kernels.py``, and its positions, graph of each element and
length from them. The checker draws nothing for it and permutes it never; in the ties trial of
a model with one, the element moves no rotation (ties go by lexicographic order).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from geoc.backends.torch_fx.common import axes_kernels as rt_axes
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.common import sample_kernels as rt_sample
from geoc.backends.torch_fx.domains import DomainRules, Sample
from geoc.backends.torch_fx.domains.clouds import Layout, layout_of
from geoc.backends.torch_fx.domains.points import draw_input_value
from geoc.backends.torch_fx.validate import check, placeholder
from geoc.backends.torch_fx.verify.actions import axis_permutation
from geoc.domains import Domain, DomainKind, EdgeRule
from geoc.domains import sample as sample_rules
from geoc.domains.axes import cross_sets, further, samples
from geoc.groups import GroupElement
from geoc.ir import Graph

if TYPE_CHECKING:
    from torch import fx

    from geoc.backends.torch_fx.lower import LowerCtx


def several(primary: DomainRules) -> DomainRules:
    """The primary domain's rules, extended by the model's further axes and edge sets."""
    return dataclasses.replace(
        primary,
        lower_inputs=lambda ctx: _lower_inputs(primary, ctx),
        check_inputs=lambda ctx, like: _check_inputs(primary, ctx, like),
        draw_sample=lambda *args: _draw_sample(primary, *args),
        move_inputs=lambda ir, sample, element: _move_inputs(primary, ir, sample, element),
        exact_law=lambda ir: _exact_law(primary, ir),
        draw_element=lambda *args: _draw_element(primary, *args),
    )


def _exact_law(primary: DomainRules, ir: Graph) -> str:
    """The report's sentence: which axes were sized and permuted on their own, which sampled."""
    axes = ", ".join(f"`{d.axis}`" for d in given_axes(ir))
    own = (
        f"{axes} sized per graph on their own (a graph without any in the degenerate trial), "
        "each permuted independently where the group permutes it"
    )
    chosen = ", ".join(f"`{d.axis}`" for d in samples(ir.domains))
    sampled = (
        f"{chosen} chosen by farthest-point sampling and compared unpermuted (their order is the "
        "geometry's); the ties trial moves no rotation (ties are broken by lexicographic "
        "order, which rotations do not keep) and the degenerate one has no coincident points "
        "(between them the lower index is taken)"
    )
    parts = (primary.exact_law(ir), own if axes else "", sampled if chosen else "")
    return "; ".join(part for part in parts if part)


def _draw_element(
    primary: DomainRules,
    ir: Graph,
    rng: np.random.Generator,
    sizes: Mapping[str, int],
    trial: int,
) -> GroupElement:
    """The primary's element; in the ties trial of a model with a sampled axis without its
    rotation: farthest-point ties (the lattice's equal distances) are broken by lexicographic
    order, exact under permutations and translations only (docs/language.md)."""
    element = primary.draw_element(ir, rng, sizes, trial)
    if not samples(ir.domains) or layout_of(trial) is not Layout.TIES or element.rotation is None:
        return element
    label = ", ".join(p for p in element.label.split(", ") if "rotation" not in p) or "identity"
    return dataclasses.replace(element, rotation=None, label=label)


def batch_name(axis: str) -> str:
    return f"batch_{axis}"


# --- lowering ---------------------------------------------------------------------------------


def given_axes(ir: Graph) -> tuple[Domain, ...]:
    """The further axes whose elements the caller gives (every one but the sampled axes)."""
    return tuple(d for d in further(ir.domains) if d.kind is not DomainKind.SAMPLE)


def _lower_inputs(primary: DomainRules, ctx: LowerCtx) -> None:
    primary.lower_inputs(ctx)
    first = next(n for n in ctx.fx.nodes if n.op != "placeholder")
    for domain in given_axes(ctx.ir):
        axis = domain.axis or ""
        with ctx.fx.inserting_before(first):  # placeholders before any computation
            ctx.axis_batches[axis] = ctx.fx.placeholder(batch_name(axis), default_value=None)
        ctx.lengths[axis] = ctx.method("size", _value_over(ctx, axis), 0)
    for domain in samples(ctx.ir.domains):  # declared after their parents: parents first
        _lower_sample(ctx, domain)
    for edges in cross_sets(ctx.ir.domains):
        name = edges.axis or ""
        ctx.edge_sets[name] = built = _edge_set(ctx, edges)
        built.meta["geoc_edge_set"] = name  # the checker maps these edges through permutations
        ctx.lengths[name] = ctx.method("size", ctx.edge_part(0, name), 0)


def prune_unread_edge_sets(ctx: LowerCtx) -> None:
    """Leave out an edge set that nothing reads but its own count and parts (fused
    cross-attention over `full` pairs masks them instead): no pair list, no host sync."""
    for name, built in list(ctx.edge_sets.items()):
        chain = _unread(built)
        if chain is None:
            continue
        for node in reversed(chain):
            ctx.fx.erase_node(node)
        del ctx.edge_sets[name], ctx.lengths[name]
        for key in [k for k in ctx.edge_parts if k[1] == name]:
            del ctx.edge_parts[key]


def _unread(built: fx.Node) -> list[fx.Node] | None:
    """``built`` and its users in graph order when they are only its parts and sizes, none of
    them used further (None: something reads the edges)."""
    chain, todo = [built], [built]
    while todo:
        for user in todo.pop().users:
            part = user.op == "call_function" and user.target is operator.getitem
            size = user.op == "call_method" and user.target == "size"
            if not (part or (size and not user.users)):
                return None
            chain.append(user)
            todo.append(user)
    return chain


def _lower_sample(ctx: LowerCtx, domain: Domain) -> None:
    """The sampled axis: farthest-point indices into its parent, then its positions, graph of
    each element and length, all derived from the parent's."""
    axis, parent = domain.axis or "", sample_rules.parent(domain)
    m, tol = sample_rules.centres(domain), sample_rules.tolerance(domain)
    batch = ctx.index_for(parent)
    found = ctx.call(
        rt_sample.fps, positions(ctx, parent), batch, ctx.num_graphs, m, tol, name=f"{axis}_index"
    )
    ctx.samples[axis] = found
    ctx.sample_positions[axis] = ctx.call(torch.index_select, positions(ctx, parent), 0, found)
    ctx.axis_batches[axis] = (
        None if batch is None else ctx.call(rt_sample.sampled_batch, batch, found)
    )
    ctx.lengths[axis] = ctx.method("size", found, 0)


def _value_over(ctx: LowerCtx, axis: str) -> fx.Node:
    """The first input over ``axis`` (elaboration makes sure there is one)."""
    return next(ctx.inputs[n] for n, p in ctx.ir.inputs.items() if p.type.axes == (axis,))


def positions(ctx: LowerCtx, axis: str) -> fx.Node:
    """The positions of the point cloud ``axis`` (the primary's, a further one's, or a sampled
    axis's: its points' positions)."""
    if axis in ctx.sample_positions:
        return ctx.sample_positions[axis]
    name = ctx.ir.positions if axis == ctx.ir.domain.axis else ctx.ir.more_positions[axis]
    return ctx.inputs[name or ""]


def _edge_set(ctx: LowerCtx, edges: Domain) -> fx.Node:
    """The edge set's rule between its two axes; within one axis, the point cloud's own."""
    src, dst = edges.ends
    name, arg, tol = f"{edges.axis}_edges", float(edges.edge_arg or 0), float(edges.edge_tol or 0)
    if src == dst:  # no self-pair, as in a point cloud
        like, batch = _like(ctx, src), ctx.index_for(src)
        if edges.edges is EdgeRule.FULL:
            return ctx.call(rt.full_edges, like, batch, name=name)
        pos = positions(ctx, src)
        if edges.edges is EdgeRule.RADIUS:
            return ctx.call(rt.radius_edges, pos, batch, arg, name=name)
        if edges.edges is EdgeRule.BALL:
            return ctx.call(rt.ball_edges, pos, batch, arg, edges.edge_k or 1, tol, name=name)
        return ctx.call(rt.knn_edges, pos, batch, int(arg), tol, name=name)
    batches = ctx.index_for(src), ctx.index_for(dst)
    if edges.edges is EdgeRule.FULL:
        likes = _like(ctx, src), _like(ctx, dst)
        return ctx.call(rt_axes.cross_full_edges, *likes, *batches, name=name)
    points = positions(ctx, src), positions(ctx, dst)
    if edges.edges is EdgeRule.RADIUS:
        return ctx.call(rt_axes.cross_radius_edges, *points, *batches, arg, name=name)
    if edges.edges is EdgeRule.BALL:
        k = edges.edge_k or 1
        return ctx.call(rt_axes.cross_ball_edges, *points, *batches, arg, k, tol, name=name)
    return ctx.call(rt_axes.cross_knn_edges, *points, *batches, int(arg), tol, name=name)


def _like(ctx: LowerCtx, axis: str) -> fx.Node:
    """A value with a row per element of ``axis`` (a sampled axis: its positions)."""
    if axis in ctx.sample_positions:
        return ctx.sample_positions[axis]
    return _value_over(ctx, axis)


def _check_inputs(primary: DomainRules, ctx: LowerCtx, like: fx.Node | None) -> None:
    """The primary's checks (every input's shape, over any axis), then each ``batch_<axis>``."""
    primary.check_inputs(ctx, like)
    graphs = placeholder(ctx, "num_graphs")
    for domain in given_axes(ctx.ir):
        axis = domain.axis or ""
        given = ctx.axis_batches[axis], batch_name(axis), ctx.batch, graphs
        check(ctx, rt_axes.check_axis_batch, *given, _value_over(ctx, axis))


# --- the checker ------------------------------------------------------------------------------


def axis_sizes(nodes: int, graphs: int, layout: Layout) -> list[int]:
    """Elements of a further axis per graph: about half as many as nodes and unequal; in the
    degenerate layout of a batch the first graph has none."""
    sizes = [max(1, nodes // 2 + g % 2) for g in range(graphs)]
    if layout is Layout.DEGENERATE and graphs > 1:
        sizes[0] = 0
    return sizes


def _draw_sample(
    primary: DomainRules,
    ir: Graph,
    rng: np.random.Generator,
    nodes: int,
    graphs: int,
    dtype: torch.dtype,
    trial: int = 0,
) -> Sample:
    sample = primary.draw_sample(ir, rng, nodes, graphs, dtype, trial)
    layout = layout_of(trial)
    inputs, sizes = dict(sample.inputs), dict(sample.sizes)
    for domain in given_axes(ir):
        axis = domain.axis or ""
        per_graph = axis_sizes(nodes, graphs, layout)
        sizes[axis] = total = sum(per_graph)
        if "batch" in inputs:
            counts = torch.tensor(per_graph)
            inputs[batch_name(axis)] = torch.repeat_interleave(torch.arange(graphs), counts)
        for name, port in ir.inputs.items():
            if port.type.axes != (axis,):
                continue
            if name == ir.more_positions.get(axis):
                value = _positions_of(ir, sample, rng, per_graph, layout)
            else:
                value = draw_input_value(ir, rng, name, port.type, {axis: total}, per_graph, layout)
            inputs[name] = value.to(dtype) if value.is_floating_point() else value
    return dataclasses.replace(sample, inputs=inputs, sizes=sizes)


def _positions_of(
    ir: Graph, sample: Sample, rng: np.random.Generator, per_graph: list[int], layout: Layout
) -> torch.Tensor:
    """A further point cloud's positions: random; in the ties layout copies of random points of
    the same graph of the primary cloud (on its lattice: many equal distances)."""
    dim = ir.domain.dim or 3
    if layout is not Layout.TIES or ir.positions is None:
        return torch.as_tensor(rng.normal(size=(sum(per_graph), dim)))
    points = sample.inputs[ir.positions]
    batch = sample.inputs.get("batch")
    rows = []
    for graph, count in enumerate(per_graph):
        members = np.arange(points.shape[0]) if batch is None else np.flatnonzero(batch == graph)
        rows.append(points[torch.as_tensor(rng.choice(members, size=count))])
    return torch.cat(rows)


def _move_inputs(
    primary: DomainRules, ir: Graph, sample: Sample, element: GroupElement
) -> dict[str, Any]:
    """The primary's moves (every declared input, by its own axis's permutation), then each
    ``batch_<axis>`` permuted with its axis."""
    moved = primary.move_inputs(ir, sample, element)
    for domain in given_axes(ir):
        axis = domain.axis or ""
        if batch_name(axis) in moved:
            perm = axis_permutation(element, axis, sample.sizes[axis])
            moved[batch_name(axis)] = moved[batch_name(axis)][perm]
    return moved
