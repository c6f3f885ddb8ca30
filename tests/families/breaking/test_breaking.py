"""Declared symmetry breaking (`breaks G by x`): the statement, each of its errors (code and
caret, ``@`` marks where the primary span starts), the remaining group, typing under it, and
the numeric check: passes under the remainder, fails under the declared group."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers import assert_fails_at, checked_type, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check, check_module
from geoc.diagnostics import GeoError
from geoc.grammar.formatter import format_source
from geoc.grammar.parser import parse
from geoc.groups import Geometric, Group, Rotations
from geoc.ir import Graph
from geoc.pipeline import frontend

CLOUD = "pointcloud(nodes, dim=3, edges=full)"


def model(body: str, symmetry: str = "E(3) x S(nodes)", breaks: str = "") -> str:
    """A point-cloud model with `x: point(3)` and `h: 2 x scalar` over its nodes."""
    return (
        f"model M(hidden: int = 8) {{\n    symmetry {symmetry}\n{breaks}"
        f"    domain {CLOUD}\n    input h: 2 x scalar over nodes\n"
        f"    input x: point(3) over nodes\n{body}\n}}\n"
    )


# --- the statement ---------------------------------------------------------------------------


def test_breaks_parses_and_formats_as_written():
    text = "model M() {\n    symmetry E(3) x S(nodes)\n    breaks T(3) by x, v\n}\n"
    stmt = parse(text).models[0].body[1]
    assert [n.id for n in stmt.by] == ["x", "v"] and stmt.to is None
    assert format_source(text) == text
    assert format_source("model M(){symmetry E(3);breaks  E(3)  by  x}") == (
        "model M() {\n    symmetry E(3)\n    breaks E(3) by x\n}\n"
    )
    polar = "model M() {\n    symmetry SO(3)\n    breaks SO(3) to SO(2) by lat\n}\n"
    assert format_source(polar) == polar


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("model M() { breaks T(3) @}", "GEO100"),  # `by` is required
        ("model M() { breaks T(3) by @}", "GEO100"),
        ("model M() { @breaks = 2 }", "GEO100"),  # a keyword at the start of a statement
        ("block b() { @breaks T(3) by x; return 1 }", "GEO116"),
        ("model M() { repeat 2 { @breaks T(3) by x } }", "GEO116"),
    ],
)
def test_breaks_syntax_errors(text, code):
    assert_fails_at(text, code, run=parse)


def test_by_and_to_stay_names():
    text = model(
        "    by = norm(x[dst] - x[src])\n    to = by\n    output o: scalar over edges = to"
    )
    assert str(frontend(text).outputs["o"].type) == "scalar over edges"


# --- errors of the declaration ------------------------------------------------------------------


OUT = "    output o: scalar = sum(norm(x[dst] - x[src]), over=edges)"


@pytest.mark.parametrize(
    ("symmetry", "breaks", "code"),
    [
        ("E(3) x S(nodes)", "    breaks T(3) by @zz\n", "GEO211"),  # unknown
        ("E(3) x S(nodes)", "    breaks T(3) by x, @hidden\n", "GEO211"),  # a parameter
        ("E(3) x S(nodes)", "    breaks @T(2) by x\n", "GEO212"),  # another dimension
        ("SE(3) x S(nodes)", "    breaks @E(3) by x\n", "GEO212"),  # reflections not declared
        ("O(3) x S(nodes)", "    breaks @T(3) by x\n", "GEO212"),  # no translations declared
        ("S(nodes)", "    breaks @trivial by x\n", "GEO212"),
        ("E(3) x S(nodes)", "    breaks @S(other) by x\n", "GEO212"),
        ("E(3) x S(nodes)", "    breaks T(3) by x\n    breaks @E(3) by x\n", "GEO213"),
        ("E(3) x S(nodes)", "    breaks SO(3) to @SO(2) by x\n", "GEO513"),  # no sphere
        ("E(3) x S(nodes)", "    breaks @S(nodes) by x\n", "GEO514"),
    ],
)
def test_declaration_errors(symmetry, breaks, code):
    err = assert_fails_at(model(OUT, symmetry, breaks), code)
    assert err.diagnostics[0].help


def test_a_periodic_cell_with_a_break_is_not_built():
    text = model(OUT, breaks="    @breaks T(3) by x\n").replace(
        CLOUD, "pointcloud(nodes, dim=3, edges=radius(2.0), cell=true)"
    )
    assert_fails_at(text, "GEO514")


# --- the remaining group ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "part", "remains"),
    [
        ("E(3) x S(nodes)", "T(3)", "O(3) x S(nodes)"),
        ("SE(3) x S(nodes)", "T(3)", "SO(3) x S(nodes)"),
        ("E(3) x S(nodes)", "E(3)", "S(nodes)"),
        ("E(3) x S(nodes)", "SO(3)", "T(3) x S(nodes)"),
        ("E(2)", "O(2)", "T(2)"),
        ("O(3)", "SO(3)", "trivial"),
        ("T(2)", "T(2)", "trivial"),
        ("T(2) x C(4)", "T(2)", "C(4)"),
    ],
)
def test_remainder(declared, part, remains):
    group = Group.parse(declared)
    geo = Group.parse(part).geometric
    assert group.contains(geo)
    left = group.remainder(geo)
    assert str(left) == remains
    assert left.space_dim == group.space_dim  # `vector` keeps its R^n


def test_remainder_refuses_what_the_group_lacks():
    with pytest.raises(ValueError):
        Group.parse("SE(3)").remainder(Geometric(3, Rotations.O, False))


# --- typing under the remainder -----------------------------------------------------------------


T3 = "    breaks T(3) by x\n"
E3 = "    breaks E(3) by x\n"


def test_without_translations_a_point_is_a_vector_from_the_origin():
    body = (
        "    y = spherical_harmonics(x, lmax=2)\n    d = norm(x)\n"
        "    output v: vector over nodes = x"
    )
    graph = elaborated(model(body, breaks=T3))
    assert str(graph.group) == "O(3) x S(nodes)"
    assert checked_type(model(body, breaks=T3), "y") == "1x0e + 1x1o + 1x2e over nodes"
    assert checked_type(model(body, breaks=T3), "d") == "scalar over nodes"


@pytest.mark.parametrize(
    ("line", "code", "breaks"),
    [
        ("    o = norm(@x)", "GEO404", ""),  # translations act: rejected, `breaks` suggested
        ("    o = spherical_harmonics(@x, lmax=1)", "GEO300", ""),
        ("    o = mlp(@x, [4])", "GEO401", ""),
        ("    o = mlp(@x, [4])", "GEO401", T3),  # rotations remain: still rejected
        ("    o = act(@x, sin)", "GEO402", T3),
        ("    o = linear(@x, 3 x scalar)", "GEO403", T3),
    ],
)
def test_what_the_declaration_does_not_cover_stays_rejected(line, code, breaks):
    text = model(
        line + "\n    output e: scalar = sum(norm(x[dst] - x[src]), over=edges)", breaks=breaks
    )
    err = assert_fails_at(text, code)
    if code != "GEO403":
        assert "breaks" in err.diagnostics[0].help


@pytest.mark.parametrize(
    "line",
    ["    o = mlp(x, [4], act=silu)", "    o = act(x, sin)", "    o = linear(x, 3 x scalar)"],
)
def test_with_no_rotation_left_coordinates_are_plain_numbers(line):
    text = model(
        line + "\n    output e: scalar = sum(norm(x[dst] - x[src]), over=edges)", breaks=E3
    )
    assert elaborated(text).group == Group.parse("S(nodes)").with_default_dim(3)
    frontend(text)


def test_ir_json_keeps_the_declaration():
    graph = frontend(model("    output v: vector over nodes = x", breaks=T3))
    doc = json.loads(graph.to_json())
    assert doc["group"] == "O(3) x S(nodes)"
    assert doc["declared"] == "E(3) x S(nodes)"
    assert doc["broken"] == [{"part": "T(3)", "by": ["x"]}]
    back = Graph.from_json(graph.to_json())
    assert (str(back.declared), back.broken, back.symmetry) == (
        "E(3) x S(nodes)",
        graph.broken,
        "O(3) x S(nodes); T(3) broken by `x`",
    )


# --- the numeric check ---------------------------------------------------------------------------


ABSOLUTE = model(
    "    f = mlp(x, [8, 3], act=silu)\n"
    "    output a: vector over nodes = f + sum((x[dst] - x[src]) * mlp(sqnorm(x[dst] - x[src]), "
    "[8, 1]), over=edges, into=nodes)",
    breaks=E3,
)


def test_check_passes_under_the_remainder_and_fails_under_the_declared_group():
    module = compile(ABSOLUTE)
    assert module.meta["geoc_symmetry"] == {
        "verified": "S(nodes)",
        "declared": "E(3) x S(nodes)",
        "broken": [{"part": "E(3)", "by": ["x"]}],
        "text": "S(nodes); E(3) broken by `x`",
    }
    report = check_module(module, trials=3, seed=1)
    assert report.passed and report.group == "S(nodes)"
    assert report.breaking is not None and report.breaking.observed
    text = report.render()
    assert "declared: E(3) x S(nodes); E(3) broken by `x`" in text
    assert report.to_json()["verified"] == "S(nodes)"
    # An element of the declared group outside the remainder: the check must see it.
    rng = np.random.default_rng(0)
    for part in ("E(3)", "SO(3)", "T(3)"):
        element = Group.parse(part).sample(rng, {})
        assert not check_module(module, elements=[element]).passed, part


def test_a_break_the_model_does_not_make_is_reported():
    text = model("    output e: scalar = sum(norm(x[dst] - x[src]), over=edges)", breaks=T3)
    report = check(text, trials=2)
    assert report.passed
    assert report.breaking is not None and not report.breaking.observed
    assert "GEO630" in report.render() and not report.breaking.unread


def test_a_break_nothing_reads_is_reported_as_such():
    text = model("    output e: 2 x scalar over nodes = mlp(h, [2])", breaks=T3)
    report = check(text, trials=2)
    assert report.breaking is not None and report.breaking.unread
    assert "no operator reads a value named after `by`" in report.render()


@pytest.mark.parametrize("spec", ["aether", "sh_encoder", "fno_grid"])
def test_builtin_specs_pass_under_the_remainder_and_break_the_declared_group(spec):
    params = {"fno_grid": {"width": 8, "hidden": 4, "modes": 4, "depth": 2}}.get(spec, {})
    report = check(spec, params=params, trials=2)
    assert report.passed, report.render()
    assert report.breaking is not None and report.breaking.observed, report.render()


def test_an_absolute_coordinate_without_the_declaration_is_rejected():
    for spec in ("aether", "fno_grid"):
        from geoc.catalog import builtin_spec

        text = builtin_spec(spec).read_text()
        lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("breaks ")]
        with pytest.raises(GeoError) as info:
            frontend("\n".join(lines))
        first = info.value.diagnostics[0]
        assert first.code in ("GEO401", "GEO470") and "breaks" in first.help


# --- SO(3) to SO(2) on the sphere: a latitude channel ------------------------------------------


def sphere_model(breaks: str, line: str = "    lat = latitude(u)") -> str:
    return (
        "model S(width: int = 4) {\n    symmetry SO(3)\n"
        f"{breaks}    domain sphere(nlat=12, nlon=24, grid=equiangular)\n"
        f"    input u: scalar over sphere\n{line}\n"
        "    output v: scalar over sphere = linear(concat(u, lat), scalar)\n}\n"
    )


POLAR = "    breaks SO(3) to SO(2) by lat\n"


def test_latitude_is_rejected_under_so3_and_typed_under_the_polar_rotations():
    assert_fails_at(sphere_model("", "    lat = @latitude(u)"), "GEO471")
    graph = frontend(sphere_model(POLAR))
    assert str(graph.group) == "SO(2)" and graph.symmetry == "SO(2); SO(3) broken to SO(2) by `lat`"
    assert Graph.from_json(graph.to_json()).broken == graph.broken
    assert checked_type(sphere_model(POLAR), "lat") == "scalar over sphere"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (model(OUT, breaks="    breaks SO(3) to @SO(2) by x\n"), "GEO513"),  # no polar axis
        (sphere_model("    breaks SO(3) to @O(2) by lat\n"), "GEO513"),
        (sphere_model("    breaks @T(3) to SO(2) by lat\n"), "GEO212"),
    ],
)
def test_reductions_not_built(text, code):
    assert_fails_at(text, code)


def test_latitude_values_and_the_check_under_both_groups():
    module = compile(sphere_model(POLAR).replace("linear(concat(u, lat), scalar)", "lat"))
    lat = module(u=torch.zeros(2, 1, 12, 24))["v"]
    rows = math.pi / 2 - math.pi * torch.arange(12) / 11
    assert torch.allclose(lat, rows.view(1, 1, 12, 1).expand(2, 1, 12, 24))
    report = check(sphere_model(POLAR), trials=2)
    assert report.passed and report.group == "SO(2)"
    assert report.breaking is not None and report.breaking.observed, report.render()


@pytest.mark.parametrize(
    "text",
    [
        sphere_model("", "    lat = grid_coords(@u)"),
        "model T() {\n    symmetry T(2)\n    breaks T(2) by u\n    domain torus(8, 8)\n"
        "    input u: scalar over torus\n    lat = latitude(@u)\n"
        "    output v: scalar over torus = u\n}\n",
    ],
)
def test_coordinates_of_another_grid_are_refused(text):
    assert_fails_at(text, "GEO312")


def test_the_builder_declares_a_break_as_the_language_does():
    import geoc

    b = geoc.Builder("B")
    b.symmetry("E(3) x S(nodes)")
    b.breaks("E(3)", "x")
    b.domain(CLOUD)
    x = b.input("x", "point(3) over nodes")
    b.output("f", "3 x scalar over nodes", b.call("mlp", x, [8, 3]))
    graph = b.build()
    assert graph.symmetry == "S(nodes); E(3) broken by `x`"
    assert str(graph.declared) == "E(3) x S(nodes)"
