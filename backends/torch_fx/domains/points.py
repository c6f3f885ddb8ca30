"""Domains of values over a permutable axis: ``global``, ``set``, ``graph`` (edges given as
``edge_index``) and ``pointcloud`` (edges built from positions). Inputs besides the spec's:
``edge_index`` where edges are given, ``batch`` / ``num_graphs`` for many graphs in one call,
``cell`` / ``pbc`` for a periodic cell (``common/periodic_kernels.py``; checker: ``cells.py``).

Conventions of ``g·x`` (see :mod:`geoc.backends.torch_fx.verify`): the node axis is permuted
and ``batch`` with it; ``edge_index`` is relabelled and keeps its edge order. The checker's
trials stress, in turn, general position, ties and degenerate inputs (:class:`Layout`:
positions in ``clouds.py``; given edges: an edgeless graph, and one-node graphs in a batch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.common import periodic_kernels as rt_periodic
from geoc.backends.torch_fx.common import validate_kernels as rtv
from geoc.backends.torch_fx.domains import DomainRules, Sample
from geoc.backends.torch_fx.domains.cells import (
    EXACT_LAW,
    NO_LATTICE_MOVES,
    draw_periodic,
    lattice_invariant,
    move_atoms,
    move_cell,
)
from geoc.backends.torch_fx.domains.clouds import Layout, layout_of, stable_positions
from geoc.backends.torch_fx.domains.labels import check_label_input, draw_labels
from geoc.backends.torch_fx.manifold.verify import draw_value, needs_manifold_draw
from geoc.backends.torch_fx.validate import axis_label, check, described, placeholder
from geoc.backends.torch_fx.verify.actions import (
    AxisMap,
    axis_permutation,
    draw_element,
    transform,
)
from geoc.domains import EDGE_AXIS, DomainKind, EdgeRule
from geoc.groups import GroupElement
from geoc.ir import Graph, Port
from geoc.types import FeatureType

if TYPE_CHECKING:
    from torch import fx

    from geoc.backends.torch_fx.lower import LowerCtx


def lower_inputs(ctx: LowerCtx) -> None:
    """``edge_index`` where edges are given, ``batch`` (where values lie over an axis) and
    ``num_graphs``, both optional; then the axis lengths and the edge set, built once and
    shared by every layer."""
    if ctx.ir.domain.edges is EdgeRule.GIVEN or _edges_from_caller(ctx):
        ctx.inputs["edge_index"] = ctx.required_input("edge_index")
    if ctx.ir.domain.cell and _edges_from_caller(ctx):
        ctx.inputs["edge_shift"] = ctx.required_input("edge_shift")
    if ctx.ir.domain.cell:
        ctx.inputs["cell"] = ctx.required_input("cell")
    if ctx.ir.domain.axis is not None:
        ctx.batch = ctx.fx.placeholder("batch", default_value=None)
    graphs = ctx.fx.placeholder("num_graphs", default_value=None)
    if ctx.ir.domain.cell:
        ctx.fx.placeholder("pbc", default_value=None)
    ctx.num_graphs = ctx.call(rt.count_graphs, ctx.batch, graphs)
    if ctx.ir.domain.axis is not None:
        _per_graph_globals(ctx)
    _domain_structure(ctx)


def _per_graph_globals(ctx: LowerCtx) -> None:
    """Global inputs next to a ``batch`` are one row per graph for every operator: a shared
    ``[C]`` is repeated once here (it used to meet per-graph values as a vector: a ``concat``
    with a pooled value failed, a ``linear`` of it returned one row for all graphs)."""
    for name, port in ctx.ir.inputs.items():
        if not port.type.axes:
            rows = ctx.call(rt.per_graph, ctx.inputs[name], ctx.batch, ctx.num_graphs)
            rows._rename(f"{name}_per_graph")
            rows.meta["geoc_node"] = port.value.node
            ctx.values[port.value] = rows


def _domain_structure(ctx: LowerCtx) -> None:
    domain = ctx.ir.domain
    if domain.axis is None or domain.is_field:
        return
    on_axis = [n for name, n in ctx.inputs.items() if _axes_of(ctx, name) == (domain.axis,)]
    if on_axis:
        ctx.lengths[domain.axis] = ctx.method("size", on_axis[0], 0)
    if not ctx.ir.builds_edges:
        return
    ctx.edges = _edges(ctx)
    ctx.edges.meta["geoc_edges"] = True  # the numeric checker maps edges through permutations
    ctx.lengths[EDGE_AXIS] = ctx.method("size", ctx.edge_part(0), 0)


def _axes_of(ctx: LowerCtx, input_name: str) -> tuple[str, ...]:
    port = ctx.ir.inputs.get(input_name)
    return port.type.axes if port else ()


def _edges_from_caller(ctx: LowerCtx) -> bool:
    """``given_edges``: the caller passes the neighbour list the edge rule would build."""
    return ctx.given_edges and _rule_edges(ctx)


def _edges(ctx: LowerCtx) -> fx.Node:
    domain = ctx.ir.domain
    if domain.cell:
        return _periodic_edges(ctx, ctx.inputs[ctx.ir.positions or ""], float(domain.edge_arg or 0))
    if domain.edges is EdgeRule.GIVEN or _edges_from_caller(ctx):
        return ctx.call(rt.given_edges, ctx.inputs["edge_index"], name="edges")
    pos = ctx.inputs[ctx.ir.positions or ""]
    builders = {
        EdgeRule.FULL: lambda: ctx.call(rt.full_edges, pos, ctx.batch, name="edges"),
        EdgeRule.RADIUS: lambda: ctx.call(
            rt.radius_edges, pos, ctx.batch, float(domain.edge_arg or 0), name="edges"
        ),
        EdgeRule.KNN: lambda: ctx.call(
            rt.knn_edges,
            pos,
            ctx.batch,
            int(domain.edge_arg or 0),
            float(domain.edge_tol or 0.0),
            name="edges",
        ),
        EdgeRule.BALL: lambda: ctx.call(
            rt.ball_edges,
            pos,
            ctx.batch,
            float(domain.edge_arg or 0),
            domain.edge_k or 1,
            float(domain.edge_tol or 0.0),
            name="edges",
        ),
    }
    return builders[domain.edges]()


def _periodic_edges(ctx: LowerCtx, pos: fx.Node, cutoff: float) -> fx.Node:
    """Edges to periodic images within ``cutoff``, and each edge's image offset ``shift @ cell``
    (``ctx.edge_offsets``), which a point gathered at ``src`` subtracts (graph/lower.py)."""
    cell, pbc = ctx.inputs["cell"], placeholder(ctx, "pbc")
    if _edges_from_caller(ctx):
        given = ctx.inputs["edge_index"], ctx.inputs["edge_shift"]
        found = ctx.call(rt_periodic.given_neighbours, *given, name="neighbours")
    else:
        search = (pos, cutoff, ctx.batch, cell, pbc, ctx.num_graphs)
        found = ctx.call(rt_periodic.periodic_neighbours, *search, name="neighbours")
    ctx.edge_offsets = ctx.call(
        rt_periodic.image_offsets, found, cell, ctx.batch, name="edge_image_offsets"
    )
    return ctx.call(rt_periodic.neighbour_edges, found, name="edges")


def check_inputs(ctx: LowerCtx, like: fx.Node | None) -> None:
    """Each input's shape ``[N, C]`` (or ``[E, C]``) and dtype, one length per axis, then
    ``batch`` / ``num_graphs`` and ``edge_index`` against the node count, then global inputs:
    ``[num_graphs, C]`` or ``[C]`` next to a node axis, ``[B, C]`` or ``[C]`` without one."""
    axis = ctx.ir.domain.axis
    over: dict[str, list[tuple[str, fx.Node]]] = {}
    for name, port in ctx.ir.inputs.items():
        if port.type.has_labels:  # integer labels, `[N]` (labels.py)
            check_label_input(ctx, name, port.type)
        elif port.type.axes:
            width, text = ctx.group.type_dim(port.type), described(ctx, port.type)
            dims = (*(axis_label(a, axis) for a in port.type.axes), width)
            check(ctx, rtv.check_value, ctx.inputs[name], name, dims, text, like)
        if port.type.axes:
            over.setdefault(port.type.axes[0], []).append((name, ctx.inputs[name]))
    for on, named in over.items():
        if on != EDGE_AXIS and len(named) > 1:
            names = [m for m, _ in named]
            labels = [False] if any(ctx.ir.inputs[m].type.has_labels for m in names) else []
            check(ctx, rtv.check_agree, [n for _, n in named], names, 0, on, *labels)
    nodes = over[axis][0][1] if axis in over else None
    graphs = placeholder(ctx, "num_graphs")
    check(ctx, rtv.check_graphs, ctx.batch, graphs, nodes)
    if "edge_index" in ctx.inputs:
        check(ctx, rtv.check_edge_index, ctx.inputs["edge_index"], nodes)
        if "edge_shift" in ctx.inputs:
            shift = ctx.inputs["edge_shift"]
            check(ctx, rt_periodic.check_edge_shift, shift, ctx.inputs["edge_index"])
        named = over.get(EDGE_AXIS, [])
        if named:
            edges = [n for _, n in named]
            check(
                ctx, rtv.check_edges_agree, edges, [m for m, _ in named], ctx.inputs["edge_index"]
            )
    _check_globals(ctx, like, graphs)
    if ctx.ir.domain.cell:
        cell, pbc = ctx.inputs["cell"], placeholder(ctx, "pbc")
        check(ctx, rt_periodic.check_cell, cell, pbc, like, ctx.batch, graphs)


def _check_globals(ctx: LowerCtx, like: fx.Node | None, graphs: fx.Node | None) -> None:
    named = [(n, p.type) for n, p in ctx.ir.inputs.items() if not p.type.axes]
    for name, ftype in named:
        width, text = ctx.group.type_dim(ftype), described(ctx, ftype)
        if ctx.ir.domain.axis is None:  # one sample [C], or a batch of samples [B, C]
            check(ctx, rtv.check_batched_global, ctx.inputs[name], name, width, text, like)
        else:
            x = ctx.inputs[name]
            check(ctx, rtv.check_per_graph, x, name, width, text, like, ctx.batch, graphs)
    if ctx.ir.domain.axis is None and len(named) > 1:
        values = [ctx.inputs[n] for n, _ in named]
        check(ctx, rtv.check_agree, values, [n for n, _ in named], 0, "samples")


def _rule_edges(ctx: LowerCtx) -> bool:
    """Edges an edge rule defines from positions (full, radius, knn)."""
    return ctx.ir.domain.edges not in (None, EdgeRule.GIVEN)


def _built_edges(ctx: LowerCtx) -> bool:
    """Edges the module finds itself (not passed in with ``given_edges``)."""
    return _rule_edges(ctx) and not ctx.given_edges


def lower_output(ctx: LowerCtx, port: Port) -> fx.Node:
    """An output over built edges holds one row per edge (a static layout's masked pairs left
    out), in the order of the ``edge_index`` returned with it (:func:`extra_outputs`)."""
    value = ctx.values[port.value]
    if port.type.axes[:1] == (EDGE_AXIS,) and _built_edges(ctx):
        return ctx.call(rt.live_rows, value, ctx.edges, name=f"{port.name}_live")
    return value


def extra_outputs(ctx: LowerCtx) -> dict[str, fx.Node]:
    """Built edges (full, radius, knn) as ``edge_index`` ``[2, E]``, where an output is over
    them: as PyG's ``radius_graph`` returns its edges, so the rows can be read. Given edges are
    the caller's own ``edge_index``: nothing to add. Under a periodic cell also each edge's
    lattice shift ``edge_shift`` ``[E, 3]``: two edges may join the same atoms (to different
    images), and only the shift tells them apart."""
    over_edges = any(p.type.axes[:1] == (EDGE_AXIS,) for p in ctx.ir.outputs.values())
    if not (over_edges and _built_edges(ctx)):
        return {}
    extra = {"edge_index": ctx.call(rt.edge_list, ctx.edges, name="edge_list")}
    if ctx.ir.domain.cell:  # the edges are neighbour_edges(neighbours): read the shifts there
        neighbours = ctx.edges.args[0]
        extra["edge_shift"] = ctx.call(rt_periodic.neighbour_shifts, neighbours, name="edge_shift")
    return extra


def graph_sizes(nodes: int, graphs: int, layout: Layout = Layout.GENERAL) -> list[int]:
    """Nodes per graph: ``nodes`` for one graph; around ``nodes`` and unequal for a batch, whose
    second graph has a single node in the degenerate layout."""
    if graphs == 1:
        return [nodes]
    sizes = [max(2, nodes + g % 3 - 1) for g in range(graphs)]
    if layout is Layout.DEGENERATE:
        sizes[1] = 1
    return sizes


def draw_sample(
    ir: Graph,
    rng: np.random.Generator,
    nodes: int,
    graphs: int,
    dtype: torch.dtype,
    trial: int = 0,
) -> Sample:
    """Random inputs of every declared type, plus ``edge_index`` / ``batch`` as the domain
    needs; positions and edges stress the trial's :class:`Layout`."""
    layout = layout_of(trial)
    sizes = graph_sizes(nodes, graphs, layout)
    total = sum(sizes)
    structure: dict[str, Any] = {}
    if ir.domain.edges is EdgeRule.GIVEN:
        edgeless = _edgeless_graphs(layout, len(sizes))
        structure["edge_index"] = torch.as_tensor(random_edge_index(rng, sizes, edgeless))
    if graphs > 1 and ir.domain.axis is not None:
        structure["batch"] = torch.repeat_interleave(torch.arange(graphs), torch.tensor(sizes))
        structure["num_graphs"] = graphs
    lengths = {axis: total for axis in _node_axes(ir)}
    if "edge_index" in structure:
        lengths[EDGE_AXIS] = structure["edge_index"].shape[1]
    degenerate = layout is Layout.DEGENERATE and ir.domain.edges is not None
    periodic = draw_periodic(ir, rng, sizes, trial, degenerate) if ir.domain.cell else {}
    values = {
        name: periodic["pos"]
        if periodic and name == ir.positions
        else draw_input_value(ir, rng, name, port.type, lengths, sizes, layout)
        for name, port in ir.inputs.items()
    }
    if periodic:
        structure |= {"cell": periodic["cell"].to(dtype), "pbc": periodic["pbc"]}
    typed = {n: v.to(dtype) if v.is_floating_point() else v for n, v in values.items()}
    sizes_by_axis = {a: n for a, n in lengths.items() if a != EDGE_AXIS}
    lattice = periodic.get("lattice") if lattice_invariant(ir) else None
    return Sample(
        {**typed, **structure}, sizes_by_axis, general_position=not degenerate, lattice=lattice
    )


