"""Linear before gather: compute per node what was computed per edge.

Two forms, both exact because a gather only copies node values onto edges:

* **A first layer on gathered parts.** ``mlp(concat(a[dst], b[src], c))`` (and a ``linear``
  between invariant scalars) computes ``W·concat(..) + bias`` per edge. Split by columns, it is
  ``(W_a a + bias)[dst] + (W_b b)[src] + W_c c``: the gathered parts' products (and the
  bias) are taken per node, each part its own contiguous matmul. The node
  becomes ``gathered_mlp`` / ``gathered_linear`` (``geoc.ops.rewritten``), with the same id
  and parameters. Precondition: the input is a ``concat`` over edges with at least one part
  gathered from a value that is not a point (a point gathered at ``src`` is shifted by the
  cell's image offset, which no linear map commutes with), and every other part is over
  edges (a global part, broadcast onto the edges by graph, keeps the node as written). Saves
  ``(width_a + width_b)·out`` multiply-adds per edge for ``2·out·width`` per node: fires
  whenever edges outnumber nodes (every built-in edge rule but a sparse given graph).
* **A per-element operator on gathered values.** ``f(a[e], b[e])`` with ``f`` acting on each
  element alone (its ``commutes_gather`` trait) and every input gathered at the same end ``e``
  becomes ``f(a, b)[e]``. Precondition: no input is a point (as above), and each gather has no
  other reader unless ``f`` has parameters (a learned map is worth computing per node even if
  the gathers stay for other readers).
"""

from __future__ import annotations

from geoc.domains import EDGE_AXIS
from geoc.groups import Group
from geoc.ir import Graph, Node, ValueRef
from geoc.ops import lookup
from geoc.optimize import Fired
from geoc.optimize.cost import Work
from geoc.optimize.edit import fresh_id, rebuild
from geoc.types import FeatureType

NAME = "linear before gather"


def run(graph: Graph) -> tuple[Graph, list[Fired]]:
    replace: dict[str, list[Node]] = {}
    redirect: dict[ValueRef, ValueRef] = {}
    fired: list[Fired] = []
    taken: set[str] = set()
    for node in graph.nodes:
        if any(ref.node in replace for ref in _reads(graph, node)):
            continue  # it reads a value rewritten in this sweep: the next sweep sees it
        split = _first_layer_split(graph, node)
        if split is not None:
            replace[node.id], note = split
            fired.append(note)
            continue
        moved = _move_past_gathers(graph, node, taken)
        if moved is not None:
            replace[node.id], note = moved
            redirect.update(_gathered_value(node, replace[node.id]))
            fired.append(note)
    return (rebuild(graph, replace, redirect), fired) if fired else (graph, [])


def _reads(graph: Graph, node: Node) -> list[ValueRef]:
    """The values ``node`` reads, and those of a `concat` it reads (a split looks inside)."""
    reads = list(node.inputs)
    for ref in node.inputs:
        if graph.node(ref.node).op == "concat":
            reads += graph.node(ref.node).inputs
    return reads


def _gathered_value(node: Node, nodes: list[Node]) -> dict[ValueRef, ValueRef]:
    """Readers of ``node`` read the new gather where the map kept the id (learned maps)."""
    gathered = nodes[-1]
    return {} if gathered.id == node.id else {ValueRef(node=node.id): ValueRef(node=gathered.id)}


# --- a first layer on gathered parts ----------------------------------------------------------


def _first_layer_split(graph: Graph, node: Node) -> tuple[list[Node], Fired] | None:
    if not _is_split_candidate(graph, node):
        return None
    concat = graph.node(node.inputs[0].node)
    parts, ends = [], []
    for ref in concat.inputs:
        source = graph.node(ref.node)
        if gathers_non_point(graph, source):
            parts.append(source.inputs[0])
            ends.append(source.attrs["end"])
        elif graph.type_of(ref).axes == (EDGE_AXIS,):
            parts.append(ref)
            ends.append("")
        else:  # a global value broadcast onto the edges: the split would not place it
            return None
    if not any(ends):
        return None
    op = f"gathered_{node.op}"
    attrs = {**node.attrs, "ends": tuple(ends)}
    spans = tuple(concat.arg_spans) if concat.arg_spans else ()
    update = {"op": op, "inputs": tuple(parts), "attrs": attrs, "arg_spans": spans}
    saving = _split_saving(graph, node, parts, ends).describe()
    return [node.model_copy(update=update)], Fired(
        NAME, node.id, node.span, _split_detail(node, ends), saving
    )


