"""Imports: relative to the importing file, nested folders, built-in names, and the
diagnostics for escapes, missing files, cycles and duplicate names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoc.diagnostics import GeoError
from geoc.grammar.parser import parse
from geoc.pipeline import frontend
from geoc.program import load_program

LAYER = """block layer(h: 4 x scalar over set) -> 4 x scalar over set {
    return act(linear(h, 4 x scalar), relu)
}
"""


def model(imports: str, body: str = "h = layer(x)") -> str:
    return f"""{imports}
model M() {{
    symmetry S(set)
    domain   set(set)
    input x: 4 x scalar over set
    {body}
    output y: 4 x scalar over set = h
}}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def error(path: Path) -> tuple[str, int, int, str]:
    with pytest.raises(GeoError) as info:
        frontend(path)
    first = info.value.diagnostics[0]
    return first.code, first.span.line, first.span.col, first.span.file


def test_relative_import_of_a_block_file(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "layer.geo"'), "layer.geo": LAYER})
    graph = frontend(tmp_path / "main.geo")
    assert [n.op for n in graph] == ["input", "linear", "act"]
    assert str(graph.type_of(graph.outputs["y"].value)) == "4 x scalar over set"


def test_block_ids_are_scoped_by_the_call(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "layer.geo"'), "layer.geo": LAYER})
    ids = [n.id for n in frontend(tmp_path / "main.geo")]
    assert ids == ["input.x", "layer.return.linear", "layer.return"]


def test_nested_folder_import_resolves_from_the_importing_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.geo": model('import "lib/blocks.geo"', "h = twice(x)"),
            "lib/blocks.geo": 'import "more/layer.geo"\n'
            "block twice(h: 4 x scalar over set) -> 4 x scalar over set {\n"
            "    return layer(layer(h))\n}\n",
            "lib/more/layer.geo": LAYER,
        },
    )
    graph = frontend(tmp_path / "main.geo")
    assert sum(n.op == "linear" for n in graph) == 2


def test_builtin_spec_name_import(tmp_path: Path) -> None:
    text = """import "egnn"
model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=knn(4))
    input h: 8 x scalar over nodes
    input x: point(3) over nodes
    h, x = egnn_layer(h, x, hidden=8)
    output pos: point(3) over nodes = x
}
"""
    write(tmp_path, {"main.geo": text})
    graph = frontend(tmp_path / "main.geo")
    assert "egnn_layer.m" in {n.id for n in graph}


def test_import_that_climbs_out_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"sub/main.geo": model('import "../layer.geo"'), "layer.geo": LAYER})
    code, line, col, file = error(tmp_path / "sub/main.geo")
    assert (code, line, col) == ("GEO206", 1, 8)
    assert file.endswith("main.geo")


def test_import_through_a_subfolder_and_back_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"sub/main.geo": model('import "lib/../../layer.geo"'), "layer.geo": LAYER})
    assert error(tmp_path / "sub/main.geo")[:3] == ("GEO206", 1, 8)


def test_absolute_import_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"layer.geo": LAYER})
    write(tmp_path, {"main.geo": model(f'import "{tmp_path / "layer.geo"}"')})
    assert error(tmp_path / "main.geo")[:3] == ("GEO206", 1, 8)


def test_missing_import(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('\nimport "nowhere.geo"')})
    assert error(tmp_path / "main.geo")[:3] == ("GEO205", 2, 8)


def test_import_cycle(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.geo": model('import "a.geo"'),
            "a.geo": 'import "b.geo"\n' + LAYER,
            "b.geo": '# b needs a\nimport "a.geo"\n',
        },
    )
    code, line, col, file = error(tmp_path / "main.geo")
    assert (code, line, col) == ("GEO207", 2, 8)
    assert file.endswith("b.geo")


def test_a_file_importing_itself_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "main.geo"')})
    assert error(tmp_path / "main.geo")[0] == "GEO207"


def test_the_same_file_twice_is_a_duplicate_block(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"main.geo": model('import "layer.geo"\nimport "layer.geo"'), "layer.geo": LAYER},
    )
    code, line, col, file = error(tmp_path / "main.geo")
    assert (code, line, col) == ("GEO209", 1, 7) and file.endswith("layer.geo")


def test_duplicate_block_name(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model(LAYER + LAYER)})
    assert error(tmp_path / "main.geo")[:3] == ("GEO209", 4, 7)


def test_block_named_like_an_operator(tmp_path: Path) -> None:
    text = "block mlp(h: 4 x scalar over set) -> 4 x scalar over set {\n    return h\n}\n"
    write(tmp_path, {"main.geo": model(text, "h = mlp(x)")})
    with pytest.raises(GeoError) as info:
        frontend(tmp_path / "main.geo")
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col) == ("GEO209", 1, 7)
    assert "built-in operator" in first.message


