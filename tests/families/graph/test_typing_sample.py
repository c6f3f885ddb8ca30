"""Sampled axes (docs/language.md, "Sampled axes"): the typing of `domain sample(...)` and of
`x[from(centres)]`, and every diagnostic with its code and caret (``@`` marks where the primary
span starts)."""

from __future__ import annotations

from helpers import assert_fails_at, elaborated

from geoc.domains import DomainKind
from geoc.ir import Graph

DOMAINS = """\
    domain pointcloud(points, dim=3)
    domain sample(centres, from=points, rule=fps(4))
    domain edges(near, src=points, dst=centres, rule=knn(2))"""

PORTS = """\
    input x: point(3) over points
    input f: 4 x scalar over points"""


def spec(body: str, domains: str = DOMAINS, ports: str = PORTS, group: str = "") -> str:
    """A model over points and sampled centres; ``body`` starts on line 8."""
    symmetry = group or "symmetry E(3) x S(points)"
    return f"model M() {{\n    {symmetry}\n{domains}\n{ports}\n{body}\n}}\n"


GATHER = "    output y: point(3) over centres = x[from(centres)]"
CLOUD = "    domain pointcloud(points, dim=3)\n"


def sampled(rule: str, parent: str = "from=points") -> str:
    return f"{CLOUD}    domain sample(centres, {parent}, rule={rule})"


def test_a_sampled_axis_is_a_derived_point_cloud() -> None:
    graph = elaborated(
        spec(
            "    c = x[from(centres)]\n"
            "    r = x[src(near)] - c[dst(near)]\n"
            "    h = max(concat(f[src(near)], sqnorm(r)), over=near, into=centres)\n"
            "    output y: 5 x scalar over centres = h\n"
            "    output p: point(3) over centres = c"
        )
    )
    seen = {node.id: str(node.out_types[0]) for node in graph.nodes}
    assert seen["c"] == "point(3) over centres"
    assert seen["r"] == "vector over near"
    assert [d.kind for d in graph.domains][1] is DomainKind.SAMPLE
    sample = graph.domains[1]
    assert str(sample) == "sample(centres, from=points, rule=fps(4))"
    assert "centres" not in graph.more_positions  # derived, not an input


def test_sampling_chains_and_round_trips_through_json() -> None:
    domains = DOMAINS + "\n    domain sample(coarse, from=centres, rule=fps(2, tol=0.001))"
    graph = elaborated(
        spec("    output y: point(3) over coarse = x[from(centres)][from(coarse)]", domains)
    )
    assert str(graph.domains[3]) == "sample(coarse, from=centres, rule=fps(2, tol=0.001))"
    again = Graph.from_json(graph.to_json())
    assert again.domains == graph.domains


def test_the_parent_must_be_declared_before() -> None:
    domains = sampled("fps(4)", "from=@nowhere")
    assert_fails_at(spec(GATHER, domains), "GEO214")


def test_the_parent_must_be_named() -> None:
    domains = "    domain pointcloud(points, dim=3)\n    domain @sample(centres, rule=fps(4))"
    assert_fails_at(spec(GATHER, domains), "GEO214")


def test_the_parent_must_have_positions() -> None:
    domains = "    domain set(points)\n    domain sample(centres, from=@points, rule=fps(4))"
    ports = "    input f: 4 x scalar over points"
    body = "    output y: 4 x scalar over centres = f[from(centres)]"
    assert_fails_at(spec(body, domains, ports, group="symmetry S(points)"), "GEO373")


def test_bad_rules() -> None:
    for rule in ("@knn(4)", "fps(@0)", "fps(@2.5)", "@fps()"):
        domains = sampled(rule)
        assert_fails_at(spec(GATHER, domains), "GEO372")
    domains = sampled("fps(4, tol=@2)")
    assert_fails_at(spec(GATHER, domains), "GEO372")


def test_a_ratio_is_not_built() -> None:
    domains = sampled("fps(@ratio=0.5)")
    assert_fails_at(spec(GATHER, domains), "GEO515")


def test_no_input_lies_over_a_sampled_axis() -> None:
    ports = PORTS + "\n    @input c: point(3) over centres"
    assert_fails_at(spec(GATHER, ports=ports), "GEO374")


def test_a_sampled_axis_is_not_permuted() -> None:
    assert_fails_at(spec(GATHER, group="@symmetry E(3) x S(points) x S(centres)"), "GEO480")


def test_sampling_needs_a_group_that_keeps_distances() -> None:
    """No built group moves points without keeping distances (Lorentz(n) takes no points:
    GEO330), so GEO481 guards a future factor: a stand-in group that does not keep them."""
    import pytest

    from geoc.diagnostics import GeoError
    from geoc.domains import Domain, sample

    class Stretching:
        permuted_axes = ("points",)

        def keeps_norm(self, atom: object) -> bool:
            return False

    domain = Domain.parse("sample(centres, from=points, rule=fps(4))")
    with pytest.raises(GeoError) as info:
        sample.check_symmetry(Stretching(), domain, None)
    assert info.value.codes == ["GEO481"]


def test_take_needs_a_sampled_axis() -> None:
    assert_fails_at(spec("    output y: point(3) over near = @x[from(near)]"), "GEO215")


def test_take_needs_a_value_over_the_parent() -> None:
    body = "    c = x[from(centres)]\n    output y: point(3) over centres = c[from(@centres)]"
    error = assert_fails_at(spec(body.replace("c[from(@centres)]", "@c[from(centres)]")), "GEO305")
    assert "over `points`" in error.render()


def test_a_sampled_axis_is_never_the_first_domain() -> None:
    """Its parent must come before it: alone, or declared first, it has none (GEO214)."""
    ports = "    input x: point(3) over points"
    alone = "    domain sample(centres, from=@points, rule=fps(4))"
    first = f"{alone}\n    domain pointcloud(points, dim=3)"
    assert_fails_at(spec(GATHER, first, ports), "GEO214")
    body = "    output y: point(3) over centres = x"
    assert_fails_at(spec(body, alone, "    input x: point(3) over centres"), "GEO214")


def test_a_sampled_axis_is_not_its_own_parent() -> None:
    domains = f"{CLOUD}    domain sample(centres, from=@centres, rule=fps(4))"
    assert_fails_at(spec(GATHER, domains), "GEO214")


def test_take_names_its_sampled_axis() -> None:
    error = assert_fails_at(spec("    output y: point(3) over centres = @x[from]"), "GEO215")
    assert "x[from(centres)]" in error.render()
