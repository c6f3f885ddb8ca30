"""The typed graph IR: frozen pydantic nodes in a ``networkx.DiGraph``.

Each :class:`Node` computes one or more typed values from the values of earlier nodes; its
``id`` is a stable dotted name derived from the spec (``egnn_layer.2.m``), which also names
the parameters the backend creates for it (``egnn_layer.2.m.0.weight``). Nodes are added in
a topological order (the spec is SSA), so ``graph.nodes`` is an evaluation order.
Analysis results live in side maps, never in the nodes.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from geoc.diagnostics import Span
from geoc.domains import EDGE_AXIS, Domain, EdgeRule
from geoc.groups.group import Broken, Group
from geoc.initialisers import JSON_KEY as INIT_KEY
from geoc.initialisers import Initialiser
from geoc.types import FeatureType, points_dim


def _to_type(value: object) -> FeatureType:
    return value if isinstance(value, FeatureType) else FeatureType.parse(str(value))


def _to_span(value: object) -> Span | None:
    if value is None or isinstance(value, Span):
        return value
    return Span(**value)  # type: ignore[arg-type]


def _span_dict(span: Span | None) -> dict | None:
    if span is None:
        return None
    return {
        "file": span.file,
        "line": span.line,
        "col": span.col,
        "end_line": span.end_line,
        "end_col": span.end_col,
    }


TypeField = Annotated[FeatureType, PlainValidator(_to_type), PlainSerializer(str, return_type=str)]
SpanField = Annotated[Span | None, PlainValidator(_to_span), PlainSerializer(_span_dict)]


class ValueRef(BaseModel):
    """The ``index``-th output of node ``node``."""

    model_config = ConfigDict(frozen=True)
    node: str
    index: int = 0

    def __str__(self) -> str:
        return self.node if self.index == 0 else f"{self.node}#{self.index}"


class Node(BaseModel):
    """One operation: ``op`` applied to ``inputs`` with compile-time ``attrs``."""

    model_config = ConfigDict(frozen=True)
    id: str
    op: str
    inputs: tuple[ValueRef, ...] = ()
    attrs: dict[str, Any] = {}
    out_types: tuple[TypeField, ...]
    span: SpanField = None
    arg_spans: tuple[SpanField, ...] = ()  # where each input was written, for diagnostics


class Port(BaseModel):
    """A model input or output: its name, declared type, value and declaration site."""

    model_config = ConfigDict(frozen=True)
    name: str
    type: TypeField
    value: ValueRef
    span: SpanField = None


def encode_attr(value: object) -> object:
    """Attributes as JSON: feature types become ``{"type": "..."}``, initialisers
    ``{"init": "xavier(gain=0.001)"}``, tuples lists."""
    if isinstance(value, FeatureType):
        return {"type": str(value)}
    if isinstance(value, Initialiser):
        return {INIT_KEY: str(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [encode_attr(v) for v in value]
    return value


def decode_attr(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"type"}:
        return FeatureType.parse(value["type"])
    if isinstance(value, dict) and set(value) == {INIT_KEY}:
        return Initialiser.parse(value[INIT_KEY])
    if isinstance(value, list):
        return tuple(decode_attr(v) for v in value)
    return value


@dataclass
class Graph:
    """A model's IR: its group, domain, resolved params, ports and nodes.

    ``domain`` is the primary domain; a model over several axes lists the others in ``more``
    (further node axes and edge sets between axes, docs/language.md "Several axes"), and the
    position input of each further point cloud in ``more_positions`` (axis -> input)."""

    name: str
    group: Group
    domain: Domain
    params: dict[str, Any]
    positions: str | None = None  # the input whose points build a point cloud's edges
    span: Span | None = None
    more: tuple[Domain, ...] = ()
    more_positions: dict[str, str] = field(default_factory=dict)
    # Declared symmetry breaking: the group `symmetry` declared (``group`` is what remains and
    # what every rule proved) and each `breaks` statement; None / () when nothing is broken.
    declared: Group | None = None
    broken: tuple[Broken, ...] = ()

    def __post_init__(self) -> None:
        self.g = nx.DiGraph()
        self.inputs: dict[str, Port] = {}
        self.outputs: dict[str, Port] = {}
        # Under a declared break: the unbroken nodes (inputs not named after `by`, operators
        # reading only unbroken values), typed and proved under ``declared``; every other node,
        # and any a pass adds but :func:`geoc.optimize.edit.rebuild` keeps, under ``group``.
        self.unbroken: set[str] = set()

    @property
    def symmetry(self) -> str:
        """What was verified, and what was declared broken by what:
        ``O(3) x S(points); T(3) broken by `x``` (just the group when nothing is broken)."""
        return "; ".join([str(self.group), *map(str, self.broken)])

    def group_of(self, node_id: str) -> Group:
        """The group ``node_id`` is typed and proved under: the declared one where it reads no
        broken value (docs/language.md "What `by` means"), else what remains."""
        if self.declared is not None and node_id in self.unbroken:
            return self.declared
        return self.group

    @property
    def domains(self) -> tuple[Domain, ...]:
        """Every domain, the primary first."""
        return (self.domain, *self.more)

    @property
    def builds_edges(self) -> bool:
        """Whether the module holds the primary domain's edge set: given edges always (the
        caller passes ``edge_index``), a periodic cell's, and built ones where some value lies
        over them or some call reads them (``interpolate(h, over=edges)``; a model over
        several axes may never read its primary's edges)."""
        domain = self.domain
        if domain.edges is None:
            return False
        if domain.edges is EdgeRule.GIVEN or domain.cell:
            return True
        over_edges = any(EDGE_AXIS in t.axes for node in self.nodes for t in node.out_types)
        return over_edges or any(n.attrs.get("over") == EDGE_AXIS for n in self.nodes)

    # --- building ---

    def add(self, node: Node) -> Node:
        assert node.id not in self.g, f"duplicate node id {node.id}"
        assert all(ref.node in self.g for ref in node.inputs), f"dangling input of {node.id}"
        self.g.add_node(node.id, node=node)
        for ref in node.inputs:
            self.g.add_edge(ref.node, node.id)
        return node

    def replace(self, node: Node) -> None:
        """Swap a node for a new version with the same id and inputs (optimisation passes)."""
        assert self.g.nodes[node.id]["node"].inputs == node.inputs
        self.g.nodes[node.id]["node"] = node

    def remove(self, node_id: str) -> None:
        self.g.remove_node(node_id)

    # --- reading ---

    @property
    def nodes(self) -> list[Node]:
        """All nodes in evaluation order."""
        return [self.g.nodes[n]["node"] for n in self.g.nodes]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def node(self, node_id: str) -> Node:
        return self.g.nodes[node_id]["node"]

    def type_of(self, ref: ValueRef) -> FeatureType:
        return self.node(ref.node).out_types[ref.index]

    def users(self, node_id: str) -> list[str]:
        return list(self.g.successors(node_id))

    def lint(self) -> None:
        """Internal invariants every pass must keep (an AssertionError is a compiler bug)."""
        assert nx.is_directed_acyclic_graph(self.g), "IR has a cycle"
        order = {n: i for i, n in enumerate(self.g.nodes)}
        for node in self.nodes:
            for ref in node.inputs:
                assert ref.node in self.g, f"{node.id}: input {ref} is missing"
                assert order[ref.node] < order[node.id], f"{node.id}: input {ref} comes later"
                assert ref.index < len(self.node(ref.node).out_types), f"{node.id}: bad {ref}"
        for port in [*self.inputs.values(), *self.outputs.values()]:
            assert port.value.node in self.g, f"port {port.name} refers to a missing node"

    # --- serialisation ---

    def to_json(self, indent: int | None = 2) -> str:
        doc = {
            "geoc_ir": 1,
            "name": self.name,
            "group": str(self.group),
            "domain": str(self.domain),
            "params": {k: encode_attr(v) for k, v in self.params.items()},
            "positions": self.positions,
            **self._more_json(),
            **self._broken_json(),
            "inputs": [p.model_dump(mode="json") for p in self.inputs.values()],
            "outputs": [p.model_dump(mode="json") for p in self.outputs.values()],
            "nodes": [_dump_node(n) for n in self.nodes],
        }
        return json.dumps(doc, indent=indent)

    def _more_json(self) -> dict[str, Any]:
        """The further domains, only where there are some (a one-domain IR reads as before)."""
        if not self.more:
            return {}
        return {"more": [str(d) for d in self.more], "more_positions": self.more_positions}

    def _broken_json(self) -> dict[str, Any]:
        """The declared group and the `breaks` statements, only where there are some."""
        if not self.broken:
            return {}
        broken = [b.to_json() for b in self.broken]
        unbroken = [n for n in self.g.nodes if n in self.unbroken]
        return {"declared": str(self.declared), "broken": broken, "unbroken": unbroken}

    @classmethod
    def from_json(cls, text: str) -> Graph:
        from geoc.domains.axes import as_further

        doc = json.loads(text)
        domain = Domain.parse(doc["domain"]) if doc["domain"] != "global" else Domain()
        more = tuple(as_further(Domain.parse(d)) for d in doc.get("more", ()))
        dim = domain.dim or points_dim(FeatureType.parse(p["type"]) for p in doc["inputs"])
        graph = cls(
            doc["name"],
            Group.parse(doc["group"]).with_default_dim(dim),
            domain,
            {k: decode_attr(v) for k, v in doc["params"].items()},
            positions=doc.get("positions"),
            more=more,
            more_positions=dict(doc.get("more_positions", {})),
        )
        if "broken" in doc:
            graph.declared = Group.parse(doc["declared"]).with_default_dim(dim)
            graph.broken = tuple(
                Broken.parse(b["part"], b["by"], b.get("to")) for b in doc["broken"]
            )
            graph.unbroken = set(doc.get("unbroken", ()))
        for raw in doc["nodes"]:
            raw = {**raw, "attrs": {k: decode_attr(v) for k, v in raw["attrs"].items()}}
            graph.add(Node.model_validate(raw))
        graph.inputs = {p["name"]: Port.model_validate(p) for p in doc["inputs"]}
        graph.outputs = {p["name"]: Port.model_validate(p) for p in doc["outputs"]}
        return graph

    def to_dot(self, blocks: tuple[str, ...] = ()) -> str:
        """Graphviz DOT: one box per node (id, op, output types), ports as ovals, the calls of
        ``blocks`` as clusters (:mod:`geoc.graph_picture`)."""
        from geoc.graph_picture import picture, to_dot

        return to_dot(picture(self, blocks))


def _dump_node(node: Node) -> dict:
    raw = node.model_dump(mode="json", exclude={"attrs"})
    raw["attrs"] = {k: encode_attr(v) for k, v in node.attrs.items()}
    return raw
