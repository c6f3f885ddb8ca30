"""Manifold-valued models end to end: deep float32 stacks stay on their manifolds, the built-in
manifold specs check (equivariance and membership), capture with torch.compile(fullgraph) and
torch.export, and train their manifold parameters with geoopt's RiemannianAdam; geoc's runtime
never imports geoopt."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from helpers import assert_captures, run_exported

from geoc import cli
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.manifold import kernels as rtm
from geoc.backends.torch_fx.manifold.riemannian import manifold_parameters, to_geoopt
from geoc.backends.torch_fx.manifold.verify import membership_error
from geoc.backends.torch_fx.verify import check, check_module, record

with warnings.catch_warnings():  # geoopt 0.5.1 decorates with the deprecated torch.jit.script
    warnings.simplefilter("ignore", DeprecationWarning)
    import geoopt

pytestmark = pytest.mark.usefixtures("one_thread")
MANIFOLD_SPECS = ["lorentz_mlp", "hgcn", "poincare_mlp", "spdnet"]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def spd_input(n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    a = torch.randn(n, n, generator=gen(seed), dtype=torch.float64)
    return (a @ a.T / n + 0.5 * torch.eye(n, dtype=torch.float64)).reshape(-1).to(dtype)


def inputs_of(spec: str) -> dict[str, torch.Tensor]:
    g = gen(1)
    return {
        "lorentz_mlp": lambda: {"x": torch.randn(64, generator=g)},
        "poincare_mlp": lambda: {"x": torch.randn(16, generator=g)},
        "spdnet": lambda: {"x": spd_input(6)},
        "hgcn": lambda: {
            "x": torch.randn(7, 16, generator=g),
            "edge_index": torch.tensor([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 6, 0]]),
        },
    }[spec]()


# --- deep stacks in float32 -------------------------------------------------------------------

DEEP_LORENTZ = """model Deep() {
    symmetry S(set)
    domain set(set)
    input x: 16 x scalar over set
    z = expmap0(x, manifold=lorentz(16, k=1.0))
    repeat 20 {
        z = lorentz_linear(z, 16, act=relu)
    }
    output z: lorentz(16, k=1.0) over set = z
}
"""


def _worst_membership(module: torch.fx.GraphModule, inputs: dict) -> float:
    ir = module.meta["geoc_ir"]
    values = record(module, inputs).values
    return max(membership_error(values[n.id], n.out_types[0], ir.group) for n in ir.nodes)


def test_twenty_lorentz_linear_layers_stay_on_the_hyperboloid_in_float32() -> None:
    module = geoc_compile(DEEP_LORENTZ, seed=3)
    x = torch.randn(64, 16, generator=gen(0)) * 3.0
    worst = _worst_membership(module, {"x": x})
    assert worst < 1e-4, worst  # relative: |<x,x>_L + 1/k| / |x|²
    out = module(x=x)["z"]
    assert torch.isfinite(out).all()
    assert check_module(module, trials=2, dtype=torch.float32, atol=1e-4, sources={}).passed


def test_poincare_values_stay_inside_the_ball_under_the_clipping_rule() -> None:
    """Large weights push every point to the boundary; the clip keeps |x| <= (1 - 4e-3)/sqrt(c)
    in float32 and nothing becomes NaN."""
    text = """model Deep() {
    symmetry trivial
    input x: 8 x scalar
    h = expmap0(x, manifold=poincare(8, c=2.0))
    repeat 10 {
        h = mobius_linear(h, 8, act=tanh)
    }
    output h: poincare(8, c=2.0) = mobius_add(h, h)
}
"""
    module = geoc_compile(text, seed=1)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("weight"):
                param.mul_(50.0)
    x = torch.randn(8, generator=gen(2)) * 30.0
    values = record(module, {"x": x}).values
    limit = (1 - rtm.BALL_EPS[torch.float32]) / 2.0**0.5
    for node in module.meta["geoc_ir"].nodes:
        if node.out_types[0].has_manifold:
            radius = float(values[node.id].norm())
            assert radius <= limit * (1 + 1e-6), (node.id, radius)
    assert torch.isfinite(module(x=x)["h"]).all()


def test_gradients_are_finite_at_the_origin() -> None:
    for kernel in (rtm.lorentz_expmap0, rtm.poincare_expmap0):
        v = torch.zeros(2, 4, requires_grad=True)
        kernel(v, 1.0, 1).sum().backward()
        assert torch.isfinite(v.grad).all()
    x = torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True)
    rtm.lorentz_logmap0(x, 1.0, 1).sum().backward()
    assert torch.isfinite(x.grad).all()


# --- the built-in manifold specs --------------------------------------------------------------


def test_hgcn_is_permutation_equivariant_to_1e_10() -> None:
    report = check("hgcn", graphs=3, trials=4)
    assert report.passed, report.render()
    assert max(row.max_error for row in report.outputs) < 1e-10
    assert [row.manifold for row in report.membership] == ["lorentz"]
    assert report.membership[0].error < 1e-12


def test_spdnet_is_invariant_under_congruence_to_1e_8() -> None:
    report = check("spdnet", trials=6)
    assert report.passed, report.render()
    assert "rotation+reflection" in report.elements
    assert max(row.max_error for row in report.outputs) < 1e-8


@pytest.mark.parametrize("spec", MANIFOLD_SPECS)
def test_geoc_check_passes_with_membership(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    code = cli.main(["check", spec])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "manifold membership" in out and "ok" in out


@pytest.mark.parametrize("spec", MANIFOLD_SPECS)
def test_fullgraph_capture_and_export(spec: str) -> None:
    model = geoc_compile(spec)
    inputs = inputs_of(spec)
    assert_captures(model, inputs, atol=1e-5)


def test_a_lowering_that_leaves_the_manifold_is_geo601(monkeypatch: pytest.MonkeyPatch) -> None:
    original = rtm.lorentz_linear
    monkeypatch.setattr(rtm, "lorentz_linear", lambda *a: original(*a) * 1.001)
    report = check("lorentz_mlp")
    assert not report.passed
    assert not report.membership[0].passed
    assert "error[GEO601]" in report.render() and "layers.0.z" in report.render()


# --- Riemannian training ----------------------------------------------------------------------

SPD_BIMAP = """model BiMapNet() {
    symmetry trivial
    input x: spd(5)
    r = reeig(bimap(x, 3))
    output y: 2 x scalar = mlp(eigvals(logeig(r)), [8, 2])
}
"""


def test_manifold_parameters_are_recorded() -> None:
    assert manifold_parameters(geoc_compile(SPD_BIMAP)) == {
        "r.bimap.weight": {"manifold": "stiefel"}
    }
    params = manifold_parameters(geoc_compile("poincare_mlp"))
    assert params["logits.p"] == {"manifold": "poincare", "c": 1.0}
    assert params["layers.0.h.bias"]["manifold"] == "poincare"


@pytest.mark.parametrize("spec", [SPD_BIMAP, "poincare_mlp"])
def test_riemannian_adam_keeps_parameters_on_their_manifolds(spec: str) -> None:
    model = to_geoopt(geoc_compile(spec, dtype=torch.float64))
    tagged = manifold_parameters(model)
    assert all(isinstance(model.get_parameter(n), geoopt.ManifoldParameter) for n in tagged)
    optimiser = geoopt.optim.RiemannianAdam(model.parameters(), lr=0.05)
    before = {n: model.get_parameter(n).detach().clone() for n in tagged}
    for step in range(8):
        inputs = (
            {"x": spd_input(5, step, torch.float64)}
            if spec == SPD_BIMAP
            else {"x": torch.randn(16, generator=gen(step), dtype=torch.float64)}
        )
        out = next(iter(model(**inputs).values()))
        loss = (out - torch.arange(out.shape[-1], dtype=out.dtype)).pow(2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    for name in tagged:
        param = model.get_parameter(name)
        assert not torch.allclose(param, before[name])  # it trained
        param.manifold.assert_check_point_on_manifold(param.detach(), atol=1e-6, rtol=1e-6)


def test_geoc_runtime_does_not_import_geoopt() -> None:
    script = (
        "import sys, torch, geoc\n"
        "m = geoc.compile('poincare_mlp'); m(x=torch.randn(16))\n"
        "m = geoc.compile('spdnet'); m(x=torch.eye(6).reshape(-1))\n"
        "assert 'geoopt' not in sys.modules, 'geoopt was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_every_manifold_operator_has_a_lowering() -> None:
    from geoc.backends.torch_fx.lower import LOWERINGS, load_lowerings
    from geoc.ops import REGISTRY, lookup

    lookup("linear")
    load_lowerings()
    assert {n for n, op in REGISTRY.items() if op.family == "manifold"} <= set(LOWERINGS)


def test_exported_folder_runs_without_geoc(tmp_path: Path) -> None:
    model = geoc_compile("spdnet", seed=2)
    folder = write_folder(model, tmp_path / "spdnet", "specs/spdnet.geo")
    assert (folder / "geoc_runtime_manifold.py").is_file()
    x = spd_input(6)
    out = run_exported(folder, {"x": x}, tmp_path)
    assert torch.equal(out["logits"], model(x=x)["logits"])
