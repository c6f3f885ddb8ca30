"""Typing of Poincaré ResNet's operators (`poincare_conv`, `poincare_midpoint_batch_norm`,
`poincare_midpoint`): their results over a torus and a non-periodic grid, and every error with
its code and the span it points at."""

from __future__ import annotations

import pytest
from helpers import assert_fails_at, checked_type

# The statements under test start on line 6.
FIELD = """model F(dim: int = 4) {{
    symmetry {group}
    domain {domain}
    input a: dim x scalar over {axis}
    h = expmap0(a, manifold=poincare(dim, c=0.5))
{body}
}}
"""
TORUS = {"group": "T(2)", "domain": "torus(6, 8)", "axis": "torus"}
GRID = {"group": "trivial", "domain": "grid(5, 7, boundary=zero)", "axis": "grid"}
TAIL = "\n    output o: dim x scalar over {axis} = a"


def _spec(body: str, where: dict[str, str] = TORUS) -> str:
    return FIELD.format(body=(body + TAIL).format(**where), **where)


@pytest.mark.parametrize("where", [TORUS, GRID], ids=["torus", "grid"])
@pytest.mark.parametrize(
    ("expr", "typed"),
    [
        ("poincare_conv(h, 6, kernel=3)", "poincare(6, c=0.5) over {axis}"),
        ("poincare_conv(h, 2, kernel=[5, 1])", "poincare(2, c=0.5) over {axis}"),
        ("poincare_midpoint_batch_norm(h)", "poincare(4, c=0.5) over {axis}"),
        (
            "poincare_midpoint_batch_norm(h, bias=false, momentum=1.0)",
            "poincare(4, c=0.5) over {axis}",
        ),
        ("poincare_midpoint(h, over={axis})", "poincare(4, c=0.5)"),
        ("poincare_midpoint(concat(h, h))", "poincare(4, c=0.5) over {axis}"),
    ],
)
def test_types_over_flat_grids(expr: str, typed: str, where: dict[str, str]) -> None:
    text = _spec(f"    y = {expr}", where)
    assert checked_type(text) == typed.format(**where)


def test_midpoint_and_batch_norm_of_points_over_a_set() -> None:
    text = """model S() {
    symmetry S(set)
    domain set(set)
    input a: 3 x scalar over set
    h = expmap0(a, manifold=poincare(3))
    y = poincare_midpoint_batch_norm(h)
    output g: poincare(3, c=1.0) = poincare_midpoint(y, over=set)
}
"""
    assert checked_type(text) == "poincare(3, c=1.0) over set"
    assert checked_type(text, "g") == "poincare(3, c=1.0)"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("    y = @poincare_conv(h, 4, kernel=2)", "GEO316"),  # even: no centre
        ("    y = @poincare_conv(h, 4, kernel=7)", "GEO316"),  # larger than the 6-point side
        ("    y = @poincare_conv(h, 4, kernel=[3, 3, 3])", "GEO316"),  # one per dimension
        ("    y = @poincare_conv(h, 0)", "GEO324"),
        ("    y = poincare_conv(@a, 4)", "GEO322"),  # Euclidean
        ("    y = poincare_conv(@concat(h, h), 4)", "GEO323"),  # two points per grid point
        ("    y = poincare_conv(@expmap0(a, manifold=lorentz(4)), 4)", "GEO322"),
        ("    y = poincare_midpoint_batch_norm(h, momentum=@0.0)", "GEO332"),
        ("    y = poincare_midpoint_batch_norm(h, momentum=@1.5)", "GEO332"),
        ("    y = poincare_midpoint_batch_norm(@a)", "GEO322"),
        ("    y = @poincare_midpoint(h, into=torus)", "GEO203"),
        ("    y = poincare_midpoint(@h, over=set)", "GEO203"),
        ("    y = poincare_midpoint(@expmap0(a, manifold=lorentz(4)), over=torus)", "GEO322"),
        ("    y = poincare_conv(h, 4, @stride=2)", "GEO304"),  # no stride: one resolution
    ],
)
def test_errors_point_at_the_cause(body: str, code: str) -> None:
    assert_fails_at(_spec(body), code)


def test_conv_of_a_value_that_is_no_field_is_geo315() -> None:
    text = """model S() {
    symmetry S(set)
    domain set(set)
    input a: 3 x scalar over set
    h = expmap0(a, manifold=poincare(3))
    output y: poincare(3, c=1.0) over set = poincare_conv(@h, 3)
}
"""
    assert_fails_at(text, "GEO315")


def test_batch_norm_over_edges_is_geo353() -> None:
    text = """model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input a: 3 x scalar over edges
    h = expmap0(a, manifold=poincare(3))
    output y: poincare(3, c=1.0) over edges = poincare_midpoint_batch_norm(@h)
}
"""
    assert_fails_at(text, "GEO333")


def test_rotations_of_the_ball_are_geo410() -> None:
    """Learned directions and a bias point in fixed coordinates do not rotate with the ball."""
    text = """model R() {
    symmetry SO(3) x S(set)
    domain set(set)
    input v: vector over set
    h = expmap0(v, manifold=poincare(3))
    output y: poincare(3, c=1.0) over set = poincare_midpoint_batch_norm(@h)
}
"""
    assert_fails_at(text, "GEO410")


def test_two_points_per_grid_point_name_the_midpoint() -> None:
    error = assert_fails_at(_spec("    y = poincare_conv(@concat(h, h), 4)"), "GEO323")
    assert "poincare_midpoint(x)" in error.diagnostics[0].help
