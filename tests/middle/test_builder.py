"""``geoc.builder.Builder``: the same IR as the parser (ids included) and the same
diagnostics, with spans that point at the Python lines that built the model."""

from __future__ import annotations

import functools
import importlib.util
import json
from typing import Any

import paths
import pytest

from geoc.builder import Builder, BuilderError, Tensor, Text
from geoc.diagnostics import GeoError
from geoc.grammar import ast
from geoc.ir import Graph
from geoc.pipeline import frontend


def strip_spans(doc: Any) -> Any:
    """The IR's JSON without source positions (the only thing the two paths may differ in)."""
    if isinstance(doc, dict):
        return {k: strip_spans(v) for k, v in doc.items() if k not in ("span", "arg_spans")}
    if isinstance(doc, list):
        return [strip_spans(v) for v in doc]
    return doc


def same_ir(a: Graph, b: Graph) -> bool:
    return strip_spans(json.loads(a.to_json())) == strip_spans(json.loads(b.to_json()))


def source_lines(file: str = __file__) -> list[str]:
    with open(file, encoding="utf-8") as f:
        return f.read().splitlines()


def line_of(text: str, file: str = __file__) -> int:
    """The line of ``file`` that contains ``text`` (besides the line asking for it)."""
    lines = source_lines(file)
    (found,) = [i + 1 for i, line in enumerate(lines) if text in line and "line_of(" not in line]
    return found


def written(span: Any) -> str:
    """The text of the file that a one-line span covers."""
    return source_lines(span.file)[span.line - 1][span.col - 1 : span.end_col - 1]


