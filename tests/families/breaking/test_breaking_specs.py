"""The built-in specs that declare a break (`aether`, `sh_encoder`, `fno_grid`) trace with
`torch.compile(fullgraph=True)` (aot_eager) and `torch.export`, and run from an exported folder
without geoc; the folder's manifest names the declaration."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import assert_captures, run_exported

import geoc
from geoc.backends.torch_fx.export import write_folder

SMALL = {
    "aether": {"hidden": 8, "depth": 2, "field": 8},
    "sh_encoder": {"lmax": 3, "hidden": 8},
    "fno_grid": {"width": 8, "hidden": 4, "modes": 4, "depth": 2},
}


def inputs_of(spec: str) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    if spec == "aether":
        n = 5
        return {
            "h": torch.randn(n, 2, generator=gen),
            "x": torch.randn(n, 3, generator=gen),
            "v": torch.randn(n, 3, generator=gen),
        }
    if spec == "sh_encoder":
        return {"u": torch.randn(6, 3, generator=gen)}
    return {"a": torch.randn(2, 1, 64, 64, generator=gen)}


@pytest.mark.parametrize("spec", sorted(SMALL))
def test_traces_exports_and_runs_without_geoc(spec, tmp_path):
    module = geoc.compile(spec, params=SMALL[spec])
    inputs = inputs_of(spec)
    expected = assert_captures(module, inputs, atol=1e-5)
    folder = write_folder(module, tmp_path / spec, f"specs/{spec}.geo")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["declared_symmetry"] == module.meta["geoc_symmetry"]["text"]
    loaded = run_exported(folder, inputs, tmp_path)
    for name, value in expected.items():
        assert torch.allclose(loaded[name], value, atol=1e-6), name


def test_geoc_check_text_and_json_name_the_remainder_and_the_declaration(capsys, tmp_path):
    from cli_runner import run

    target = tmp_path / "verdict.json"
    code, out, _ = run(capsys, "check", "aether", "--trials", "2", "--json", str(target))
    assert code == 0, out
    assert out.startswith("static: `Aether` is equivariant under S(particles) by its type rules")
    assert "declared E(3) x S(particles), E(3) broken by `at`" in out
    assert "geoc check: Aether under S(particles)," in out
    assert "the declared breaking is real" in out
    assert "every output transforms as declared under S(particles); E(3) broken by `at`" in out
    verdict = json.loads(target.read_text())
    assert verdict["verified"] == "S(particles)" and verdict["declared"] == "E(3) x S(particles)"
    assert verdict["broken"] == "E(3) broken by `at`" and verdict["breaking_observed"] is True
    assert verdict["passed"] is True
    code, out, _ = run(capsys, "compile", "aether")
    assert "symmetry  S(particles); E(3) broken by `at`" in out
