"""The static equivariance proof: every spec in ``tests/nonequivariant/`` is rejected with the
expected codes at the expected places, and no good spec is rejected."""

from __future__ import annotations

from pathlib import Path

import paths
import pytest

from geoc.diagnostics import GeoError
from geoc.elaborate import elaborate
from geoc.grammar import ast
from geoc.grammar.parser import parse, parse_file
from geoc.ops import REGISTRY, lookup
from geoc.pipeline import check_equivariance, frontend
from geoc.program import load_program

CORPUS = paths.NONEQUIVARIANT
SPECS = paths.SPECS

# Every diagnostic of each spec, in order: (code, line, column of the primary span).
EXPECTED: dict[str, list[tuple[str, int, int]]] = {
    "01_mlp_on_vector.geo": [("GEO401", 8, 13)],
    "02_mlp_on_points.geo": [("GEO401", 6, 48)],
    "03_relu_on_pseudoscalars.geo": [("GEO402", 5, 38)],
    "04_relu_on_vectors.geo": [("GEO402", 7, 43)],
    "05_max_of_vectors_pooled.geo": [("GEO405", 7, 28)],
    "06_max_of_vectors_scattered.geo": [("GEO405", 7, 39)],
    "07_sum_of_points_pooled.geo": [("GEO404", 6, 35)],
    "08_mean_of_points_scattered.geo": [("GEO404", 6, 42)],
    "09_sum_of_two_points.geo": [("GEO404", 6, 35), ("GEO404", 7, 42)],
    "10_norm_of_point.geo": [("GEO404", 6, 40)],
    "11_sqnorm_of_point.geo": [("GEO404", 7, 35)],
    "12_dot_of_points.geo": [("GEO404", 6, 39), ("GEO404", 6, 47)],
    "13_linear_on_points.geo": [("GEO404", 6, 46)],
    "14_linear_scalars_to_vector.geo": [("GEO403", 5, 31)],
    "15_linear_scalars_to_pseudoscalar.geo": [("GEO403", 5, 37)],
    "16_vector_times_vector.geo": [("GEO407", 8, 39)],
    "17_scaling_a_point.geo": [("GEO404", 6, 43)],
    "18_learned_scale_of_a_point.geo": [("GEO404", 7, 59)],
    "19_negating_a_point.geo": [("GEO404", 6, 38)],
    "20_relu_on_points.geo": [("GEO402", 6, 41)],
    "21_max_of_pseudoscalars.geo": [("GEO405", 6, 38)],
    "22_linear_vector_to_pseudovector.geo": [("GEO403", 5, 37)],
    # Inside a block expanded twice by `repeat`: reported once, in the block.
    "23_egnn_message_on_raw_r.geo": [("GEO401", 5, 14)],
    "24_silu_on_pseudoscalars.geo": [("GEO402", 7, 49)],
    "25_irrep_under_rotations_of_the_plane.geo": [("GEO309", 5, 19)],
}


def found(path: Path) -> list[tuple[str, int, int]]:
    with pytest.raises(GeoError) as info:
        frontend(path)
    return [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics]


def test_corpus_and_table_agree() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.geo")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 16


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nonequivariant_spec_is_rejected(name: str) -> None:
    assert found(CORPUS / name) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rejection_names_the_spec_line_and_a_fix(name: str) -> None:
    with pytest.raises(GeoError) as info:
        frontend(CORPUS / name)
    first = info.value.diagnostics[0]
    assert first.span.file.endswith(name)
    assert first.help, "every rejection names an equivariant alternative"
    assert "^" in info.value.render()


def test_mlp_on_vector_renders_like_the_language_reference() -> None:
    with pytest.raises(GeoError) as info:
        frontend(CORPUS / "01_mlp_on_vector.geo")
    text = info.value.render()
    assert "error[GEO401]: `mlp` needs an invariant input" in text
    assert "8 |     m = mlp(r, [hidden, hidden])\n  |             ^ vector over edges" in text
    assert "help: feed `norm(x)` or `sqnorm(x)`" in text


# ---------------------------------------------------------------------------------------------
# Every violation is reported, not just the first


def test_check_equivariance_reports_every_violation() -> None:
    text = """model Two() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    a = mlp(v, [4])
    b = act(v, relu)
    c = max(v, over=nodes)
    output y: scalar over nodes = norm(x)
}
"""
    graph = elaborate(load_program(parse(text), text, None))
    problems = check_equivariance(graph)
    assert [(d.code, d.span.line) for d in problems] == [
        ("GEO401", 6),
        ("GEO402", 7),
        ("GEO405", 8),
        ("GEO404", 9),
    ]
    with pytest.raises(GeoError) as info:
        frontend(text)
    assert info.value.codes == ["GEO401", "GEO402", "GEO405", "GEO404"]


# ---------------------------------------------------------------------------------------------
# No good spec is rejected


