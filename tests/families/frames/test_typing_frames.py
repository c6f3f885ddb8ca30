"""Frames and canonicalisation, typing (docs/language.md, "Frames and canonicalisation"): the
`frame(n)` type, `frame` / `to_frame` / `from_frame`, `canonical { ... }` bodies, and every
diagnostic with its code and caret (``@`` marks where the primary span starts)."""

from __future__ import annotations

import pytest
from helpers import assert_fails_at, assert_type_round_trips, elaborated

from geoc.grammar.formatter import format_source
from geoc.ir import Graph
from geoc.pipeline import frontend

HEAD = """\
model M() {{
    symmetry {group}
    domain pointcloud(points, dim=3)
    input x: point(3) over points
    input f: 4 x scalar over points
    c = mean(x, over=points)
    r = x - c
    v1 = mean(r * norm(r), over=points)
    v2 = mean(r * sqnorm(r), over=points)
    v3 = mean(r * sqnorm(r) * sqnorm(r), over=points)
"""


def spec(body: str, group: str = "E(3) x S(points)") -> str:
    """A point-cloud model with three vectors v1, v2, v3; ``body`` starts on line 11."""
    return HEAD.format(group=group) + body + "\n}\n"


def types(graph: Graph) -> dict[str, str]:
    return {node.id: str(node.out_types[0]) for node in graph.nodes}


# --- the type -----------------------------------------------------------------------------------


def test_frame_is_a_declarable_type_printed_in_the_ir() -> None:
    assert_type_round_trips("frame(3)")
    assert_type_round_trips("frame(3) over points")
    graph = elaborated(spec("    F = frame(v1, v2, v3)\n    y = to_frame(r, F)"))
    seen = types(graph)
    assert seen["F"] == "frame(3)"
    assert seen["y"] == "3 x scalar over points"
    assert '"frame(3)"' in graph.to_json()


def test_frame_of_the_wrong_dimension_is_refused() -> None:
    text = "model M() {\n    symmetry O(3)\n    input F: @frame(2)\n}\n"
    assert_fails_at(text, "GEO309")


def test_frames_refuse_euclidean_arithmetic() -> None:
    assert_fails_at(spec("    F = frame(v1, v2, v3)\n    G = @F + F"), "GEO320")
    assert_fails_at(spec("    F = frame(v1, v2, v3)\n    G = linear(@F, 9 x scalar)"), "GEO321")


# --- frame(...) ---------------------------------------------------------------------------------


def test_gram_schmidt_frame_is_accepted_under_reflections() -> None:
    graph = elaborated(
        spec("    output y: 3 x scalar over points = to_frame(r, frame(v1, v2, v3))")
    )
    assert str(graph.outputs["y"].type) == "3 x scalar over points"


def test_per_point_frames() -> None:
    body = "    u = r * norm(r)\n    F = frame(r, u, r * sqnorm(r))\n    y = to_frame(f, F)"
    seen = types(elaborated(spec(body)))
    assert seen["F"] == "frame(3) over points" and seen["y"] == "4 x scalar over points"


@pytest.mark.parametrize("group", ["E(3) x S(points)", "O(3) x S(points)"])
def test_cross_product_frame_is_refused_with_reflections(group: str) -> None:
    error = assert_fails_at(spec("    F = @frame(v1, v2)", group), "GEO460")
    assert "give a third vector, or declare SO(3)/SE(3)" in error.render()


@pytest.mark.parametrize("group", ["SE(3) x S(points)", "SO(3) x S(points)"])
def test_cross_product_frame_is_accepted_without_reflections(group: str) -> None:
    graph = frontend(
        spec("    output y: 3 x scalar over points = to_frame(r, frame(v1, v2))", group)
    )
    assert str(graph.outputs["y"].type) == "3 x scalar over points"


def test_frame_needs_vectors() -> None:
    assert_fails_at(spec("    F = frame(@x, v2, v3)"), "GEO380")  # a point
    assert_fails_at(spec("    F = @frame(v1)"), "GEO380")  # too few
    assert_fails_at(spec("    F = frame(v1, v2, @f)"), "GEO380")  # scalars
    assert_fails_at(spec("    F = frame(v1, v2, @concat(v3, v3))"), "GEO380")  # two copies