def test_unknown_block_suggests_an_import_target(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "layer.geo"', "h = layr(x)"), "layer.geo": LAYER})
    with pytest.raises(GeoError) as info:
        frontend(tmp_path / "main.geo")
    assert info.value.codes == ["GEO201"]
    assert "did you mean `layer`?" in info.value.diagnostics[0].help


# --- the root rule: an import must stay inside the top spec's folder, links resolved --------


def refusal(path: Path) -> tuple[str, int, int, str, str]:
    with pytest.raises(GeoError) as info:
        frontend(path)
    first = info.value.diagnostics[0]
    assert first.help, "an import refusal says what to do"
    return first.code, first.span.line, first.span.col, first.span.file, first.message


def test_nested_file_may_climb_back_inside_the_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.geo": model('import "lib/twice.geo"', "h = twice(x)"),
            "lib/twice.geo": 'import "../layer.geo"\n'
            "block twice(h: 4 x scalar over set) -> 4 x scalar over set {\n"
            "    return layer(layer(h))\n}\n",
            "layer.geo": LAYER,
        },
    )
    assert sum(n.op == "linear" for n in frontend(tmp_path / "main.geo")) == 2


def test_nested_file_climbing_out_of_the_root_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "spec/main.geo": model('import "lib/twice.geo"', "h = twice(x)"),
            "spec/lib/twice.geo": '\nimport "../../layer.geo"\n',
            "layer.geo": LAYER,
        },
    )
    code, line, col, file, message = refusal(tmp_path / "spec/main.geo")
    assert (code, line, col) == ("GEO206", 2, 8) and file.endswith("twice.geo")
    assert "climbs out" in message


def test_symlink_to_a_file_outside_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"secret/layer.geo": LAYER, "spec/main.geo": model('import "layer.geo"')})
    (tmp_path / "spec/layer.geo").symlink_to(tmp_path / "secret/layer.geo")
    code, line, col, _, message = refusal(tmp_path / "spec/main.geo")
    assert (code, line, col) == ("GEO206", 1, 8) and "symbolic link" in message


def test_symlinked_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"secret/layer.geo": LAYER, "spec/main.geo": model('import "lib/layer.geo"')})
    (tmp_path / "spec/lib").symlink_to(tmp_path / "secret", target_is_directory=True)
    assert refusal(tmp_path / "spec/main.geo")[:3] == ("GEO206", 1, 8)


def test_symlink_to_a_system_file_is_refused_before_reading_it(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "passwd.geo"')})
    (tmp_path / "passwd.geo").symlink_to("/etc/passwd")
    code, _, _, _, message = refusal(tmp_path / "main.geo")
    assert code == "GEO206" and "root:" not in message


def test_symlink_staying_inside_the_root_is_followed(tmp_path: Path) -> None:
    write(tmp_path, {"lib/layer.geo": LAYER, "main.geo": model('import "alias.geo"')})
    (tmp_path / "alias.geo").symlink_to(tmp_path / "lib/layer.geo")
    assert [n.op for n in frontend(tmp_path / "main.geo")] == ["input", "linear", "act"]


def test_spec_reached_through_a_symlinked_folder_imports_its_neighbours(tmp_path: Path) -> None:
    write(tmp_path, {"real/main.geo": model('import "layer.geo"'), "real/layer.geo": LAYER})
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert [n.op for n in frontend(tmp_path / "link/main.geo")] == ["input", "linear", "act"]


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("loop.geo", lambda path: path.symlink_to(path), "cannot be resolved"),
        ("dir.geo", lambda path: path.mkdir(), "is not a regular file"),
        ("pipe.geo", os.mkfifo, "is not a regular file"),
    ],
)
def test_unusable_import_targets_are_diagnostics(
    tmp_path: Path, name: str, make, words: str
) -> None:
    make(tmp_path / name)
    write(tmp_path, {"main.geo": model(f'import "{name}"')})
    code, line, col, _, message = refusal(tmp_path / "main.geo")
    assert (code, line, col) == ("GEO205", 1, 8) and words in message


def test_import_name_too_long_is_a_diagnostic(tmp_path: Path) -> None:
    write(tmp_path, {"main.geo": model('import "' + "a" * 4000 + '.geo"')})
    assert refusal(tmp_path / "main.geo")[:3] == ("GEO205", 1, 8)


def test_spec_given_as_text_imports_from_the_working_folder_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"layer.geo": LAYER, "cwd/here.geo": LAYER})
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(GeoError) as info:
        frontend(model('import "../layer.geo"'))
    assert info.value.codes == ["GEO206"]


def test_builtin_spec_imports_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A built-in spec has no folder: its imports name built-in specs, never a file of the
    working folder."""
    write(tmp_path, {"layer.geo": LAYER})
    monkeypatch.chdir(tmp_path)
    text = model('import "layer.geo"')
    with pytest.raises(GeoError) as info:
        load_program(parse(text, "<builtin>/fake.geo"), text, None)
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col) == ("GEO205", 1, 8)
    assert "built-in" in first.help