@functools.cache
def load_example() -> Any:
    """examples/build_egnn.py as a module (it builds specs/egnn.geo, statement for statement)."""
    path = paths.EXAMPLES / "build_egnn.py"
    spec = importlib.util.spec_from_file_location("build_egnn_example", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_egnn() -> Builder:
    """specs/egnn.geo, built by the example with the spec's parameters."""
    return load_example().build_egnn()  # type: ignore[no-any-return]


def build_deepsets() -> Builder:
    """specs/deepsets.geo, with the handle operators and a parameter handle."""
    b = Builder("DeepSets", params={"features": 8, "hidden": 128})
    b.symmetry("S(set)")
    b.domain("set(set)")
    x = b.input("x", "features x scalar over set")
    hidden = b.param("hidden")
    width = "hidden x scalar"

    def layer(v: Tensor, pool: str) -> Tensor:
        pooled = b.call(pool, v, over="set")
        mixed = b.call("linear", v, width) + b.call("linear", pooled, width)
        return b.call("act", mixed, "relu")

    h = b.let("h", layer(x, "mean"))
    h = b.let("h", layer(h, "max"))
    b.output("y", "scalar", b.call("mlp", b.call("sum", h, over="set"), [hidden, 1]))
    return b


def test_geoc_exports_the_builder() -> None:
    """The README's `geoc.Builder` is the builder, and builds from the top-level name."""
    import geoc

    assert geoc.Builder is Builder and "Builder" in geoc.__all__
    b = geoc.Builder("Tiny", params={"width": 2})
    x = b.input("x", "4 x scalar")
    b.output("y", "width x scalar", b.call("linear", x, "width x scalar"))
    assert str(b.build().outputs["y"].type) == "2 x scalar"


def test_egnn_builder_gives_the_parsed_ir() -> None:
    built = build_egnn().build(verify=True)
    assert same_ir(built, frontend("egnn"))
    assert "layers.3.egnn_layer.dx" in {n.id for n in built}


def test_deepsets_builder_gives_the_parsed_ir() -> None:
    assert same_ir(build_deepsets().build(verify=True), frontend("deepsets"))


def test_build_takes_parameter_overrides() -> None:
    assert same_ir(build_egnn().build(params={"depth": 2}), frontend("egnn", params={"depth": 2}))


def test_source_is_the_spec_text() -> None:
    b = build_egnn()
    text = b.source()
    assert "repeat depth {\n        h, x = egnn_layer(h, x, hidden=hidden)\n    }" in text
    assert same_ir(frontend(text), b.build())
    assert same_ir(frontend(build_deepsets().source()), frontend("deepsets"))


def test_spans_point_at_the_python_caller() -> None:
    graph = build_egnn().build()
    node = graph.node("layers.0.egnn_layer.r")
    example = load_example().__file__
    assert node.span.file == example
    assert node.span.line == line_of("# a vector over edges", example)
    assert written(node.span) == 'x["dst"] - x["src"]'
    assert [written(s) for s in node.arg_spans] == ['x["dst"]', 'x["src"]']


def mlp_on_vector() -> Builder:
    b = Builder("Bad")
    b.symmetry("E(3) x S(nodes)")
    b.domain("pointcloud(nodes, dim=3, edges=full)")
    x = b.input("x", "point(3) over nodes")
    r = b.let("r", x["dst"] - x["src"])
    b.let("m", b.call("mlp", r, [64, 64]))  # mlp on a vector
    b.output("pos", "point(3) over nodes", x)
    return b


def test_builder_error_has_the_parser_code_and_a_span_here() -> None:
    b = mlp_on_vector()
    with pytest.raises(GeoError) as built:
        b.build()
    with pytest.raises(GeoError) as parsed:
        frontend(b.source())
    assert built.value.codes == parsed.value.codes == ["GEO401"]
    (diag,) = built.value.diagnostics
    assert (diag.span.file, diag.span.line) == (__file__, line_of("# mlp on a vector"))
    assert diag.message == parsed.value.diagnostics[0].message
    rendered = built.value.render()
    assert 'b.let("m", b.call("mlp", r, [64, 64]))' in rendered
    assert rendered.splitlines()[4].endswith("^ vector over edges")


def test_type_errors_point_into_the_string() -> None:
    b = Builder("M")
    b.input("v", "4 x blob")  # unknown atom
    with pytest.raises(GeoError) as info:
        b.build()
    (diag,) = info.value.diagnostics
    assert diag.code == "GEO301" and written(diag.span) == "blob"


def test_syntax_errors_in_strings_are_raised_at_once() -> None:
    b = Builder("M")
    with pytest.raises(GeoError) as info:
        b.input("v", "4 x ")  # missing atom
    (diag,) = info.value.diagnostics
    assert diag.code == "GEO105"
    assert (diag.span.file, diag.span.line) == (__file__, line_of("# missing atom"))


def test_unknown_operator_suggests_and_points_at_the_name() -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    b.output("y", "4 x scalar", b.call("lineer", v, "4 x scalar"))  # typo
    with pytest.raises(GeoError) as info:
        b.build()
    (diag,) = info.value.diagnostics
    assert diag.code == "GEO201" and "did you mean `linear`?" in diag.help
    assert written(diag.span) == "lineer"


def repeat_minus_one(b: Builder, v: Tensor) -> None:
    with b.repeat(-1):
        b.let("v", v)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda b, v: b.output("y", "2 x scalar", v), "GEO306"),
        (lambda b, v: b.output("y", "4 x scalar", b.call("linear", v, "4 x scalar", 3)), "GEO302"),
        (lambda b, v: b.output("y", "4 x scalar", b.call("norm", v, foo=1)), "GEO304"),
        (lambda b, v: b.output("y", "4 x scalar", v + 1), "GEO303"),
        (lambda b, v: b.output("y", "4 x scalar", b.call("act", v, "foo")), "GEO302"),
        (lambda b, v: b.output("y", "4 x scalar", v["src"]), "GEO203"),
        (lambda b, v: b.output("y", "4 x scalar", b.gather(v, "foo")), "GEO200"),
        (lambda b, v: b.let(("a", "c"), v), "GEO308"),
        (repeat_minus_one, "GEO302"),
    ],
)
def test_builder_and_parser_agree_on_errors(make: Any, code: str) -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    make(b, v)
    with pytest.raises(GeoError) as built:
        b.build()
    with pytest.raises(GeoError) as parsed:
        frontend(b.source())
    assert built.value.codes[0] == parsed.value.codes[0] == code
    assert built.value.diagnostics[0].span.file == __file__


def test_parameter_without_default() -> None:
    b = Builder("M", params={"n": int})
    v = b.input("v", "n x scalar")
    b.output("y", "n x scalar", v)
    with pytest.raises(GeoError) as info:
        b.build()
    assert info.value.codes == ["GEO302"]
    assert str(b.build(params={"n": 3}).outputs["y"].type) == "3 x scalar"


def test_python_operators_build_language_operators() -> None:
    b = Builder("Ops")
    b.symmetry("O(3)")
    v = b.input("v", "2 x vector")
    s = b.input("s", "2 x pseudoscalar")
    w = b.let("w", -(0.5 * v) + v * 2 - s * v * s)
    b.output("y", "2 x vector", w)
    b.output("p", "2 x pseudovector", s * w)
    graph = b.build()
    assert [n.op for n in graph if n.op != "input"] == [
        "scale",
        "neg",
        "scale",
        "add",
        "mul",
        "mul",
        "sub",
        "mul",
    ]
    assert "w = -(0.5 * v) + v * 2 - s * v * s" in b.source()