# --- to_frame, from_frame ----------------------------------------------------------------------


def test_to_frame_reads_vectors_scalars_and_irreps() -> None:
    body = (
        "    F = frame(v1, v2, v3)\n"
        "    s = spherical_harmonics(r, lmax=2)\n"
        "    y = to_frame(concat(f, r, s), F)\n"
        "    z = from_frame(y, F, 4 x scalar + vector + 1x0e + 1x1o + 1x2e)"
    )
    seen = types(elaborated(spec(body)))
    assert seen["y"] == "16 x scalar over points"
    assert seen["z"] == "4 x scalar + vector + 1x0e + 1x1o + 1x2e over points"


def test_to_frame_of_a_point_needs_an_origin() -> None:
    error = assert_fails_at(spec("    y = to_frame(@x, frame(v1, v2, v3))"), "GEO381")
    assert "to_frame(x - o, F)" in error.render()


def test_to_frame_needs_a_frame() -> None:
    assert_fails_at(spec("    y = to_frame(r, @v1)"), "GEO383")
    body = "    G = frame(r, r * norm(r), r * sqnorm(r))\n    y = to_frame(v1, @G)"
    assert_fails_at(spec(body), "GEO383")  # a frame per point for a global value


def test_from_frame_checks_the_size_and_invariance() -> None:
    body = "    F = frame(v1, v2, v3)\n    z = from_frame(@f, F, vector)"
    assert_fails_at(spec(body), "GEO382")  # 4 channels for 3
    body = "    F = frame(v1, v2, v3)\n    z = from_frame(@r, F, vector)"
    assert_fails_at(spec(body), "GEO382")  # a vector is no coordinates


# --- canonical { ... } --------------------------------------------------------------------------

CANONICAL = """\
    F = frame(v1, v2, v3)
    y = to_frame(r, F)
    canonical {
        v = linear(y, 2 x vector)
        h = mlp(concat(v, y), [16, 16], act=relu)
        s = act(v, sin)
        g = max(h, over=points)
    }
    output o: 16 x scalar = g
    output q: 6 x scalar over points = s"""


def test_canonical_body_accepts_non_equivariant_operators() -> None:
    graph = frontend(spec(CANONICAL))
    seen = types(graph)
    assert seen["v"] == "6 x scalar over points"  # `2 x vector` of the body: 6 invariants
    assert seen["s"] == "6 x scalar over points"
    assert seen["g"] == "16 x scalar"


def test_the_same_operators_are_refused_outside() -> None:
    assert_fails_at(spec("    h = mlp(@r, [16])"), "GEO401")
    assert_fails_at(spec("    s = act(@r, sin)"), "GEO402")


@pytest.mark.parametrize(
    ("read", "what"),
    [("r", "a vector"), ("x", "a point"), ("F", "the frame"), ("h2", "irreps")],
)
def test_canonical_body_refuses_non_invariant_reads(read: str, what: str) -> None:
    body = (
        "    F = frame(v1, v2, v3)\n    h2 = spherical_harmonics(r, lmax=2)\n"
        f"    canonical {{\n        h = mlp(@{read}, [8])\n    }}"
    )
    error = assert_fails_at(spec(body), "GEO461")
    assert "to_frame(" in error.render()


def test_canonical_reads_each_value_under_the_group_it_has() -> None:
    """With `breaks E(3) by at`, the broken `at` is typed without rotations, so a body may read
    it; the unbroken `r` still rotates under the declared E(3), so reading it is GEO461."""
    broken = "    breaks E(3) by at\n    at = x - c\n"
    body = "    canonical {\n        h = mlp(concat(at, f), [8])\n    }\n"
    out = "    output o: 8 x scalar over points = h"
    graph = frontend(spec(broken + body + out))
    assert str(graph.outputs["o"].type) == "8 x scalar over points"
    refused = broken + "    canonical {\n        h = mlp(concat(@r, f), [8])\n    }"
    assert_fails_at(spec(refused), "GEO461")


