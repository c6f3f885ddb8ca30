"""Products over edges: attention's two per-edge products computed without per-edge rows.

* **Scores.** ``linear(a[e1] * b[e2], out)`` between invariant scalars, ``{e1, e2} = {dst,
  src}`` and ``a``, ``b`` of one width, is ``Σ_c W_jc a[e1]_c b[e2]_c``: the weights scale
  ``a`` per node and each edge takes one dot product of two node rows. The node becomes
  ``gathered_bilinear`` (``geoc.ops.rewritten``) with the same id and parameters.
* **Weighted values.** ``sum(w * v[src], over=edges, into=nodes)`` with ``w`` one invariant
  scalar per edge is the sparse matrix of the weights times ``v``: each node adds the rows of
  its in-neighbours in place. The node becomes ``gathered_weighted_sum``, same id.

Both are exact: the same sums of the same products, reassociated at most. Preconditions: the
gathers are of the primary edge set and of values that are not points (a point gathered at
``src`` is shifted by the cell's image offset); the product is read by nothing else (it would
still be needed per edge). The multiply-adds barely change (the saving is the ``E·C`` rows the
gathers, the product and their gradients write and read: several times the time on a CPU,
bench/attention.py --graph), so both fire wherever their pattern holds.
"""

from __future__ import annotations

from geoc.domains import EDGE_AXIS
from geoc.domains.axes import edge_ends
from geoc.ir import Graph, Node
from geoc.optimize import Fired
from geoc.optimize.cost import Work
from geoc.optimize.gather import gathers_non_point, invariant_scalars

NAME = "products over edges"


def run(graph: Graph) -> tuple[Graph, list[Fired]]:
    from geoc.optimize.edit import rebuild

    replace: dict[str, list[Node]] = {}
    fired: list[Fired] = []
    for node in graph.nodes:
        rewritten = _scores(graph, node) or _weighted_values(graph, node)
        if rewritten is not None:
            replace[node.id] = [rewritten[0]]
            fired.append(rewritten[1])
    return (rebuild(graph, replace), fired) if fired else (graph, [])


def _product_read_once(graph: Graph, node: Node) -> Node | None:
    """The `mul` over edges that ``node`` alone reads (None otherwise)."""
    if len(node.inputs) != 1:
        return None
    product = graph.node(node.inputs[0].node)
    if product.op != "mul" or len(product.inputs) != 2 or len(graph.users(product.id)) != 1:
        return None
    if any(port.value.node == product.id for port in graph.outputs.values()):
        return None
    return product


def _primary_gather(graph: Graph, node: Node) -> bool:
    """A gather of a non-point value at ``src`` or ``dst`` of the primary edges."""
    return (
        gathers_non_point(graph, node)
        and node.attrs.get("edges", EDGE_AXIS) == EDGE_AXIS
        and node.attrs["end"] in ("src", "dst")
    )


def _scores(graph: Graph, node: Node) -> tuple[Node, Fired] | None:
    if node.op != "linear" or node.attrs["out"].axes:
        return None
    product = _product_read_once(graph, node)
    if product is None:
        return None
    gathers = [graph.node(ref.node) for ref in product.inputs]
    if not all(_primary_gather(graph, g) for g in gathers):
        return None
    if {g.attrs["end"] for g in gathers} != {"src", "dst"}:
        return None
    values = tuple(g.inputs[0] for g in gathers)
    types = [graph.type_of(v) for v in values]
    group = graph.group_of(node.id)
    if types[0] != types[1] or not all(
        invariant_scalars(group, t) for t in (*types, *node.out_types)
    ):
        return None
    attrs = {**node.attrs, "ends": tuple(g.attrs["end"] for g in gathers)}
    update = {"op": "gathered_bilinear", "inputs": values, "attrs": attrs}
    update["arg_spans"] = tuple(product.arg_spans) if product.arg_spans else ()
    width, out = graph.group.type_dim(types[0]), graph.group.type_dim(node.out_types[0])
    detail = "scores taken as dot products of node rows, no per-edge product"
    saving = Work(per_node=width * out, per_edge=-width).describe()
    return node.model_copy(update=update), Fired(NAME, node.id, node.span, detail, saving)


def _weighted_values(graph: Graph, node: Node) -> tuple[Node, Fired] | None:
    if node.op != "sum" or node.attrs.get("over") != EDGE_AXIS:
        return None
    ends = edge_ends(graph.domains, EDGE_AXIS)
    if ends is None or node.attrs.get("into") != ends[1]:
        return None
    product = _product_read_once(graph, node)
    if product is None:
        return None
    first, second = (graph.node(ref.node) for ref in product.inputs)
    at = 0 if _primary_gather(graph, first) and first.attrs["end"] == "src" else 1
    gathered, weight_ref = (first, second)[at], product.inputs[1 - at]
    if not _primary_gather(graph, gathered) or gathered.attrs["end"] != "src":
        return None
    w_type = graph.type_of(weight_ref)
    group = graph.group_of(node.id)
    if w_type.axes != (EDGE_AXIS,) or group.type_dim(w_type) != 1:
        return None
    if not invariant_scalars(group, w_type):
        return None
    attrs = {"end": "src", "over": EDGE_AXIS, "into": ends[1]}
    inputs = (weight_ref, gathered.inputs[0])
    update = {"op": "gathered_weighted_sum", "inputs": inputs, "attrs": attrs}
    spans = tuple(product.arg_spans) if product.arg_spans else ()
    update["arg_spans"] = spans[::-1] if at == 0 and spans else spans
    width = graph.group.type_dim(node.out_types[0])
    detail = "weighted sum taken as a sparse product, no per-edge rows of the values"
    saving = Work(per_edge=-width).describe()
    return node.model_copy(update=update), Fired(NAME, node.id, node.span, detail, saving)
