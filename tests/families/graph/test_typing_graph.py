"""Typing rules of the graph operators (gather, scatter, pooling) on each kind of domain: output
types on good inputs, and each error's code and primary span (``@`` marks where it starts)."""

from __future__ import annotations

import pytest
from helpers import InlineSpec, assert_fails_at

CLOUD = "pointcloud(nodes, dim=3, edges=full)"

# The statement under test is on line 9.
HEADER = """model M() {{
    symmetry {group}
    domain   {domain}
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    input v: 2 x vector over nodes
    input g: 4 x scalar
    input e: 2 x scalar over edges
"""
SET_HEADER = """model M() {{
    symmetry {group}
    domain   {domain}
    input s: 8 x scalar over set
    input g: 4 x scalar
    input t: 8 x scalar over set
    input u: 8 x scalar over set
    input w: 8 x scalar over set
"""


SPECS = {
    "graph": InlineSpec(HEADER, "E(3) x S(nodes)", CLOUD),
    "set": InlineSpec(SET_HEADER, "S(set)", "set(set)"),
}
assert_error = assert_fails_at


def cases(table: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str]]:
    """The rows of ``table`` (a list of cases per kind of domain), each led by its kind."""
    return [(kind, *row) for kind, rows in table.items() for row in rows]


OUTPUT_TYPES = {
    "graph": [
        # gather: node values onto edges
        ("x[src]", "point(3) over edges"),
        ("h[dst]", "4 x scalar over edges"),
        ("v[src]", "2 x vector over edges"),
        # scatter: edge values onto the node axis (into = dst)
        ("sum(h[src], over=edges, into=nodes)", "4 x scalar over nodes"),
        ("mean(v[src], over=edges, into=nodes)", "2 x vector over nodes"),
        ("max(e, over=edges, into=nodes)", "2 x scalar over nodes"),
        ("sum(x[dst] - x[src], over=edges, into=nodes)", "vector over nodes"),
        # pooling: an axis goes away
        ("sum(h, over=nodes)", "4 x scalar"),
        ("mean(v, over=nodes)", "2 x vector"),
        ("mean(x, over=nodes)", "point(3)"),
        ("max(h, over=nodes)", "4 x scalar"),
        ("max(norm(v), over=nodes)", "2 x scalar"),
        ("sum(e, over=edges)", "2 x scalar"),
        # pooled values broadcast back along the axis
        ("h + mean(h, over=nodes)", "4 x scalar over nodes"),
        ("concat(h[src], g)", "4 x scalar + 4 x scalar over edges"),
        ("x + mean(x[src] - x[dst], over=edges, into=nodes)", "point(3) over nodes"),
    ],
    "set": [
        ("mean(s, over=set)", "8 x scalar"),
        ("max(s, over=set)", "8 x scalar"),
        ("s + max(s, over=set)", "8 x scalar over set"),
        ("concat(s, sum(t, over=set))", "8 x scalar + 8 x scalar over set"),
    ],
}


@pytest.mark.parametrize(("kind", "expr", "expected"), cases(OUTPUT_TYPES))
def test_output_type(kind: str, expr: str, expected: str) -> None:
    assert SPECS[kind].infer(expr) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "graph(nodes)",
        "pointcloud(nodes, dim=3, edges=knn(4))",
        "pointcloud(nodes, dim=3, edges=radius(2.5))",
        "pointcloud(nodes)",
    ],
)
def test_every_edge_rule_has_an_edge_axis(domain: str) -> None:
    assert SPECS["graph"].infer("h[src]", domain=domain) == "4 x scalar over edges"


ERRORS = {
    "graph": [
        ("    y = x[@foo]", "GEO200"),
        ("    y = x[@0]", "GEO200"),
        ("    y = @h[src][dst]", "GEO305"),
        ("    y = @g[src]", "GEO305"),
        ("    y = @e[dst]", "GEO305"),
        ("    y = sum(@h, over=edges)", "GEO203"),
        ("    y = sum(@g, over=nodes)", "GEO203"),
        ("    y = @sum(h, over=nodes, into=nodes)", "GEO203"),
        ("    y = @sum(e, over=edges, into=edges)", "GEO203"),
        ("    y = @sum(h)", "GEO304"),
        ("    y = sum(h, over=nodes, @to=nodes)", "GEO304"),
        ("    y = sum(h, over=@h)", "GEO303"),
        ("    y = h + @e", "GEO305"),
        ("    y = e + @h", "GEO305"),
        ("    y = concat(h, @e)", "GEO305"),
        ("    input q: scalar over @foo", "GEO203"),
    ],
    "set": [
        ("    y = @s[src]", "GEO203"),
        ("    y = sum(@s, over=nodes)", "GEO203"),
        ("    y = @sum(s, over=set, into=set)", "GEO203"),
        ("    input q: scalar over @edges", "GEO203"),
    ],
}


@pytest.mark.parametrize(("kind", "body", "code"), cases(ERRORS))
def test_error(kind: str, body: str, code: str) -> None:
    assert_error(SPECS[kind].text(body), code)


def test_gather_without_edges_names_the_domain() -> None:
    err = assert_error(SPECS["set"].text("    y = @s[src]"), "GEO203")
    assert "`set(set)` has none" in err.diagnostics[0].message
    assert "graph(nodes)" in err.diagnostics[0].help