def _is_split_candidate(graph: Graph, node: Node) -> bool:
    """An `mlp`, or a `linear` between invariant scalars, on a `concat` over edges."""
    if node.op not in ("mlp", "linear") or len(node.inputs) != 1:
        return False
    source = graph.node(node.inputs[0].node)
    if source.op != "concat" or source.out_types[0].axes != (EDGE_AXIS,):
        return False
    if node.op == "linear":
        group = graph.group_of(node.id)
        return all(invariant_scalars(group, t) for t in (*source.out_types, *node.out_types))
    return True


def invariant_scalars(group: Group, ftype: FeatureType) -> bool:
    return all(group.is_invariant(atom) and group.atom_dim(atom) == 1 for atom in ftype.atoms)


def gathers_non_point(graph: Graph, node: Node) -> bool:
    return node.op == "gather" and not graph.type_of(node.inputs[0]).has_points


def _split_detail(node: Node, ends: list[str]) -> str:
    shown = ", ".join(f"part {i + 1} per node at `{e}`" for i, e in enumerate(ends) if e)
    return f"first layer of `{node.op}` split by parts: {shown}"


def _split_saving(graph: Graph, node: Node, parts: list[ValueRef], ends: list[str]) -> Work:
    dim = graph.group.type_dim
    width = dim(node.out_types[0]) if node.op == "linear" else node.attrs["widths"][0]
    moved = [part for part, end in zip(parts, ends, strict=True) if end]
    per_node = width * sum(dim(graph.type_of(part)) for part in set(moved))
    # per edge: the gathered columns' products go; one add of `width` per gathered part comes
    gathered = sum(dim(graph.type_of(part)) for part in moved)
    return Work(per_node=per_node, per_edge=-width * gathered + width * len(moved))


# --- a per-element operator on gathered values ------------------------------------------------


def _move_past_gathers(
    graph: Graph, node: Node, taken: set[str]
) -> tuple[list[Node], Fired] | None:
    op = lookup(node.op)
    if op is None or op.internal or not op.traits.commutes_gather or not node.inputs:
        return None
    sources = [graph.node(ref.node) for ref in node.inputs]
    # A gather is named by its end and its edge set (`x[src]`, `x[src(near)]`): all the same.
    ends = {(s.attrs.get("end"), s.attrs.get("edges", EDGE_AXIS)) for s in sources}
    if not all(gathers_non_point(graph, s) for s in sources) or len(ends) != 1:
        return None
    shared = any(len(graph.users(s.id)) > 1 or s.id in taken for s in sources)
    if shared and not op.traits.learned:
        return None  # the gathers stay for their other readers: nothing is saved
    taken.update(s.id for s in sources)
    ((end, edges),) = ends
    node_values = tuple(s.inputs[0] for s in sources)
    on_nodes = node.out_types[0].with_axes(graph.type_of(node_values[0]).axes)
    per_node = node.model_copy(update={"inputs": node_values, "out_types": (on_nodes,)})
    other_id = fresh_id(graph, f"{node.id}.per_node")
    if op.traits.learned:  # its parameters are named after its id: the map keeps it
        gathered = _gather(other_id, node.id, end, edges, node)
        return [per_node, gathered], _moved_note(node, end, other_id)
    moved = per_node.model_copy(update={"id": other_id})
    return [moved, _gather(node.id, other_id, end, edges, node)], _moved_note(node, end, None)


def _gather(node_id: str, source: str, end: str, edges: str, like: Node) -> Node:
    """A gather at ``end`` of the edge set ``edges`` (the primary's ``edges`` unnamed)."""
    return Node(
        id=node_id,
        op="gather",
        inputs=(ValueRef(node=source),),
        attrs={"end": end} | ({"edges": edges} if edges != EDGE_AXIS else {}),
        out_types=like.out_types,
        span=like.span,
    )


def _moved_note(node: Node, end: str, renamed: str | None) -> Fired:
    detail = f"`{node.op}` computed per node, then gathered at `{end}`"
    if renamed:
        detail += f" (the gathered value is `{renamed}`)"
    return Fired(NAME, node.id, node.span, detail, "its work per edge becomes per node")
