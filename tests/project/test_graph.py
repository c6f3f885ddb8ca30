"""`geoc graph`: an SVG of the typed IR for every built-in spec (read back by an XML parser),
a layout without overlaps, the value `geoc check` blames marked, and diagnostics for bad input."""

from __future__ import annotations

import itertools
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import paths
import pytest

from geoc.catalog import builtin_specs
from geoc.cli import main
from geoc.cli.graph import block_names, proven_graph
from geoc.graph_picture import Mark, picture, to_dot
from geoc.graph_svg import layout, render, route

SVG = "{http://www.w3.org/2000/svg}"
SPECS = [s.name for s in builtin_specs()]
SMALL_EGNN = ["-p", "depth=2", "-p", "hidden=16"]
SQNORM = "layers.0.egnn_layer.m.concat.sqnorm"  # the first sqnorm in evaluation order


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if cls in g.get("class", "").split()]


def _draw(capsys: pytest.CaptureFixture, tmp_path: Path, *argv: str) -> tuple[int, ET.Element]:
    """Run `geoc graph ... -o FILE`; stderr stays in ``capsys.err_seen``."""
    target = tmp_path / "model.svg"
    code = main(["graph", *argv, "-o", str(target), "--layout", "python"])
    capsys.err_seen = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "Traceback" not in capsys.err_seen  # type: ignore[attr-defined]
    return code, ET.parse(target).getroot()


