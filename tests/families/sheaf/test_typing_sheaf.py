"""Typing rules of the sheaf operators: output types on good inputs, and each error's code and
primary span (``@`` marks where it starts)."""

from __future__ import annotations

import pytest
from helpers import InlineSpec, assert_fails_at, checked_type, header

LINES = [
    "    input h: 8 x scalar over nodes",
    "    input g: 4 x scalar",
    "    input e: 4 x scalar over edges",
]
GRAPH = InlineSpec(header("", LINES), "S(nodes)", "graph(nodes)")
ROTATING = InlineSpec(
    header("", [*LINES, "    input v: 2 x vector over nodes", "    input x: point(3) over nodes"]),
    "E(3) x S(nodes)",
    "pointcloud(nodes, dim=3, edges=knn(3))",
)
MAPS = "restriction_maps(h[dst], h[src], d=2"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (f"{MAPS})", "8 x scalar over edges"),
        (f"{MAPS}, kind=orthogonal)", "8 x scalar over edges"),
        (f"{MAPS}, kind=diag)", "4 x scalar over edges"),
        ("restriction_maps(h[dst], e, d=3)", "18 x scalar over edges"),
        ("restriction_maps(e, e, d=1, kind=diag)", "2 x scalar over edges"),
        (f"sheaf_diffusion(h, {MAPS}), d=2)", "8 x scalar over nodes"),
        (f"sheaf_diffusion(h, {MAPS}, kind=diag), d=2, kind=diag)", "8 x scalar over nodes"),
        ("sheaf_diffusion(h, restriction_maps(h[dst], h[src], d=4), d=4)", "8 x scalar over nodes"),
        ("sheaf_diffusion(h, e, d=2, kind=diag)", "8 x scalar over nodes"),
    ],
)
def test_output_type(expr: str, expected: str) -> None:
    assert GRAPH.infer(expr) == expected


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # maps read values over an edge set
        ("    y = restriction_maps(@h, h, d=2)", "GEO432"),
        ("    y = restriction_maps(h[dst], @h, d=2)", "GEO432"),
        ("    y = restriction_maps(h[dst], @g, d=2)", "GEO432"),
        ("    y = sheaf_diffusion(h, @h, d=2)", "GEO432"),
        # stalk dimension and kind
        ("    y = restriction_maps(h[dst], h[src], d=@1)", "GEO434"),
        ("    y = restriction_maps(h[dst], h[src], d=@0, kind=diag)", "GEO434"),
        ("    y = restriction_maps(h[dst], h[src], d=2, kind=@general)", "GEO435"),
        ("    y = sheaf_diffusion(h, e, d=2, kind=@general)", "GEO435"),
        ("    y = restriction_maps(h[dst], h[src], d=2, kind=@skew)", "GEO302"),
        # stalks over the edges' nodes, widths
        ("    y = sheaf_diffusion(@g, e, d=2, kind=diag)", "GEO436"),
        ("    y = sheaf_diffusion(@h[src], e, d=2, kind=diag)", "GEO436"),
        ("    y = sheaf_diffusion(@h, e, d=3, kind=diag)", "GEO437"),
        ("    y = sheaf_diffusion(h, @e, d=2)", "GEO438"),
        ("    y = sheaf_diffusion(h, @e, d=4, kind=diag)", "GEO438"),
    ],
)
def test_error(body: str, code: str) -> None:
    GRAPH.assert_error(body, code)


TWO_AXES = """model M() {
    symmetry S(a) x S(b)
    domain set(a)
    domain set(b)
    domain edges(ab, src=a, dst=b, rule=full)
    domain edges(aa, src=a, dst=a, rule=full)
    input u: 4 x scalar over a
    input w: 4 x scalar over b
"""


def test_an_edge_set_from_an_axis_to_itself_diffuses_its_stalks() -> None:
    text = TWO_AXES + (
        "    y = sheaf_diffusion(u, restriction_maps(u[dst(aa)], u[src(aa)], d=2), d=2)\n"
        "    output z: 4 x scalar over a = y\n}\n"
    )
    assert checked_type(text) == "4 x scalar over a"


def test_edges_between_two_axes_are_refused() -> None:
    text = TWO_AXES + (
        "    y = sheaf_diffusion(@w, restriction_maps(u[src(ab)], w[dst(ab)], d=2), d=2)\n"
        "    output z: 4 x scalar over b = y\n}\n"
    )
    assert_fails_at(text, "GEO436")


@pytest.mark.parametrize(
    "body",
    [
        "    y = restriction_maps(@v[dst], v[src], d=2)",
        "    y = sheaf_diffusion(@v, e, d=2, kind=diag)",
    ],
)
def test_transforming_channels_are_refused(body: str) -> None:
    ROTATING.assert_error(body, "GEO433")


def test_invariant_channels_under_rotations_are_accepted() -> None:
    """Under E(3) x S(nodes) the stalks of scalars are still invariant: accepted."""
    expr = f"sheaf_diffusion(h, {MAPS}), d=2)"
    assert ROTATING.infer(expr) == "8 x scalar over nodes"
