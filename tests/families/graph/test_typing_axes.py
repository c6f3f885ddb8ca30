"""Models over several axes (docs/language.md, "Several axes"): the typing of gathers and
reductions over edge sets between axes, and every diagnostic of the declarations (code and
primary span: ``@`` marks where it starts)."""

from __future__ import annotations

import pytest
from helpers import assert_fails_at, elaborated

from geoc.domains import DomainKind
from geoc.ir import Graph

DOMAINS = """\
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=knn(2))"""

PORTS = """\
    input x: point(3) over points
    input f: 4 x scalar over points
    input c: point(3) over centres"""


def spec(body: str, domains: str = DOMAINS, ports: str = PORTS, group: str = "") -> str:
    """A model over points and centres; ``body`` starts on line 9."""
    symmetry = group or "E(3) x S(points) x S(centres)"
    return f"model M() {{\n    symmetry {symmetry}\n{domains}\n{ports}\n{body}\n}}\n"


def types(graph: Graph) -> dict[str, str]:
    return {node.id: str(node.out_types[0]) for node in graph.nodes}


def test_gathers_and_reductions_are_typed_by_their_edge_set() -> None:
    graph = elaborated(
        spec(
            "    r = x[src(near)] - c[dst(near)]\n"
            "    m = concat(f[src(near)], sqnorm(r))\n"
            "    output y: 5 x scalar over centres = sum(m, over=near, into=centres)\n"
            "    output p: 5 x scalar = mean(m, over=near)"
        )
    )
    seen = types(graph)
    assert seen["r"] == "vector over near"
    assert seen["m"] == "4 x scalar + scalar over near"
    assert str(graph.outputs["y"].type) == "5 x scalar over centres"
    assert [d.kind for d in graph.domains] == [
        DomainKind.POINTCLOUD,
        DomainKind.POINTCLOUD,
        DomainKind.EDGES,
    ]
    assert graph.more_positions == {"centres": "c"} and graph.positions == "x"


def test_ir_round_trips_through_json_with_several_domains() -> None:
    graph = elaborated(
        spec("    output y: 4 x scalar over centres = max(f[src(near)], over=near, into=centres)")
    )
    again = Graph.from_json(graph.to_json())
    assert again.domains == graph.domains and again.more_positions == graph.more_positions
    assert again.to_json() == graph.to_json()


def test_an_edge_set_within_one_axis_and_full_edges_between_sets() -> None:
    domains = (
        "    domain set(a)\n    domain set(b)\n"
        "    domain edges(ab, src=a, dst=b, rule=full)\n"
        "    domain edges(aa, src=a, dst=a, rule=full)"
    )
    ports = "    input u: 2 x scalar over a\n    input v: 3 x scalar over b"
    body = (
        "    w = sum(concat(u[src(ab)], v[dst(ab)]), over=ab, into=b)\n"
        "    output y: 2 x scalar over a = u + mean(u[src(aa)], over=aa, into=a)"
    )
    graph = elaborated(spec(body, domains, ports, group="S(a) x S(b)"))
    assert types(graph)["w"] == "2 x scalar + 3 x scalar over b"


ERRORS = [
    # a gather from the wrong axis: `c` is over centres, `src(near)` reads points
    ("    r = @c[src(near)]", "GEO305"),
    # an unknown edge set
    ("    r = @x[src(far)]", "GEO203"),
    # reducing into the wrong axis (near scatters onto centres)
    ("    r = @sum(f[src(near)], over=near, into=points)", "GEO203"),
    # an index that is neither an end nor `src(E)` / `dst(E)`
    ("    r = x[@near]", "GEO200"),
    ("    r = x[@src(near, 2)]", "GEO200"),
    # a graph may have no centre: the mean of none would be 0, not a point
    ("    r = mean(@c, over=centres)", "GEO404"),
    # an output over an edge set between axes is not built yet
    ("    @output y: 4 x scalar over near = f[src(near)]", "GEO510"),
]


