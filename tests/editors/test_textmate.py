"""The TextMate grammar (editors/vscode): up to date with geo.lark, and tokenizing every spec
of the repository under vscode-textmate + vscode-oniguruma (node) without an unmatched span.

"Unmatched" (editors/tests/tokenize.mjs): a non-whitespace character whose innermost scope is
the root `source.geo` or an `invalid.*` scope, the grammar's catch-all for a stray character.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import paths
import pytest

from geoc.grammar.textmate import KEYWORD_ROLES, lark_keywords, render

EDITORS = paths.REPO / "editors"
GRAMMAR = EDITORS / "vscode" / "syntaxes" / "geo.tmLanguage.json"
TOKENIZE = EDITORS / "tests" / "tokenize.mjs"
REGENERATE = "python -m geoc.grammar.textmate editors/vscode/syntaxes/geo.tmLanguage.json"
# Lexical errors in the malformed corpus: the stray character must stand out as invalid.
STRAY = {"32_dollar.geo": "$", "33_at_sign.geo": "@", "51_multiplication_sign.geo": "×"}


def test_the_committed_grammar_is_generated_from_the_language() -> None:
    assert GRAMMAR.read_text(encoding="utf-8") == render(), f"stale grammar: run `{REGENERATE}`"


def test_every_keyword_of_the_lark_grammar_has_a_scope() -> None:
    words = lark_keywords()
    assert {"model", "block", "import", "symmetry", "repeat", "over", "x"} <= words
    assert words == set(KEYWORD_ROLES)


def test_a_new_keyword_without_a_scope_is_named() -> None:
    assert lark_keywords('WHILE: "while"\n// "ignored"\nr: "over" NAME') == {"while", "over"}


def _tokenize(files: list[Path], dump: bool = False) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the TextMate grammar is tokenized under node")
    modules = EDITORS / "tests" / "node_modules"
    assert modules.is_dir(), "run scripts/setup (npm ci --prefix editors/tests) first"
    command = [node, str(TOKENIZE), str(GRAMMAR), *map(str, files), *(["--dump"] if dump else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {Path(k).name if len(files) == 1 else k: v for k, v in json.loads(done.stdout).items()}


@pytest.fixture(scope="module")
def corpus() -> dict:
    files = sorted([*paths.SPECS.glob("*.geo"), *paths.NONEQUIVARIANT.glob("*.geo")])
    files += sorted(paths.MALFORMED.glob("*.geo"))
    return _tokenize(files)


def test_every_spec_tokenizes_without_an_unmatched_span(corpus: dict) -> None:
    valid = {f: r for f, r in corpus.items() if Path(f).parent != paths.MALFORMED}
    assert len(valid) >= len(list(paths.SPECS.glob("*.geo"))) > 30
    assert {f: r["unmatched"] for f, r in valid.items() if r["unmatched"]} == {}


def test_stray_characters_are_marked_invalid(corpus: dict) -> None:
    for name, char in STRAY.items():
        found = corpus[str(paths.MALFORMED / name)]["unmatched"]
        assert [u["text"] for u in found] == [char], name
        assert found[0]["scope"].startswith("invalid.illegal")


SNIPPET = """\
import "egnn"  # note
block f(h: 16 x scalar over nodes, k: int = 2) -> 16 x scalar over nodes {
    m = sum(h[src] * 1.5e-3, over=edges); input = 0e + 2x1o
    return h
}
model M(n: int = 4) {
    symmetry E(3) x S(nodes)
    breaks SO+(1, 3) to SO(2) by x
    domain pointcloud(nodes, dim=3, edges=radius(1.0))
    input x: point(3) over nodes
    output y: n x vector over nodes = x - x
}
"""
EXPECTED = [  # (line, text, innermost scope), in order of appearance on each line
    (1, "import", "keyword.other.import"),
    (1, '"', "string.quoted.double"),
    (1, "# note", "comment.line.number-sign"),
    (2, "block", "storage.type.declaration"),
    (2, "f", "entity.name.function.declaration"),
    (2, "h", "variable.parameter"),
    (2, "x", "keyword.operator.multiplicity"),
    (2, "scalar", "support.type.atom"),
    (2, "over", "keyword.other.modifier"),
    (2, "int", "support.type.primitive"),
    (2, "->", "keyword.operator.arrow"),
    (3, "sum", "entity.name.function.call"),
    (3, "1.5e-3", "constant.numeric.float"),
    (3, "over", "variable.parameter"),  # a keyword argument, not the keyword
    (3, "input", "variable.other"),  # `input` assigned to: a name
    (3, "0e", "support.type.irreps"),
    (3, "2x1o", "support.type.irreps"),
    (4, "return", "keyword.control"),
    (7, "symmetry", "keyword.other.statement"),
    (7, "E", "support.type.group"),
    (7, "x", "keyword.operator.multiplicity"),
    (8, "SO", "support.type.group"),
    (8, "to", "keyword.other.modifier"),
    (8, "x", "variable.other"),  # the value after `by`
    (9, "pointcloud", "support.type.domain"),
    (9, "dim", "variable.parameter"),
    (10, "input", "keyword.other.statement"),
    (10, "x", "variable.other"),
    (11, "n", "variable.other"),
    (11, "x", "keyword.operator.multiplicity"),
]


def test_scopes_of_a_snippet(tmp_path: Path) -> None:
    spec = tmp_path / "snippet.geo"
    spec.write_text(SNIPPET, encoding="utf-8")
    report = _tokenize([spec], dump=True)["snippet.geo"]
    assert report["unmatched"] == []
    tokens = [(t["line"], t["text"], t["scopes"][-1]) for t in report["tokens"] if t["scopes"]]
    cursor = 0
    for line, text, scope in EXPECTED:  # each expected token, found in order
        found = next(i for i in range(cursor, len(tokens)) if tokens[i][:2] == (line, text))
        assert tokens[found][2] == f"{scope}.geo", (line, text, tokens[found][2])
        cursor = found + 1
