"""Typing rules of the core operators: output types on good inputs, and each error's code and
primary span. Specs are small and inline; ``@`` marks where the primary span must start."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import cases, values
from helpers import InlineSpec, header, marked

from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

HERE = Path(__file__).parent

E3 = "E(3) x S(nodes)"
CLOUD = "pointcloud(nodes, dim=3, edges=full)"

# Inputs of every test model; the statements under test start on line 11.
HEADER = header("hidden: int = 16", values(HERE / "test_typing_core.cases", "header"))


SPEC = InlineSpec(HEADER, E3, CLOUD)
model, infer, assert_error = SPEC.text, SPEC.infer, SPEC.assert_error


def diagnose(text_with_marker: str, **kwargs: object) -> tuple[GeoError, tuple[int, int]]:
    text, where = marked(text_with_marker)
    with pytest.raises(GeoError) as info:
        frontend(text, **kwargs)  # type: ignore[arg-type]
    return info.value, where


# ---------------------------------------------------------------------------------------------
# Good inputs: exact output types

GOOD = cases(HERE / "test_typing_core.cases", "good")


@pytest.mark.parametrize(("expr", "expected"), GOOD)
def test_output_type(expr: str, expected: str) -> None:
    assert infer(expr) == expected


@pytest.mark.parametrize(
    ("expr", "factor"),
    [("-0.5 * v", -0.5), ("v * -2", -2.0), ("hidden * v", 16.0), ("(1 - 0.25) * v", 0.75)],
)
def test_compile_time_factor_is_the_scale(expr: str, factor: float) -> None:
    """`-0.5 * v` was GEO303 ("0.5 is not a tensor") while `0.5 * v` worked."""
    graph = frontend(model(f"    y = {expr}\n    output w: 2 x vector over nodes = y"))
    (node,) = [n for n in graph.nodes if n.id == "y"]
    assert (node.op, node.attrs) == ("scale", {"factor": factor})


@pytest.mark.parametrize(
    ("expr", "group", "expected"),
    cases(HERE / "test_typing_core.cases", "output_type_depends_on_group"),
)
def test_output_type_depends_on_group(expr: str, group: str, expected: str) -> None:
    assert infer(expr, group) == expected


# ---------------------------------------------------------------------------------------------
# Errors: code and primary span


@pytest.mark.parametrize(
    ("body", "code"),
    cases(HERE / "test_typing_core.cases", "core_error"),
)
def test_core_error(body: str, code: str) -> None:
    assert_error(body, code)


def test_help_suggests_the_close_operator_and_name() -> None:
    err = assert_error("    y = @linaer(h, 4 x scalar)", "GEO201")
    assert "did you mean `linear`?" in err.diagnostics[0].help
    err = assert_error("    y = @hh + h", "GEO200")
    assert "did you mean `h`?" in err.diagnostics[0].help
    err = assert_error("    y = @mlp(h)", "GEO304")
    assert "mlp(x, widths, act, last_act, bias, init, bias_init)" in err.diagnostics[0].help


def test_rendered_error_points_at_the_argument() -> None:
    err = assert_error("    y = h + @v", "GEO307")
    assert "    y = h + v\n   |             ^ 2 x vector" in err.render()


# ---------------------------------------------------------------------------------------------
# Groups, domains and dimensions


def small(symmetry: str, domain: str, inputs: str) -> str:
    return (
        f"model M() {{\n    symmetry {symmetry}\n    domain {domain}\n{inputs}\n"
        "    input s: scalar\n    output y: scalar = s\n}\n"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (small("@Q(3)", "set(set)", ""), "GEO202"),
        (small("O(3) x @E(3)", "set(set)", ""), "GEO202"),
        (small("O(@0)", "set(set)", ""), "GEO202"),
        (small("S(@0)", "set(set)", ""), "GEO202"),
        (small("E(3) x @S(foo)", CLOUD, "    input p: point(3) over nodes"), "GEO406"),
        (small("S(set)", "@blob(set)", ""), "GEO204"),
        (small("S(set)", "@set(1)", ""), "GEO204"),
        (small("E(3)", "pointcloud(nodes, dim=3, edges=@radius(-1))", ""), "GEO204"),
        (small("E(3)", "pointcloud(nodes, dim=3, edges=@knn(2.5))", ""), "GEO204"),
        (small("E(3)", "pointcloud(nodes, dim=@0)", ""), "GEO204"),
        (small("S(set)", "set(set)", "    input v: @vector over set"), "GEO309"),
        (small("S(set)", "set(set)", "    input h: 2 x scalar over @nodes"), "GEO203"),
    ],
)
def test_group_and_domain_error(text: str, code: str) -> None:
    err, where = diagnose(text)
    first = err.diagnostics[0]
    assert (first.code, (first.span.line, first.span.col)) == (code, where), err.render()


def test_point_cloud_needs_exactly_one_positions_input() -> None:
    inputs = "    input p: point(3) over nodes\n    input q: point(3) over nodes"
    err, where = diagnose("model @" + small("E(3)", CLOUD, inputs).removeprefix("model "))
    first = err.diagnostics[0]
    assert (first.code, (first.span.line, first.span.col)) == ("GEO204", where)


def test_vector_dimension_comes_from_the_point_cloud() -> None:
    inputs = "    input p: point(3) over nodes\n    input v: vector over nodes"
    text = small("S(nodes)", CLOUD, inputs)
    graph = frontend(text)
    assert graph.group.space_dim == 3 and str(graph.inputs["v"].type) == "vector over nodes"