@pytest.mark.parametrize("spec", SPECS)
def test_every_builtin_spec_draws_as_valid_svg(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code, root = _draw(capsys, tmp_path, spec)
    assert code == 0 and root.tag == f"{SVG}svg"
    graph = proven_graph(spec, {}, None, "ir")
    values = [g for g in _groups(root, "node") if "output" not in g.get("class", "")]
    assert len(values) == len(graph)  # one box per IR value, the model's inputs included
    assert len(_groups(root, "output")) == len(graph.outputs)
    assert len(_groups(root, "edge")) >= len(graph) - len(graph.inputs)
    drawn = {g.findtext(f"{SVG}title"): g.findtext(f"{SVG}desc") for g in values}
    for node in graph:
        assert all(str(t) in drawn[node.id] for t in node.out_types), node.id  # feature types
    assert not _groups(root, "broken")


@pytest.mark.parametrize("spec", SPECS)
def test_the_layout_keeps_boxes_and_clusters_apart(spec: str) -> None:
    pic = picture(proven_graph(spec, {}, None, "ir"), block_names(spec))
    places, frames, _ = layout(pic)
    boxes = list(places.items())
    for i, (a, p) in enumerate(boxes):
        for b, q in boxes[i + 1 :]:
            apart = p.x + p.w <= q.x or q.x + q.w <= p.x or p.y + p.h <= q.y or q.y + q.h <= p.y
            assert apart, (a, b)
    for box in pic.boxes:  # a box lies inside its cluster's frame, below its label
        if box.cluster:
            p, f = places[box.id], frames[box.cluster]
            assert f.x < p.x and p.x + p.w < f.x + f.w and f.y + 14 < p.y < f.y + f.h
    rows: dict[float, list] = {}
    for place in places.values():
        rows.setdefault(place.y, []).append(place)
    for a, b in pic.edges:  # data flows down, and no edge runs through a box
        assert places[a].y + places[a].h < places[b].y
        points = [tuple(map(float, p.lstrip("ML").split(","))) for p in route(
            places[a], places[b], rows).split()]  # fmt: skip
        others = [p for n, p in places.items() if n not in (a, b)]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            for t in (i / 40 for i in range(41)):
                x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                inside = [p for p in others if p.x < x < p.x + p.w and p.y < y < p.y + p.h]
                assert not inside, (a, b, x, y)


def test_blocks_become_nested_clusters(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, root = _draw(capsys, tmp_path, "egnn", *SMALL_EGNN)
    titles = {g.findtext(f"{SVG}title") for g in _groups(root, "cluster")}
    assert code == 0 and titles == {"layers.0.egnn_layer", "layers.1.egnn_layer"}
    labels = [t.text for g in _groups(root, "cluster") for t in g.iter(f"{SVG}text")]
    assert labels == ["egnn_layer (layers.0)", "egnn_layer (layers.1)"]


def test_dot_output_has_clusters_and_classes(capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "egnn", *SMALL_EGNN, "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "EGNN"')
    assert 'subgraph "cluster_layers.0.egnn_layer" {' in dot
    assert f'"{SQNORM}" [shape=box, label="m.concat.sqnorm\\nsqnorm\\nscalar over edges", ' in dot
    assert 'class="value"' in dot and 'class="input"' in dot and 'class="output"' in dot


def test_the_marked_value_is_drawn_broken_in_dot_and_svg() -> None:
    graph = proven_graph("egnn", {"depth": 2}, None, "ir")
    pic = picture(graph, ["egnn_layer"], Mark(SQNORM, "geoc check: it broke"))
    assert [b.id for b in pic.boxes if b.broken] == [SQNORM]
    assert 'class="value broken"' in to_dot(pic) and "it broke" in to_dot(pic)


def test_a_blamed_edge_set_is_named_in_the_header_only() -> None:
    graph = proven_graph("egnn", {"depth": 2}, None, "ir")
    pic = picture(graph, ["egnn_layer"], Mark("edges", "geoc check: the radius edges changed"))
    assert not any(b.broken for b in pic.boxes)
    assert "the radius edges changed" in render(pic)


def first_component_squared(x, terms):
    """Not a norm: depends on the direction of the vector (as in tests/backend/test_verify)."""
    return x[..., :1] ** 2


@pytest.fixture
def broken_sqnorm(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoc.backends.torch_fx.common import kernels

    monkeypatch.setattr(kernels, "copy_sqnorm", first_component_squared)


@pytest.mark.slow
@pytest.mark.usefixtures("broken_sqnorm")
def test_check_marks_the_first_broken_value_geoc_check_names(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report = tmp_path / "check.json"
    assert main(["check", "egnn", *SMALL_EGNN, "--trials", "1", "--json", str(report)]) == 1
    blamed = json.loads(report.read_text())["first_failure"]
    assert blamed["node"] == SQNORM and blamed["op"] == "sqnorm"
    assert f"{SQNORM} (sqnorm) at" in capsys.readouterr().out
    code, root = _draw(capsys, tmp_path, "egnn", *SMALL_EGNN, "--check", "--trials", "1")
    assert code == 1  # the check failed; the picture is written all the same
    assert [g.findtext(f"{SVG}title") for g in _groups(root, "broken")] == [SQNORM]
    notes = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes and SQNORM in notes[0] and blamed["location"] in notes[0]
    code, root = _draw(capsys, tmp_path, "egnn", *SMALL_EGNN, "--report", str(report))
    assert code == 0 and [g.findtext(f"{SVG}title") for g in _groups(root, "broken")] == [SQNORM]


@pytest.mark.slow
def test_check_of_an_equivariant_spec_marks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code, root = _draw(capsys, tmp_path, "deepsets", "-p", "hidden=8", "--check")
    assert code == 0 and not _groups(root, "broken")
    assert "every output transforms as declared" in capsys.err_seen  # type: ignore[attr-defined]


def _report(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


FAILURE = {"node": SQNORM, "op": "sqnorm", "type": "scalar over edges",
           "location": "<builtin>/egnn.geo:17:30", "rel_error": 0.5}  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "code", "words"),
    [
        ("{not json", "GEO636", "cannot read it"),
        ({"model": "EGNN", "passed": True}, "GEO636", "not a `geoc check --json` report"),
        ({"model": "EGNN", "first_failure": {"node": 3}}, "GEO636", "not a `geoc check"),
        ({"model": "MACE", "first_failure": None}, "GEO637", "checked model `MACE`"),
        ({"model": "EGNN", "first_failure": {**FAILURE, "node": "nope"}}, "GEO637", "`nope`"),
    ],
)
def test_bad_reports_are_diagnosed(
    doc: object, code: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _report(tmp_path, doc)
    assert main(["graph", "egnn", "--report", str(path), "-o", str(tmp_path / "g.svg")]) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and words in err and "Traceback" not in err
    assert not (tmp_path / "g.svg").exists()


def test_a_report_that_passed_marks_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _report(tmp_path, {"model": "EGNN", "first_failure": None})
    code, root = _draw(capsys, tmp_path, "egnn", "--report", str(path))
    assert code == 0 and not _groups(root, "broken")


def test_output_errors_are_diagnosed(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    assert main(["graph", "egnn", "-o", str(tmp_path / "file" / "g.svg")]) == 1
    assert "error[GEO508]" in capsys.readouterr().err
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["graph", "egnn", "--layout", "graphviz"]) == 1
    assert "error[GEO509]" in capsys.readouterr().err
    assert main(["graph", "no_such_spec"]) == 1
    assert "error[GEO113]" in capsys.readouterr().err


def test_an_existing_picture_is_replaced_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "model.svg"
    target.write_text("old")
    assert main(["graph", "deepsets", "-o", str(target), "--layout", "python"]) == 0
    assert ET.parse(target).getroot().tag == f"{SVG}svg"
    assert [p.name for p in tmp_path.iterdir()] == ["model.svg"]  # no temporary left


def test_docs_show_one_picture_per_builtin_spec() -> None:
    folder = paths.DOCS / "graphs"
    assert sorted(p.stem for p in folder.glob("*.svg")) == sorted(SPECS)
    page = (paths.DOCS / "graph.md").read_text(encoding="utf-8")
    assert all(f"graphs/{name}.svg" in page for name in SPECS)


def _fake_dot(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `dot` on PATH that runs ``script`` (the real Graphviz is not on this machine)."""
    dot = folder / "dot"
    dot.write_text(f"#!/bin/sh\n{script}\n")
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def test_graphviz_gets_the_dot_when_found(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "seen.dot"
    _fake_dot(tmp_path, f'[ "$1" = -Tsvg ] && cat > {seen} && echo "<svg/>"', monkeypatch)
    assert main(["graph", "egnn", "-p", "depth=2"]) == 0
    assert capsys.readouterr().out == "<svg/>\n"
    assert 'subgraph "cluster_layers.0.egnn_layer"' in seen.read_text()
    assert main(["graph", "egnn", "-p", "depth=2", "--layout", "python"]) == 0
    assert capsys.readouterr().out.startswith("<?xml")  # --layout python ignores Graphviz


def test_a_failing_graphviz_is_diagnosed(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dot(tmp_path, "echo 'Error: syntax error in line 3' >&2; exit 1", monkeypatch)
    assert main(["graph", "egnn", "-o", str(tmp_path / "g.svg")]) == 1
    err = capsys.readouterr().err
    assert "error[GEO509]" in err and "syntax error in line 3" in err
    assert not (tmp_path / "g.svg").exists()
