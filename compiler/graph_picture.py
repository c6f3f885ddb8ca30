"""A picture of the typed IR: one box per IR node (its id, operator and output types), one oval
per model output, edges by data flow, the blocks a node was expanded from as nested clusters,
and the value ``geoc check`` blamed marked. Written out as Graphviz DOT here (``geoc compile
--emit dot`` and ``geoc graph`` with Graphviz) and as SVG by :mod:`geoc.graph_svg`.

Node ids are dotted paths (``layers.0.egnn_layer.m``, docs of :mod:`geoc.ir`): a component
that names a block of the program starts a cluster holding every node under that prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geoc.ir import Graph

MAX_LINE = 64  # label lines longer than this are cut with an ellipsis (the full text is a tooltip)


@dataclass(frozen=True)
class Mark:
    """The value ``geoc check`` named first as breaking its law, and what the check said."""

    node: str
    note: str


@dataclass(frozen=True)
class Box:
    """One node of the picture: ``kind`` is ``input``, ``value`` or ``output``."""

    id: str
    lines: tuple[str, ...]
    kind: str
    cluster: str | None  # the innermost cluster holding it
    tooltip: str
    broken: bool = False


@dataclass(frozen=True)
class Cluster:
    """The nodes of one block call: ``id`` is their common prefix, ``parent`` the enclosing one."""

    id: str
    label: str
    parent: str | None

    @property
    def depth(self) -> int:
        return self.id.count(".")


@dataclass
class Picture:
    """What is drawn: boxes in evaluation order, edges ``(source, target)``, clusters."""

    title: str
    subtitle: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    mark: Mark | None = None

    @property
    def values(self) -> list[Box]:
        """The boxes of IR nodes (the model's inputs included; outputs are ports)."""
        return [b for b in self.boxes if b.kind != "output"]


def picture(graph: Graph, blocks: Iterable[str] = (), mark: Mark | None = None) -> Picture:
    """The picture of ``graph``; ``blocks`` are the program's block names (clusters)."""
    names = frozenset(blocks)
    pic = Picture(graph.name, graph.symmetry, mark=mark)
    for node in graph.nodes:
        cluster = _cluster_of(node.id, names, pic.clusters)
        types = [str(t) for t in node.out_types]
        if node.op == "input":
            head = [f"input {node.attrs.get('name', node.id)}"]
            pic.boxes.append(_box(node.id, head + types, "input", cluster, mark))
        else:
            local = node.id.removeprefix(f"{cluster}.") if cluster else node.id
            pic.boxes.append(_box(node.id, [local, node.op, *types], "value", cluster, mark))
        for ref in dict.fromkeys(r.node for r in node.inputs):  # a value read twice: one edge
            pic.edges.append((ref, node.id))
    for port in graph.outputs.values():
        port_id = f"out:{port.name}"
        pic.boxes.append(_box(port_id, [f"output {port.name}", str(port.type)], "output", None))
        pic.edges.append((port.value.node, port_id))
    return pic


def _box(
    node_id: str, lines: list[str], kind: str, cluster: str | None, mark: Mark | None = None
) -> Box:
    cut = tuple(line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…" for line in lines)
    broken = mark is not None and mark.node == node_id
    return Box(node_id, cut, kind, cluster, "\n".join([node_id, *lines[1:]]), broken)


def _cluster_of(node_id: str, blocks: frozenset[str], clusters: dict[str, Cluster]) -> str | None:
    """The innermost block call ``node_id`` lies in, registering it (and its parents)."""
    parts = node_id.split(".")
    parent: str | None = None
    for i, part in enumerate(parts[:-1]):
        if part not in blocks:
            continue
        prefix = ".".join(parts[: i + 1])
        where = ".".join(parts[:i])
        label = f"{part} ({where})" if where else part
        clusters.setdefault(prefix, Cluster(prefix, label, parent))
        parent = prefix
    return parent


# ---------------------------------------------------------------------------------------------
# Graphviz DOT


def to_dot(pic: Picture) -> str:
    """DOT for ``dot -Tsvg``: clusters as ``subgraph cluster_*``, SVG classes on every node
    (``value``, ``input``, ``output``, and ``broken`` for the marked one)."""
    note = f"\\n{_esc(pic.mark.note)}" if pic.mark else ""
    lines = [
        f'digraph "{_esc(pic.title)}" {{',
        "  rankdir=TB;",
        f'  label="{_esc(pic.title)}: {_esc(pic.subtitle)}{note}"; labelloc=t;',
        '  node [fontname="monospace", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    children: dict[str | None, list[str]] = {}
    for cluster in pic.clusters.values():
        children.setdefault(cluster.parent, []).append(cluster.id)
    members: dict[str | None, list[Box]] = {}
    for box in pic.boxes:
        members.setdefault(box.cluster, []).append(box)
    lines += _dot_level(pic, None, children, members, "  ")
    lines += [f'  "{_esc(a)}" -> "{_esc(b)}";' for a, b in pic.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_level(
    pic: Picture,
    cluster: str | None,
    children: dict[str | None, list[str]],
    members: dict[str | None, list[Box]],
    indent: str,
) -> list[str]:
    lines = [indent + _dot_node(box) for box in members.get(cluster, [])]
    for child in children.get(cluster, []):
        label = _esc(pic.clusters[child].label)
        lines.append(f'{indent}subgraph "cluster_{_esc(child)}" {{')
        lines.append(f'{indent}  label="{label}"; style="rounded"; color="#3a6ea5";')
        lines += _dot_level(pic, child, children, members, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _dot_node(box: Box) -> str:
    shape = "oval" if box.kind == "output" else "box"
    classes = box.kind + (" broken" if box.broken else "")
    style = ', style=filled, fillcolor="#ffd6d6", color="#c00000", penwidth=2' if box.broken else ""
    label = "\\n".join(_esc(line) for line in box.lines)
    tooltip = _esc(box.tooltip).replace("\n", "\\n")
    return (
        f'"{_esc(box.id)}" [shape={shape}, label="{label}", class="{classes}", '
        f'tooltip="{tooltip}"{style}];'
    )


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
