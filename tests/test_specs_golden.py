"""Golden AST dumps of the built-in specs: a parser change that alters any spec's tree shows
up here as a readable diff. ``GEOC_UPDATE_GOLDEN=1 pytest tests/test_specs_golden.py``
rewrites the files instead (review the diff before committing it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoc.grammar import ast
from geoc.grammar.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.geo"))
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GEOC_UPDATE_GOLDEN") == "1"


def golden_path(spec: Path) -> Path:
    return GOLDEN / f"{spec.stem}.ast"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_ast_matches_golden(spec: Path) -> None:
    dumped = ast.dump(parse_file(spec)) + "\n"
    golden = golden_path(spec)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(dumped, encoding="utf-8")
        return
    assert golden.exists(), f"no {golden.name}: run with GEOC_UPDATE_GOLDEN=1 to create it"
    assert dumped == golden.read_text(encoding="utf-8")


def test_every_golden_file_has_a_spec() -> None:
    """A removed or renamed spec must take its golden file with it."""
    stems = {spec.stem for spec in SPECS}
    if UPDATE:
        for stale in GOLDEN.glob("*.ast"):
            if stale.stem not in stems:
                stale.unlink()
    assert {g.stem for g in GOLDEN.glob("*.ast")} <= stems