def test_text_literals_and_raw_ast() -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    call = b.call("linear", v, "4 x scalar", bias=ast.Bool(value=False, span=v.expr.span))
    b.output("y", "4 x scalar", call)
    assert b.build().node("y").attrs["bias"] is False
    assert b._expr(Text("a b"), b._site).value == "a b"


def test_import_a_builtin_block() -> None:
    b = Builder("M")
    b.import_("egnn")
    b.symmetry("E(3)", "S(nodes)")
    b.domain("pointcloud(nodes, dim=3, edges=knn(4))")
    h = b.input("h", "8 x scalar over nodes")
    x = b.input("x", "point(3) over nodes")
    h, x = b.let(("h", "x"), b.call("egnn_layer", h, x, hidden=8))
    b.output("pos", "point(3) over nodes", x)
    assert "egnn_layer.m" in {n.id for n in b.build()}


@pytest.mark.parametrize(("returns", "code"), [("4 x scalar", "GEO306"), (None, "GEO304")])
def test_a_block_without_return(returns: str | None, code: str) -> None:
    b = Builder("M")
    b.block("empty", {"h": "4 x scalar"}, returns, lambda h: None)
    v = b.input("v", "4 x scalar")
    b.output("y", "4 x scalar", b.call("empty", v))
    with pytest.raises(GeoError) as built:
        b.build()
    with pytest.raises(GeoError) as parsed:
        frontend(b.source())
    assert built.value.codes == parsed.value.codes == [code]


def test_block_body_statements_follow_the_language_rules() -> None:

    b = Builder("M")
    b.block("declares", {"h": "4 x scalar"}, None, lambda h: b.input("z", "scalar"))
    with pytest.raises(GeoError) as info:
        b.module()
    assert info.value.codes == ["GEO116"]


def test_an_expression_handle_is_written_once() -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    y = b.call("linear", v, "4 x scalar")
    b.output("y", "4 x scalar", y)
    with pytest.raises(BuilderError, match=r"bind it with `b\.let"):
        b.output("z", "4 x scalar", y)


def test_a_rebound_name_makes_old_handles_stale() -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    h = b.let("h", v + v)
    b.let("h", h + h)
    with pytest.raises(BuilderError, match="rebound"):
        b.output("y", "4 x scalar", h)


def test_model_handles_are_not_visible_in_blocks() -> None:
    b = Builder("M")
    v = b.input("v", "4 x scalar")
    with pytest.raises(BuilderError, match="not visible"):
        b.block("uses_v", {"h": "4 x scalar"}, "4 x scalar", lambda h: h + v)


def test_several_results_are_bound_with_let() -> None:
    b = build_egnn()
    with pytest.raises(TypeError, match=r"b\.let"):
        _a, _c = b.call("egnn_layer", b.param("h"), b.param("x"))


def test_example_builds_the_spec() -> None:
    example = load_example()
    built = example.build_egnn(depth=2).build()
    assert same_ir(built, frontend("egnn", params={"depth": 2}))
    with pytest.raises(GeoError) as info:
        example.build_egnn(broken=True).build()
    assert info.value.codes == ["GEO401"]
    assert info.value.diagnostics[0].span.file.endswith("build_egnn.py")


def test_example_compiles_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    assert load_example().main([]) == 0
    out = capsys.readouterr().out
    assert "layers.1.egnn_layer.dx" in out and "energy [" in out


def test_a_model_over_several_axes_builds_the_parsed_ir() -> None:
    """Several `domain` statements and gathers of a named edge set (`x["src(near)"]`)."""
    b = Builder("Cross", params={"k": 2})
    b.symmetry("E(3) x S(points) x S(centres)")
    b.domain("pointcloud(points, dim=3)")
    b.domain("pointcloud(centres, dim=3)")
    b.domain("edges(near, src=points, dst=centres, rule=knn(k))")
    x = b.input("x", "point(3) over points")
    c = b.input("c", "point(3) over centres")
    r = b.let("r", x["src(near)"] - c["dst(near)"])
    d = b.call("sum", b.call("sqnorm", r), over="near", into="centres")
    b.output("d", "scalar over centres", d)
    built = b.build()
    assert [str(d) for d in built.more] == [
        "pointcloud(centres, dim=3)",
        "edges(near, src=points, dst=centres, rule=knn(2))",
    ]
    assert same_ir(frontend(b.source()), built)
