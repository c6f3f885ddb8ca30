"""Typing rules of the graph operators (gather, scatter, pooling) on each kind of domain: output
types on good inputs, and each error's code and primary span (``@`` marks where it starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import cases, values
from helpers import InlineSpec, assert_fails_at, header

HERE = Path(__file__).parent

CLOUD = "pointcloud(nodes, dim=3, edges=full)"

# The statement under test is on line 9.
HEADER = header("", values(HERE / "test_typing_graph.cases", "header graph"))
SET_HEADER = header("", values(HERE / "test_typing_graph.cases", "header set"))


SPECS = {
    "graph": InlineSpec(HEADER, "E(3) x S(nodes)", CLOUD),
    "set": InlineSpec(SET_HEADER, "S(set)", "set(set)"),
}
assert_error = assert_fails_at


def by_kind(table: str) -> list[tuple[str, ...]]:
    """The cases of ``table`` (a section per kind of domain, ``[table kind]``), each led by its
    kind."""
    path = HERE / "test_typing_graph.cases"
    return [(kind, *row) for kind in SPECS for row in cases(path, f"{table} {kind}")]


@pytest.mark.parametrize(("kind", "expr", "expected"), by_kind("output_types"))
def test_output_type(kind: str, expr: str, expected: str) -> None:
    assert SPECS[kind].infer(expr) == expected


@pytest.mark.parametrize(
    "domain",
    values(HERE / "test_typing_graph.cases", "every_edge_rule_has_an_edge_axis"),
)
def test_every_edge_rule_has_an_edge_axis(domain: str) -> None:
    assert SPECS["graph"].infer("h[src]", domain=domain) == "4 x scalar over edges"


@pytest.mark.parametrize(("kind", "body", "code"), by_kind("errors"))
def test_error(kind: str, body: str, code: str) -> None:
    assert_error(SPECS[kind].text(body), code)


def test_gather_without_edges_names_the_domain() -> None:
    err = assert_error(SPECS["set"].text("    y = @s[src]"), "GEO203")
    assert "`set(set)` has none" in err.diagnostics[0].message
    assert "graph(nodes)" in err.diagnostics[0].help
