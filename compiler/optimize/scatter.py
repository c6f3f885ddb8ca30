"""Linear across scatter: ``sum(linear(m), over=edges, into=nodes)`` or ``linear(sum(m, ..))``,
whichever the cost model finds cheaper.

A linear map ``W`` commutes with a sum over each node's in-edges, ``Σ_j W m_ij = W Σ_j m_ij``,
and with their mean, the sum divided by the in-degree. Exact **only without a bias**: with one
the sum gains ``deg(i)·b`` and a mean over no edge gives ``0``, not ``b``. So the rewrite fires
only for a ``linear`` written with ``bias=false`` or whose output has no invariant part (no bias
is created there; ``geoc.ops.layers``). Precondition: the reduction reads the map (or the map
reads the reduction) and nothing else reads the inner value, which would still be needed.

Cost per node with in-degree ``d`` (cost.py), ``n`` the input and ``k`` the output width:
``sum(W m)`` takes ``d·n·k + d·k``, ``W sum(m)`` takes ``d·n + n·k``. The second wins for any
``d ≥ 1`` unless ``k`` is much smaller than ``n`` (a readout to one channel over few edges).
"""

from __future__ import annotations

from geoc.domains import EDGE_AXIS
from geoc.ir import Graph, Node, ValueRef
from geoc.optimize import Fired
from geoc.optimize.cost import Work, average_degree
from geoc.optimize.edit import fresh_id, rebuild

NAME = "linear across scatter"
_REDUCTIONS = ("sum", "mean")


def run(graph: Graph) -> tuple[Graph, list[Fired]]:
    replace: dict[str, list[Node]] = {}
    redirect: dict[ValueRef, ValueRef] = {}
    fired = []
    degree = average_degree(graph.domain)
    for node in graph.nodes:
        pair = _pair(graph, node)
        if pair is None or any(n.id in replace for n in pair):
            continue
        outer, inner = pair
        scatter_first = outer.op == "linear"  # written `linear(sum(m))`
        now, other = _costs(graph, outer if scatter_first else inner, scatter_first)
        if other.total(degree) >= now.total(degree):
            continue
        nodes = _swapped(graph, outer, inner)
        replace[inner.id] = []  # both are rebuilt at the outer node's place
        replace[outer.id] = nodes
        if nodes[-1].id != outer.id:
            redirect[ValueRef(node=outer.id)] = ValueRef(node=nodes[-1].id)
        order = "before" if scatter_first else "after"
        detail = f"`linear` moved {order} the `{_reduction(outer, inner).op}` over edges"
        fired.append(Fired(NAME, outer.id, outer.span, detail, (other - now).describe()))
    return (rebuild(graph, replace, redirect), fired) if fired else (graph, [])


def _reduction(a: Node, b: Node) -> Node:
    return a if a.op in _REDUCTIONS else b


def _pair(graph: Graph, node: Node) -> tuple[Node, Node] | None:
    """(outer, inner): a bias-free `linear` and an edges-to-nodes sum or mean, one reading the
    other, the inner one read by nothing else."""
    if node.op not in ("linear", *_REDUCTIONS) or len(node.inputs) != 1:
        return None
    inner = graph.node(node.inputs[0].node)
    read_elsewhere = len(graph.users(inner.id)) != 1
    if read_elsewhere or any(port.value.node == inner.id for port in graph.outputs.values()):
        return None
    linear, reduce = (node, inner) if node.op == "linear" else (inner, node)
    if linear.op != "linear" or reduce.op not in _REDUCTIONS or linear is reduce:
        return None
    if reduce.attrs.get("over") != EDGE_AXIS or reduce.attrs.get("into") is None:
        return None
    if linear.attrs["out"].axes:  # written with its axes: it would not type on the others
        return None
    return (node, inner) if _bias_free(graph, linear) else None


def _bias_free(graph: Graph, linear: Node) -> bool:
    """No bias is created: `bias=false`, or no invariant atom in the output."""
    out = linear.out_types[0]
    return not linear.attrs.get("bias", True) or not any(
        graph.group_of(linear.id).is_invariant(atom) for atom in out.atoms
    )


def _costs(graph: Graph, linear: Node, scatter_first: bool) -> tuple[Work, Work]:
    """(as written, swapped), per node and per edge."""
    n = graph.group.type_dim(graph.type_of(linear.inputs[0]))
    k = graph.group.type_dim(linear.out_types[0])
    map_first = Work(per_edge=n * k + k)  # the map on every edge, then k per edge summed
    reduce_first = Work(per_node=n * k, per_edge=n)  # n per edge summed, the map per node
    return (reduce_first, map_first) if scatter_first else (map_first, reduce_first)


def _swapped(graph: Graph, outer: Node, inner: Node) -> list[Node]:
    """The pair in the other order. The map keeps its id (its parameters are named after it);
    the reduction gets a new one when it moves first."""
    source = inner.inputs[0]
    source_axes = graph.type_of(source).axes
    if outer.op == "linear":  # linear(reduce(m)) -> reduce(linear(m)): the map moves onto edges
        on_edges = outer.out_types[0].with_axes(source_axes)
        linear = outer.model_copy(update={"inputs": (source,), "out_types": (on_edges,)})
        reduce_id = fresh_id(graph, f"{inner.id}.after")
        reads = (ValueRef(node=linear.id),)
        reduce = inner.model_copy(
            update={"id": reduce_id, "inputs": reads, "out_types": outer.out_types}
        )
        return [linear, reduce]
    # reduce(linear(m)) -> linear(reduce(m)): the map moves onto nodes
    on_nodes = graph.type_of(source).with_axes(outer.out_types[0].axes)
    reduce = outer.model_copy(update={"inputs": (source,), "out_types": (on_nodes,)})
    reads = (ValueRef(node=reduce.id),)
    linear = inner.model_copy(update={"inputs": reads, "out_types": outer.out_types})
    return [reduce, linear]
