"""The typed IR: JSON round trip, DOT export, the verifier, stable readable ids, unrolling
and dead-code elimination."""

from __future__ import annotations

import json

import pytest

from geoc.catalog import builtin_spec
from geoc.elaborate import elaborate
from geoc.grammar.parser import parse
from geoc.ir import Graph, Node, ValueRef
from geoc.pipeline import eliminate_dead_code, frontend
from geoc.program import load_program
from geoc.types import FeatureType

SPECS = ["egnn", "deepsets"]


@pytest.fixture(scope="module")
def egnn() -> Graph:
    return frontend("egnn", verify=True)


@pytest.mark.parametrize("spec", SPECS)
def test_json_round_trip(spec: str) -> None:
    graph = frontend(spec)
    text = graph.to_json()
    again = Graph.from_json(text)
    assert again.to_json() == text
    assert [n.id for n in again] == [n.id for n in graph]
    assert again.group.space_dim == graph.group.space_dim
    again.lint()


def test_json_round_trip_keeps_the_space_of_points_without_a_geometric_group() -> None:
    text = (
        (frontend("egnn").to_json())
        .replace('"E(3) x S(nodes)"', '"S(nodes)"')
        .replace('"pointcloud(nodes, dim=3, edges=full)"', '"graph(nodes)"')
    )
    assert Graph.from_json(text).group.space_dim == 3


def test_json_is_plain_data(egnn: Graph) -> None:
    doc = json.loads(egnn.to_json())
    assert doc["group"] == "E(3) x S(nodes)"
    assert doc["domain"] == "pointcloud(nodes, dim=3, edges=full)"
    assert doc["params"] == {"features": 16, "hidden": 64, "depth": 4}
    assert [p["name"] for p in doc["inputs"]] == ["h", "x"]
    linear = next(n for n in doc["nodes"] if n["id"] == "h")
    assert linear["attrs"]["out"] == {"type": "64 x scalar"}
    lines = builtin_spec("egnn").read_text().splitlines()
    assert lines[linear["span"]["line"] - 1].strip() == "h = linear(h, hidden x scalar)"


@pytest.mark.parametrize("spec", SPECS)
def test_dot_mentions_every_node_and_output(spec: str) -> None:
    graph = frontend(spec)
    dot = graph.to_dot()
    assert dot.startswith(f'digraph "{graph.name}"')
    for node in graph:
        assert f'"{node.id}" [shape=box' in dot
        for ref in node.inputs:
            assert f'"{ref.node}" -> "{node.id}";' in dot
    for name in graph.outputs:
        assert f'"out:{name}"' in dot


@pytest.mark.parametrize("spec", SPECS)
def test_lint_passes_after_verified_frontend(spec: str) -> None:
    frontend(spec, verify=True).lint()


def test_lint_catches_a_node_that_uses_a_later_value(egnn: Graph) -> None:
    broken = Graph.from_json(egnn.to_json())
    first = broken.nodes[0]
    broken.g.remove_node(first.id)
    broken.g.add_node(first.id, node=first)  # now last in evaluation order
    with pytest.raises(AssertionError, match="comes later"):
        broken.lint()


def test_egnn_ids_are_stable_and_readable(egnn: Graph) -> None:
    ids = [n.id for n in egnn]
    for expected in [
        "input.h",
        "input.x",
        "h",
        "layers.0.egnn_layer.r",
        "layers.0.egnn_layer.m",
        "layers.0.egnn_layer.m.concat.sqnorm",
        "layers.3.egnn_layer.dx",
        "energy",
        "energy.mlp",
    ]:
        assert expected in ids
    assert ids == [n.id for n in frontend("egnn")], "ids do not depend on the run"
    assert egnn.node("energy").op == "sum"
    assert egnn.node("layers.0.egnn_layer.m").op == "mlp"
    assert egnn.outputs["pos"].value == ValueRef(node="layers.3.egnn_layer.return")


def test_repeat_gives_distinct_nodes_per_iteration(egnn: Graph) -> None:
    mlps = [n.id for n in egnn if n.id.endswith("egnn_layer.m")]
    assert mlps == [f"layers.{i}.egnn_layer.m" for i in range(4)]
    # Each iteration reads the previous one's values (rebinding carries over).
    second = egnn.node("layers.1.egnn_layer.h2")
    assert ValueRef(node="layers.0.egnn_layer.h2") in second.inputs
    assert egnn.node("layers.0.egnn_layer.h2").inputs[0] == ValueRef(node="h")


def test_repeat_count_follows_the_parameter() -> None:
    ids = {n.id.split(".")[1] for n in frontend("egnn", params={"depth": 2}) if "layers" in n.id}
    assert ids == {"0", "1"}
    assert not any(n.id.startswith("layers.") for n in frontend("egnn", params={"depth": 0}))


def test_types_of_the_egnn_layer(egnn: Graph) -> None:
    def type_of(node_id: str) -> str:
        return str(egnn.node(node_id).out_types[0])

    assert type_of("layers.2.egnn_layer.r") == "vector over edges"
    assert type_of("layers.2.egnn_layer.m") == "64 x scalar over edges"
    assert type_of("layers.2.egnn_layer.dx") == "vector over nodes"
    assert type_of("layers.2.egnn_layer.return") == "point(3) over nodes"
    assert type_of("energy") == "scalar"


DEAD = """model M() {
    symmetry S(set)
    domain   set(set)
    input x: 4 x scalar over set
    input unused: 2 x scalar over set
    dead = linear(x, 8 x scalar)
    deader = mlp(dead, [2])
    y = linear(x, 2 x scalar)
    output out: 2 x scalar over set = y
}
"""


def test_dead_code_elimination_removes_unused_values() -> None:
    before = elaborate(load_program(parse(DEAD), DEAD, None))
    assert {"dead", "deader"} <= {n.id for n in before}
    after = eliminate_dead_code(before)
    assert [n.id for n in after] == ["input.x", "input.unused", "y"]
    after.lint()
    assert [n.id for n in frontend(DEAD)] == ["input.x", "input.unused", "y"]


def test_nodes_are_frozen_and_typed() -> None:
    node = Node(id="a", op="linear", out_types=("4 x scalar",))  # types parse from text
    assert node.out_types == (FeatureType.parse("4 x scalar"),)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError
        node.id = "b"  # type: ignore[misc]
