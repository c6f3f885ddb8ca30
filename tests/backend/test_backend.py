"""The torch.fx backend: naming, determinism, readable code, tracing and export, devices."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import assert_captures, run_exported

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common.kernels import safe_norm
from geoc.backends.torch_fx.export import generated_source, write_folder
from geoc.backends.torch_fx.lower import LOWERINGS, load_lowerings
from geoc.diagnostics import GeoError
from geoc.ops import REGISTRY, lookup

EGNN_INPUTS = {"h": torch.randn(5, 16), "x": torch.randn(5, 3)}


def test_parameters_are_named_after_the_spec() -> None:
    keys = list(geoc_compile("egnn", params={"depth": 2}).state_dict())
    assert keys[:2] == ["h.weight", "h.bias"]
    assert "layers.1.egnn_layer.m.0.weight" in keys
    assert "layers.1.egnn_layer.dx.mul.mlp.1.bias" in keys
    assert "energy.mlp.1.weight" in keys


def test_initialisation_is_deterministic_under_the_seed() -> None:
    a = geoc_compile("egnn", params={"depth": 1}, seed=5).state_dict()
    b = geoc_compile("egnn", params={"depth": 1}, seed=5).state_dict()
    c = geoc_compile("egnn", params={"depth": 1}, seed=6).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_generated_code_is_readable() -> None:
    code = geoc_compile("egnn", params={"depth": 1}, optimize="none").code
    assert "layers_0_egnn_layer_m_concat = torch.cat(" in code
    assert "full_edges(x, batch)" in code
    rewritten = geoc_compile("egnn", params={"depth": 1}).code  # the first layer split by parts
    assert "layers_0_egnn_layer_m_concat = torch.cat(" not in rewritten
    assert "gathered_layer([h_1, layers_0_egnn_layer_m_concat_sqnorm]" in rewritten


def test_every_surface_operator_has_a_lowering() -> None:
    lookup("linear")  # loads the families
    load_lowerings()

    missing = {name for name in REGISTRY if name not in LOWERINGS}
    assert not missing, f"operators without a lowering: {sorted(missing)}"


def test_operator_without_lowering_is_geo501(monkeypatch: pytest.MonkeyPatch) -> None:
    load_lowerings()  # registers the lowerings to remove one

    monkeypatch.delitem(LOWERINGS, "sfno_conv")
    with pytest.raises(GeoError) as err:
        geoc_compile("sfno")
    assert err.value.codes[0] == "GEO501"
    assert "sfno_conv" in err.value.render()


def test_missing_device_is_a_diagnostic() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(GeoError) as err:
        geoc_compile("deepsets", device="cuda")
    assert err.value.codes == ["GEO502"]


@pytest.mark.parametrize("spec", ["egnn", "deepsets"])
def test_fullgraph_capture_and_export(spec: str) -> None:
    model = geoc_compile(spec, params={"depth": 2} if spec == "egnn" else None)
    inputs = EGNN_INPUTS if spec == "egnn" else {"x": torch.randn(6, 8)}
    assert_captures(model, inputs, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["egnn", "deepsets"])
def test_inductor_compiles_fullgraph(spec: str) -> None:
    """The default torch.compile backend (inductor), as users call it."""
    model = geoc_compile(spec, params={"depth": 1} if spec == "egnn" else None)
    inputs = EGNN_INPUTS if spec == "egnn" else {"x": torch.randn(6, 8)}
    out = torch.compile(model, fullgraph=True)(**inputs)
    for name, value in model(**inputs).items():
        assert torch.allclose(out[name], value, atol=1e-5)


def test_export_folder_loads_without_geoc(tmp_path: Path) -> None:
    model = geoc_compile("egnn", params={"depth": 2}, seed=1)
    folder = write_folder(model, tmp_path / "build" / "egnn", "specs/egnn.geo")
    names = {p.name for p in folder.iterdir()}
    assert {"__init__.py", "geoc_runtime.py", "manifest.json", "module.py", "weights.pt"} <= names
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["symmetry"] == "E(3) x S(nodes)"
    assert [i["name"] for i in manifest["inputs"]] == ["h", "x"]
    loaded = run_exported(folder, EGNN_INPUTS, tmp_path)
    expected = model(**EGNN_INPUTS)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_export_folder_runs_as_plain_files(tmp_path: Path) -> None:
    """Kernel copies that import each other (the common ``safe_norm``) also load when the
    folder is on ``sys.path`` rather than imported as a package."""
    folder = write_folder(geoc_compile("deepsets", seed=1), tmp_path / "deepsets")
    script = (
        f"import sys; sys.path.insert(0, {str(folder)!r}); import module\n"
        "module.load()\n"
        "assert 'geoc' not in sys.modules and 'geoc_runtime' in sys.modules\n"
        "assert sys.modules['geoc_runtime_o3'].safe_norm is sys.modules['geoc_runtime'].safe_norm"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)


def test_export_replaces_an_old_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    write_folder(geoc_compile("deepsets"), target)
    assert not (target / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_generated_source_is_plain_python() -> None:
    source = generated_source(geoc_compile("deepsets"), "specs/deepsets.geo")
    compile(source, "module.py", "exec")
    assert "geoc_backends" not in source
    assert "rt.pool_max(" in source


@pytest.mark.parametrize("keepdim", [False, True])
def test_safe_norm_at_zero_is_positive_with_zero_derivatives(keepdim: bool) -> None:
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    value = safe_norm(x, keepdim=keepdim)
    assert value.shape == ((1,) if keepdim else ())
    assert value.item() == math.sqrt(torch.finfo(torch.float64).tiny)
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.equal(grad, torch.zeros(3, dtype=torch.float64))
    hessian = torch.autograd.functional.hessian(lambda v: safe_norm(v).sum(), x.detach())
    assert torch.equal(hessian, torch.zeros(3, 3, dtype=torch.float64))


def test_safe_norm_away_from_zero_is_the_norm_with_its_derivatives() -> None:
    x = torch.tensor([3.0, -4.0, 12.0], dtype=torch.float64)
    assert safe_norm(x).item() == 13.0
    grad = torch.autograd.functional.jacobian(safe_norm, x)
    torch.testing.assert_close(grad, x / 13, rtol=0, atol=1e-15)
    hessian = torch.autograd.functional.hessian(safe_norm, x)
    expected = (torch.eye(3, dtype=torch.float64) - torch.outer(x, x) / 169) / 13
    torch.testing.assert_close(hessian, expected, rtol=0, atol=1e-15)