def _edgeless_graphs(layout: Layout, graphs: int) -> set[int]:
    """Given edges: in the degenerate layout, one graph has none (the only one if unbatched)."""
    if layout is not Layout.DEGENERATE:
        return set()
    return {0} if graphs == 1 else {min(2, graphs - 1)}


def _node_axes(ir: Graph) -> set[str]:
    axes = {a for port in ir.inputs.values() for a in port.type.axes} - {EDGE_AXIS}
    return axes | ({ir.domain.axis} if ir.domain.axis else set())


def draw_input_value(
    ir: Graph,
    rng: np.random.Generator,
    name: str,
    ftype: FeatureType,
    lengths: Mapping[str, int],
    sizes: Sequence[int],
    layout: Layout,
) -> Tensor:
    if name == ir.positions and ir.domain.kind is DomainKind.POINTCLOUD:
        return torch.as_tensor(stable_positions(ir, rng, sizes, layout))
    missing = [a for a in ftype.axes if a not in lengths]
    if missing:
        raise ValueError(
            f"input `{name}` is over {missing[0]}, whose length the checker cannot set"
        )
    # A global value of several graphs is one per graph, `[graphs, C]` (a batch is given).
    per_graph = not ftype.axes and len(sizes) > 1 and ir.domain.axis is not None
    axes = (len(sizes),) if per_graph else tuple(lengths[a] for a in ftype.axes)
    if ftype.has_labels:  # integer labels, one per element (labels.py)
        return draw_labels(ftype, rng, axes[0])
    if needs_manifold_draw(ftype):  # points on their manifolds (manifold/verify.py)
        return torch.as_tensor(draw_value(ir.group, ftype, rng, axes))
    return torch.as_tensor(rng.normal(size=(*axes, ir.group.type_dim(ftype))))