@pytest.mark.parametrize(("body", "code"), ERRORS)
def test_misuses_of_an_edge_set(body: str, code: str) -> None:
    assert_fails_at(spec(body), code)


DECLARATIONS = [
    # the same axis twice
    (
        "    domain set(points)\n    domain set(@points)",
        "    input f: scalar over points",
        "GEO209",
    ),
    # an edge set may not take the primary's `edges`
    (
        "    domain pointcloud(points, dim=3)\n    domain set(c)\n"
        "    domain edges(@edges, src=points, dst=c, rule=full)",
        "    input x: point(3) over points\n    input f: scalar over c",
        "GEO209",
    ),
    # knn between axes measures distances: a set has no positions
    (
        "    domain pointcloud(points, dim=3)\n    domain set(c)\n"
        "    domain edges(near, src=points, dst=@c, rule=knn(2))",
        "    input x: point(3) over points\n    input f: scalar over c",
        "GEO204",
    ),
    # an edge set from an axis nobody declares
    (
        "    domain pointcloud(points, dim=3)\n    domain set(c)\n"
        "    domain edges(near, src=@nowhere, dst=c, rule=full)",
        "    input x: point(3) over points\n    input f: scalar over c",
        "GEO203",
    ),
    # a further point cloud has no edges of its own
    (
        "    domain pointcloud(points, dim=3)\n    domain pointcloud(c, dim=3, @edges=knn(2))",
        "    input x: point(3) over points\n    input y: point(3) over c",
        "GEO204",
    ),
    # every point cloud lives in one space
    (
        "    domain pointcloud(points, dim=3)\n    domain @pointcloud(c, dim=2)",
        "    input x: point(3) over points\n    input y: point(2) over c",
        "GEO204",
    ),
    # a grid as a further domain is not built yet
    (
        "    domain pointcloud(points, dim=3)\n    domain @torus(8, 8)",
        "    input x: point(3) over points",
        "GEO510",
    ),
    # a second graph (edges given as an input) is not built yet
    (
        "    domain pointcloud(points, dim=3)\n    domain @graph(g)",
        "    input x: point(3) over points\n    input y: scalar over g",
        "GEO510",
    ),
    # the first domain declares a node axis
    (
        "    domain @edges(near, src=a, dst=b, rule=full)\n    domain set(a)",
        "    input f: scalar over a",
        "GEO204",
    ),
]


@pytest.mark.parametrize(("domains", "ports", "code"), DECLARATIONS)
def test_bad_declarations(domains: str, ports: str, code: str) -> None:
    assert_fails_at(spec("", domains, ports, group="E(3)"), code)


def test_an_axis_without_inputs_has_no_length() -> None:
    text = spec("", "    domain set(a)\n    domain set(b)", "    input u: scalar over a", "S(a)")
    assert_fails_at(text.replace("model M()", "model @M()"), "GEO204")


def test_a_permutation_of_an_undeclared_axis() -> None:
    assert_fails_at(spec("", group="E(3) x S(points) x @S(others)"), "GEO406")


def test_edges_between_axes_are_permuted_with_their_ends_only() -> None:
    assert_fails_at(spec("", group="E(3) x S(points) x @S(near)"), "GEO406")


def test_a_pooled_mean_of_primary_points_is_still_a_point() -> None:
    graph = elaborated(spec("    output m: point(3) = mean(x, over=points)"))
    assert str(graph.outputs["m"].type) == "point(3)"


def test_tp_conv_runs_on_the_primary_edges_only() -> None:
    body = (
        "    r = x[src(near)] - c[dst(near)]\n"
        "    sh = spherical_harmonics(r, lmax=1)\n"
        "    w = radial_basis(norm(r), n=4, cutoff=2.0)\n"
        "    y = tp_conv(linear(f, 4x0e), @sh, w, out=4x0e)"
    )
    assert_fails_at(spec(body), "GEO305")