def _callees(module: ast.Module) -> set[str]:
    """Names called as operators or blocks (types, groups and domains are calls too: skip)."""
    names: set[str] = set()
    for item in module.items:
        if isinstance(item, (ast.Block, ast.Model)):
            for node in ast.walk(item):
                if isinstance(node, (ast.Assign, ast.Output, ast.Return)):
                    values = node.values if isinstance(node, ast.Return) else (node.value,)
                    for value in values:
                        names.update(n.func.id for n in ast.walk(value) if isinstance(n, ast.Call))
    return names


def _core_and_graph_only(path: Path) -> bool:
    module = parse_file(path)
    lookup("add")  # loads the operator families
    known = {n for n, op in REGISTRY.items() if op.family in ("core", "graph")}
    blocks = {b.name.id for b in module.blocks}
    return _callees(module) <= known | blocks | {"point"}


CORE_SPECS = sorted(p.name for p in SPECS.glob("*.geo") if _core_and_graph_only(p))


def test_egnn_and_deepsets_are_core_specs() -> None:
    assert {"egnn.geo", "deepsets.geo"} <= set(CORE_SPECS)


@pytest.mark.parametrize("name", CORE_SPECS)
def test_builtin_spec_passes(name: str) -> None:
    graph = frontend(SPECS / name, verify=True)
    assert graph.outputs


EGNN = (SPECS / "egnn.geo").read_text()

GOOD_VARIANTS = {
    # EGNN on a given graph, permutations only: points are plain numbers there.
    "egnn_on_graph": EGNN.replace("E(3) x S(nodes)", "S(nodes)").replace(
        "pointcloud(nodes, dim=3, edges=full)", "graph(nodes)"
    ),
    "egnn_knn": EGNN.replace("edges=full", "edges=knn(8)"),
    "egnn_radius": EGNN.replace("edges=full", "edges=radius(2.5)"),
    "egnn_e3_only": EGNN.replace("E(3) x S(nodes)", "E(3)"),
    "tanh_on_pseudoscalars": """model M() {
    symmetry O(3)
    input a: 4 x pseudoscalar
    output y: 4 x pseudoscalar = act(a, tanh)
}""",
    "relu_on_pseudoscalars_under_so3": """model M() {
    symmetry SO(3)
    input a: 4 x pseudoscalar
    output y: 4 x pseudoscalar = act(a, relu)
}""",
    "pseudoscalar_times_vector": """model M() {
    symmetry O(3)
    input a: 2 x pseudoscalar
    input v: 2 x vector
    p = a * v
    output y: 2 x pseudovector = p
    output z: 2 x pseudoscalar = dot(v, p)
}""",
    "dot_vector_pseudovector": """model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input w: pseudovector over nodes
    r = x[dst] - x[src]
    output y: pseudoscalar over edges = dot(r, w[src])
}""",
    "mean_of_points_over_nodes": """model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output centre: point(3) = mean(x, over=nodes)
    output centred: vector over nodes = x - mean(x, over=nodes)
}""",
    "linear_scalars_to_pseudoscalar_under_so3": """model M() {
    symmetry SO(3)
    input s: 16 x scalar
    output p: pseudoscalar = linear(s, pseudoscalar)
}""",
    "deepsets_concat_broadcast": """model DeepSetsConcat(features: int = 8, hidden: int = 32) {
    symmetry S(set)
    domain   set(set)
    input x: features x scalar over set
    g = mean(x, over=set)
    h = act(linear(concat(x, g), hidden x scalar), relu)
    h = act(h + linear(max(h, over=set), hidden x scalar), relu)
    output y: scalar = mlp(sum(h, over=set), [hidden, 1])
}""",
    "vectors_gated_by_invariants": """model M(hidden: int = 16) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=knn(4))
    input x: point(3) over nodes
    input v: 4 x vector over nodes
    s = mlp(concat(norm(v), sqnorm(mean(v, over=nodes))), [hidden, 4])
    w = linear(s * v, 2 x vector) + linear(v, 2 x vector)
    output pos: point(3) over nodes = x + linear(w, vector)
    output best: 2 x scalar = max(norm(w), over=nodes)
}""",
    "point_plus_scaled_displacements": """model M() {
    symmetry SE(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    r = x[src] - x[dst]
    dx = sum(mlp(concat(h[src], sqnorm(r)), [1]) * r, over=edges, into=nodes)
    output y: point(3) over nodes = x + 0.5 * dx - dx
}""",
}


@pytest.mark.parametrize("name", sorted(GOOD_VARIANTS))
def test_good_variant_passes(name: str) -> None:
    graph = frontend(GOOD_VARIANTS[name], verify=True)
    assert graph.outputs


def test_pseudoscalar_products_have_the_right_parity() -> None:
    graph = frontend(GOOD_VARIANTS["pseudoscalar_times_vector"])
    assert str(graph.type_of(graph.outputs["y"].value)) == "2 x pseudovector"
    assert str(graph.type_of(graph.outputs["z"].value)) == "2 x pseudoscalar"