def test_invariant_outside_values_may_be_read() -> None:
    body = "    canonical {\n        h = mlp(concat(f, sqnorm(r)), [8])\n    }"
    body = body.replace("sqnorm(r)", "n")
    graph = frontend(
        spec("    n = sqnorm(r)\n" + body + "\n    output o: 8 x scalar over points = h")
    )
    assert str(graph.outputs["o"].type) == "8 x scalar over points"


def test_a_block_called_in_the_body_is_typed_without_rotations() -> None:
    text = (
        "block head(y: vector over points) -> vector over points {\n"
        "    return act(y, sin)\n"
        "}\n"
        + spec(
            "    y = to_frame(r, frame(v1, v2, v3))\n    canonical {\n        z = head(y)\n"
            "    }\n    output o: 3 x scalar over points = z"
        )
    )
    graph = frontend(text)
    assert str(graph.outputs["o"].type) == "3 x scalar over points"


def test_canonical_statement_errors() -> None:
    nested = "    canonical {\n        @canonical {\n        }\n    }"
    assert_fails_at(spec(nested), "GEO384")
    declared = "    canonical {\n        @output o: scalar = sum(f, over=points)\n    }"
    assert_fails_at(spec(declared), "GEO116")
    text = (
        "model M() {\n    symmetry Lorentz(3)\n    input p: vector\n"
        "    @canonical {\n        h = mdot(p, p)\n    }\n}\n"
    )
    assert_fails_at(text, "GEO384")


def test_manifold_values_cannot_leave_the_body() -> None:
    body = (
        "    n = sqnorm(r)\n    canonical {\n"
        "        z = expmap0(linear(n, 2 x scalar), manifold=@lorentz(2, k=1.0))\n    }"
    )
    assert_fails_at(spec(body), "GEO462")


def test_the_formatter_keeps_canonical_bodies() -> None:
    text = spec(CANONICAL)
    once = format_source(text)
    assert "    canonical {\n        v = linear(y, 2 x vector)\n" in once
    assert format_source(once) == once
    assert (
        format_source("model M() {\n    canonical {}\n}\n") == "model M() {\n    canonical {}\n}\n"
    )


def test_the_builder_writes_canonical_bodies() -> None:
    from geoc.builder import Builder

    b = Builder("M")
    b.symmetry("E(3) x S(points)")
    b.domain("pointcloud(points, dim=3)")
    x = b.input("x", "point(3) over points")
    r = b.let("r", x - b.call("mean", x, over="points"))
    v1 = b.let("v1", b.call("mean", r * b.call("norm", r), over="points"))
    v2 = b.let("v2", b.call("mean", r * b.call("sqnorm", r), over="points"))
    v3 = b.let("v3", b.call("mean", r * b.call("sqnorm", b.call("sqnorm", r)), over="points"))
    y = b.let("y", b.call("to_frame", r, b.call("frame", v1, v2, v3)))
    with b.canonical():
        h = b.let("h", b.call("mlp", b.call("linear", y, "vector"), [4]))
    b.output("o", "4 x scalar over points", h)
    graph = b.build()
    assert types(graph)["h"] == "4 x scalar over points"
    assert "canonical {" in b.source()
    assert types(frontend(b.source()))["h"] == "4 x scalar over points"


def test_from_frame_to_a_point_is_refused_at_the_type() -> None:
    body = "    F = frame(v1, v2, v3)\n    z = from_frame(to_frame(r, F), F, @point(3))"
    assert_fails_at(spec(body), "GEO382")


def test_canonical_is_refused_on_a_grid() -> None:
    text = (
        "model M() {\n    symmetry SO(3)\n    domain sphere(nlat=8, nlon=16)\n"
        "    input u: scalar over sphere\n    @canonical {\n        v = act(u, relu)\n    }\n}\n"
    )
    assert_fails_at(text, "GEO384")
