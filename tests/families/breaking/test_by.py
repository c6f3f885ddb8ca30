"""What `by` means (docs/language.md "What `by` means"): a value is broken if `by` names it or
an operator computes it from a broken value; an operator reading only unbroken values is typed,
proved and lowered under the declared group, every other one under the remainder. Each error
with its code and caret (``@``), the help naming what `by` could name, what stays legal, and
the numbers: an unbroken output moves with the declared group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import assert_fails_at

from geoc.backends.torch_fx.api import compile
from geoc.diagnostics import GeoError
from geoc.ir import Graph
from geoc.pipeline import frontend


def spec(body: str, breaks: str = "E(3) by x", blocks: str = "") -> str:
    """A model over a set with two points `x`, `y`, a vector `v` and scalars `h` per node."""
    return (
        f"{blocks}model M(hidden: int = 8) {{\n    symmetry E(3) x S(nodes)\n"
        f"    breaks {breaks}\n    domain set(nodes)\n    input x: point(3) over nodes\n"
        "    input y: point(3) over nodes\n    input v: vector over nodes\n"
        f"    input h: 2 x scalar over nodes\n{body}\n}}\n"
    )


@pytest.mark.parametrize(
    ("body", "breaks", "code", "named"),
    [
        ("    o = mlp(@v, [4])", "E(3) by x", "GEO401", "`breaks E(3) by x, v`"),
        ("    o = act(@v, sin)", "E(3) by x", "GEO402", "`breaks E(3) by x, v`"),
        ("    o = sqnorm(@y)", "T(3) by x", "GEO404", "`breaks T(3) by x, y`"),
        # through a value computed from another input: the input is named, not the scalars
        ("    g = concat(h, y)\n    o = mlp(@g, [4])", "E(3) by x", "GEO401", "by x, y`"),
    ],
)
def test_another_input_read_absolutely_is_rejected_and_named(body, breaks, code, named):
    text = spec(body + "\n    output e: 4 x scalar over nodes = mlp(x, [4])", breaks)
    err = assert_fails_at(text, code)
    assert named in err.diagnostics[0].help, err.render()


def test_a_typing_error_under_the_declared_group_names_the_input_too():
    text = spec("    o = spherical_harmonics(@y, lmax=1)", "T(3) by x")
    err = assert_fails_at(text, "GEO300")
    assert "`breaks T(3) by x, y`" in err.diagnostics[0].help, err.render()


def test_naming_the_input_after_by_accepts_it():
    frontend(spec("    output o: 4 x scalar over nodes = mlp(v, [4])", "E(3) by x, v"))
    frontend(spec("    output o: scalar over nodes = sqnorm(y)", "T(3) by x, y"))


@pytest.mark.parametrize(
    "body",
    [
        "    output o: 1x0e + 1x1o + 1x2e over nodes = spherical_harmonics(x, lmax=2)",
        "    output o: vector over nodes = x + y",  # an unbroken point read under O(3)
        "    output o: vector over nodes = (x - y) + x",
        "    output o: scalar over nodes = norm(y - x)",
    ],
)
def test_under_a_broken_translation_a_broken_point_is_a_vector(body):
    graph = frontend(spec(body, "T(3) by x"), verify=True)
    assert str(graph.group_of(graph.outputs["o"].value.node)) == "O(3) x S(nodes)"


def test_an_unbroken_equivariant_part_feeds_a_broken_one():
    body = (
        "    w = linear(v, 4 x vector)  # unbroken: E(3)\n"
        "    s = mlp(concat(h, sqnorm(w), sqnorm(y - mean(y, over=nodes))), [hidden, 2])\n"
        "    output ow: 4 x vector over nodes = w\n"
        "    output o: 3 x scalar over nodes = mlp(concat(s, x), [hidden, 3])"
    )
    graph = frontend(spec(body), verify=True)
    declared, remains = str(graph.declared), str(graph.group)
    assert (declared, remains) == ("E(3) x S(nodes)", "S(nodes)")
    assert str(graph.group_of("w")) == declared and str(graph.group_of("s")) == declared
    assert str(graph.group_of("o")) == remains
    assert {"input.v", "input.y", "input.h", "w", "s"} <= graph.unbroken
    assert "input.x" not in graph.unbroken
    back = Graph.from_json(graph.to_json())  # the IR keeps which nodes are unbroken
    assert back.unbroken == graph.unbroken
    assert json.loads(graph.to_json())["unbroken"][0] == "input.y"


def test_the_statement_of_a_computed_value_named_after_by_is_broken():
    body = (
        "    grid = mlp(concat(h, v), [hidden, 3])  # named after `by`: read as it is\n"
        "    output o: 3 x scalar over nodes = mlp(grid, [3]) + mlp(sqnorm(v), [3])"
    )
    graph = frontend(spec(body, "E(3) by grid"), verify=True)
    assert str(graph.group_of("grid")) == "S(nodes)"
    assert str(graph.group_of("o.mlp_1")) == "E(3) x S(nodes)"  # reads `v` alone


def test_a_block_call_named_after_by_is_broken_inside():
    blocks = (
        "block field(p: point(3) over nodes) -> 3 x scalar over nodes {\n"
        "    return mlp(p, [3])\n}\n"
    )
    body = "    f = field(y)\n    output o: 3 x scalar over nodes = f"
    frontend(spec(body, "E(3) by x, f", blocks), verify=True)
    text = spec("    f = field(y)\n    output o: 3 x scalar over nodes = f", "E(3) by x", blocks)
    with pytest.raises(GeoError) as info:  # not named: the block's `mlp` is refused
        frontend(text)
    assert info.value.codes[0] == "GEO401"


def test_an_alias_breaks_one_use_of_an_input_and_not_the_others():
    """`at = x` named after `by`: `mlp(at)` reads `x` absolutely, the differences of `x`
    stay under E(3)."""
    body = (
        "    at = x\n    d = sqnorm(x - y)\n"
        "    output o: 3 x scalar over nodes = mlp(concat(at, d), [3])"
    )
    graph = frontend(spec(body, "E(3) by at"), verify=True)
    assert str(graph.group_of("d")) == "E(3) x S(nodes)"
    assert str(graph.group_of("o")) == "S(nodes)"
    assert_fails_at(spec("    at = x\n    o = mlp(@x, [3])", "E(3) by at"), "GEO401")


def test_an_output_of_unbroken_values_is_checked_under_the_declared_group():
    with pytest.raises(GeoError) as info:  # a point is no vector under E(3)
        frontend(spec("    output o: vector over nodes = y", "T(3) by x"))
    assert info.value.codes == ["GEO306"]
    frontend(spec("    output o: vector over nodes = x", "T(3) by x"))  # broken: O(3)


def test_an_unbroken_output_moves_with_the_declared_group():
    """Typed and lowered under E(3), `linear` of vectors keeps their rotation (under the
    remainder alone its weights could mix the components)."""
    body = (
        "    w = linear(v, 4 x vector)\n    output ow: 4 x vector over nodes = w\n"
        "    output o: 3 x scalar over nodes = mlp(concat(x, sqnorm(w)), [8, 3])"
    )
    module = compile(spec(body), dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x, v = (torch.randn(6, 3, generator=gen, dtype=torch.float64) for _ in range(2))
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    shift = torch.randn(3, generator=gen, dtype=torch.float64)
    y = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    h = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    a = module(x=x, y=y, v=v, h=h)
    b = module(x=x @ q.T + shift, y=y @ q.T + shift, v=v @ q.T, h=h)
    moved = a["ow"].reshape(6, 4, 3) @ q.T
    torch.testing.assert_close(b["ow"].reshape(6, 4, 3), moved, atol=1e-12, rtol=1e-12)
    assert (a["o"] - b["o"]).abs().max() > 1e-3  # reads `x` absolutely


def test_the_documented_example_and_aether_compile():
    """The `Field` example of docs/language.md; `aether` breaks E(3) by its alias `at`, so its
    interactions are typed under E(3) and only the field and what adds it under S(particles)."""
    text = (Path(__file__).parents[3] / "docs" / "language.md").read_text()
    start = text.index("model Field(")
    frontend(text[start : text.index("```", start)], verify=True)
    graph = frontend("aether", verify=True)
    remains = [n.id for n in graph.nodes if str(graph.group_of(n.id)) == "S(particles)"]
    assert remains == ["force", "acc.mul", "acc"]
