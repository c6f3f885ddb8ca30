"""Golden files of every spec: its AST, its typed IR and its generated code.

A parser, elaborator or lowering change that alters any spec shows up here as a readable
diff; refactors must leave all three unchanged. Specs: the built-in library (AST, IR, code)
and the spec files under ``tests/`` that elaborate (IR before the equivariance proof, which
the non-equivariant ones fail on purpose). ``GEOC_UPDATE_GOLDEN=1 pytest
tests/golden/test_specs_golden.py`` rewrites the files instead (review the diff before committing).

The code golden names each runtime function by its own name, not by the module it lives in,
so moving a kernel between files keeps it; parameters are listed with shape and a checksum of
their seeded initial values.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import paths
import pytest
import torch

from geoc.grammar import ast
from geoc.grammar.parser import parse, parse_file

SPECS = sorted(paths.SPECS.glob("*.geo"))
TEST_SPECS = sorted(paths.NONEQUIVARIANT.glob("*.geo"))
GOLDEN = paths.TESTS / "golden"
UPDATE = os.environ.get("GEOC_UPDATE_GOLDEN") == "1"


def check_golden(kind: str, name: str, text: str) -> None:
    golden = GOLDEN / kind / f"{name}.{kind}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.exists(), f"no {golden}: run with GEOC_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(encoding="utf-8")


def elaborated_ir(spec: Path) -> str:
    """The typed IR of a spec, before the equivariance proof and dead-code elimination, or
    the diagnostics of a spec that does not type."""
    from geoc.diagnostics import GeoError
    from geoc.elaborate import elaborate
    from geoc.program import load_program

    text = spec.read_text(encoding="utf-8")
    try:
        program = load_program(parse(text, spec.name), text, spec)
        return elaborate(program, None, None).to_json() + "\n"
    except GeoError as error:
        return error.render() + "\n"


def generated_code(spec: Path) -> str:
    """``forward`` as fx writes it, runtime functions by name, then every parameter and
    buffer with its shape, dtype and a checksum of its seeded value."""
    import geoc

    module = geoc.compile(spec, dtype=torch.float64)
    code = module.graph.python_code(root_module="self")
    src = code.src
    for alias, value in sorted(code.globals.items(), key=lambda kv: -len(kv[0])):
        if callable(value) and getattr(value, "__module__", "").startswith("geoc."):
            src = src.replace(alias, f"geoc.{value.__name__}")
    lines = [src.strip("\n"), ""]
    for name, tensor in module.state_dict().items():
        total = tensor.double().sum().item() if tensor.numel() else 0.0
        lines.append(f"{name}: {tuple(tensor.shape)} {tensor.dtype} sum={total:.10g}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_ast_matches_golden(spec: Path) -> None:
    check_golden("ast", spec.stem, ast.dump(parse_file(spec)) + "\n")


@pytest.mark.parametrize("spec", SPECS + TEST_SPECS, ids=lambda p: p.name)
def test_spec_ir_matches_golden(spec: Path) -> None:
    check_golden("ir", spec.stem, elaborated_ir(spec))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_code_matches_golden(spec: Path) -> None:
    check_golden("code", spec.stem, generated_code(spec))


GOLDEN_KINDS: dict[str, list[Path]] = {
    "ast": SPECS,
    "ir": SPECS + TEST_SPECS,
    "code": SPECS,
}


@pytest.mark.parametrize("kind", sorted(GOLDEN_KINDS))
def test_every_golden_file_has_a_spec(kind: str) -> None:
    """A removed or renamed spec must take its golden files with it."""
    stems = {spec.stem for spec in GOLDEN_KINDS[kind]}
    files = list((GOLDEN / kind).glob(f"*.{kind}"))
    remove: Callable[[Path], None] = Path.unlink
    if UPDATE:
        for stale in files:
            if stale.stem not in stems:
                remove(stale)
        files = list((GOLDEN / kind).glob(f"*.{kind}"))
    assert {g.stem for g in files} <= stems