def random_edge_index(
    rng: np.random.Generator, sizes: Sequence[int], edgeless: Collection[int] = ()
) -> np.ndarray:
    """Random directed edges inside each graph, no self loops or duplicates, in shuffled order.

    About a third of each graph's nodes get no incoming edge, on purpose: they must receive 0;
    the graphs numbered in ``edgeless`` get no edge at all.
    """
    pairs, offset = [], 0
    for graph, size in enumerate(sizes):
        lonely = set(rng.choice(size, size=max(1, size // 3), replace=False).tolist())
        for dst in range(size if graph not in edgeless else 0):
            if dst in lonely:
                continue
            others = [s for s in range(size) if s != dst]
            chosen = rng.choice(others, size=rng.integers(1, len(others) + 1), replace=False)
            pairs += [(offset + int(s), offset + dst) for s in chosen]
        offset += size
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return edges[:, rng.permutation(edges.shape[1])]


def transform_inputs(ir: Graph, sample: Sample, element: GroupElement) -> dict[str, Any]:
    """``g·x`` for every keyword input, ``edge_index`` and ``batch`` included."""
    maps = {a: AxisMap(axis_permutation(element, a, n)) for a, n in sample.sizes.items()}
    inputs = dict(sample.inputs)
    if "edge_index" in inputs:
        index = inputs["edge_index"]
        maps[EDGE_AXIS] = AxisMap(torch.arange(index.shape[1]))  # given edges keep their order
        perm = maps[ir.domain.axis].index if ir.domain.axis in maps else None
        inputs["edge_index"] = index if perm is None else torch.argsort(perm)[index]
    if "batch" in inputs and ir.domain.axis in maps:
        inputs["batch"] = inputs["batch"][maps[ir.domain.axis].index]
    for name, port in ir.inputs.items():
        inputs[name] = transform(inputs[name], port.type, ir.group, element, maps)
    if ir.domain.cell:
        inputs["cell"] = move_cell(inputs["cell"], element)
    if sample.lattice is not None:
        perm = maps[ir.domain.axis].index
        move_atoms(ir, inputs, sample.lattice, perm)
    return inputs


def _draw_element(
    ir: Graph, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    return draw_element(ir.group, rng, sizes, trial)


def _exact_law(ir: Graph) -> str:
    """What trials under a periodic cell move besides the group (cells.py)."""
    if not ir.domain.cell:
        return ""
    return EXACT_LAW if lattice_invariant(ir) else EXACT_LAW + NO_LATTICE_MOVES


_RULES = DomainRules(
    lower_inputs=lower_inputs,
    exact_law=_exact_law,
    draw_sample=draw_sample,
    draw_element=_draw_element,
    move_inputs=transform_inputs,
    check_inputs=check_inputs,
    lower_output=lower_output,
    extra_outputs=extra_outputs,
)


def _sequence_law(ir: Graph) -> str:
    """What a sequence's exact trials moved: tokens the group permutes, or none at all."""
    axis = ir.domain.axis
    if axis in ir.group.permuted_axes:
        return f"`{axis}` permuted as a set (no positions, not causal)"
    return (
        f"`{axis}` is ordered (positions or causality): the model has no permutation symmetry "
        "to check, so the trials apply the identity"
    )


RULES = {
    DomainKind.GLOBAL: _RULES,
    DomainKind.SET: _RULES,
    DomainKind.GRAPH: _RULES,
    DomainKind.POINTCLOUD: _RULES,
    DomainKind.SEQUENCE: dataclasses.replace(_RULES, exact_law=_sequence_law),
}
