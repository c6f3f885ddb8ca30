"""Compile-time parameters: defaults, ``-p``-style overrides, and their diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import cases

from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

HERE = Path(__file__).parent

SCALED = """model Scaled(width: int = 4, gain: float = 1.0, deep: bool = false, depth: int = 1) {
    symmetry S(set)
    domain   set(set)
    input x: width x scalar over set
    h = x
    repeat depth {
        h = linear(h, width x scalar)
    }
    output y: width x scalar over set = h
}
"""


def error(spec: str, **params: object) -> tuple[str, int, int, str, str]:
    with pytest.raises(GeoError) as info:
        frontend(spec, params=params)
    first = info.value.diagnostics[0]
    return first.code, first.span.line, first.span.col, first.message, first.help


def test_defaults() -> None:
    graph = frontend(SCALED)
    assert graph.params == {"width": 4, "gain": 1.0, "deep": False, "depth": 1}
    assert str(graph.inputs["x"].type) == "4 x scalar over set"


def test_overrides_reach_types_and_repeat() -> None:
    graph = frontend(SCALED, params={"width": 3, "depth": 3})
    assert str(graph.inputs["x"].type) == "3 x scalar over set"
    assert [n.id for n in graph if n.op == "linear"] == [f"layers.{i}.h" for i in range(3)]


def test_override_depth_of_egnn() -> None:
    graph = frontend("egnn", params={"depth": 2})
    assert graph.params["depth"] == 2
    assert {n.id.split(".")[1] for n in graph if n.id.startswith("layers.")} == {"0", "1"}


def test_int_is_accepted_for_float_and_becomes_float() -> None:
    gain = frontend(SCALED, params={"gain": 2}).params["gain"]
    assert gain == 2.0 and isinstance(gain, float)


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"width": True}, "True"),
        ({"width": "3"}, "'3'"),
        ({"width": 2.5}, "2.5"),
        ({"gain": "fast"}, "'fast'"),
        ({"gain": False}, "False"),
        ({"deep": 1}, "1"),
    ],
)
def test_wrong_type_is_geo302_at_the_declaration(params: dict, shown: str) -> None:
    (name,) = params
    code, line, col, message, _ = error(SCALED, **params)
    assert code == "GEO302" and line == 1
    assert col == SCALED.index(f"{name}:") + 1
    assert f"`{name}` must be" in message and shown in message


def test_unknown_parameter_suggests_the_close_one() -> None:
    code, line, col, message, help_text = error(SCALED, dpeth=2)
    assert (code, line, col) == ("GEO208", 1, 7)
    assert "no parameter `dpeth`" in message
    assert help_text == "did you mean `depth`?"


def test_unknown_parameter_without_a_close_one_lists_them() -> None:
    *_, help_text = error(SCALED, zzz=2)
    assert help_text == "parameters: deep, depth, gain, width"


def test_parameter_without_default_needs_a_value() -> None:
    spec = SCALED.replace("width: int = 4", "width: int")
    code, line, col, message, help_text = error(spec)
    assert (code, line, col) == ("GEO302", 1, 14)
    assert "no default" in message and "-p width=" in help_text
    assert str(frontend(spec, params={"width": 2}).inputs["x"].type) == "2 x scalar over set"


@pytest.mark.parametrize(
    ("old", "new", "code"),
    cases(HERE / "test_params.cases", "bad_values_in_the_spec"),
)
def test_bad_values_in_the_spec(old: str, new: str, code: str) -> None:
    assert error(SCALED.replace(old, new))[0] == code


def test_a_parameter_is_not_a_tensor() -> None:
    code, line, col, message, _ = error(SCALED.replace("h = x", "h = width"))
    assert (code, line, col) == ("GEO303", 5, 9)
    assert "compile-time value" in message


def test_defaults_may_use_earlier_parameters() -> None:
    spec = SCALED.replace("depth: int = 1", "depth: int = width - 3")
    assert frontend(spec).params["depth"] == 1
    assert frontend(spec, params={"width": 5}).params["depth"] == 2
