"""The built-in specs of the solver's groups: `emlp_o5` (O(5), tensors) and `lorentz_tagger`
(Lorentz(3) x S(particles)). Each compiles, passes `geoc check` in float64 below 1e-9 (one
graph and a batch), and uses the layers it is about."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc import cli, solver
from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check_module
from geoc.diagnostics import GeoError
from geoc.groups import GroupElement
from geoc.ir import Graph
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

SPECS = ["emlp_o5", "lorentz_tagger"]


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize("name", SPECS)
def test_spec_passes_the_numeric_check(name: str, graphs: int) -> None:
    module = compile(name, dtype=torch.float64)
    report = check_module(module, trials=6, graphs=graphs, sources={})
    assert report.passed, report.render()
    assert all(row.max_error < 1e-9 and row.rel_error < 1e-9 for row in report.outputs)


@pytest.mark.parametrize("name", SPECS)
def test_geoc_check_command(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", name]) == 0
    out = capsys.readouterr().out
    assert "every output transforms as declared" in out


def test_emlp_layers_are_built_from_the_basis() -> None:
    module = compile("emlp_o5", dtype=torch.float64)
    buffers = dict(module.named_buffers())
    basis = buffers["solver_basis.O5_tensor2_to_tensor2"]
    assert tuple(basis.shape) == (3, 25, 25)  # δδ, transpose, trace: the Brauer maps of O(5)
    assert "solver_invariants.O5_scalar_to_tensor2" in buffers  # a bias along δ
    coeffs = [name for name, _ in module.named_parameters() if ".coeff_" in name]
    assert coeffs and all(name.startswith(("layers.", "f.")) for name in coeffs)


def test_emlp_output_is_invariant_under_a_reflection() -> None:
    module = compile("emlp_o5", dtype=torch.float64)
    reflection = np.diag([-1.0, 1, 1, 1, 1])
    report = check_module(module, elements=[GroupElement(rotation=reflection)])
    assert report.passed and report.elements == ["rotation+reflection"], report.render()


def test_tagger_is_invariant_under_a_large_boost() -> None:
    """A boost of rapidity 2 along z (entries up to cosh 2 ≈ 3.8): still invariant, relative to
    the size of the logits."""
    boost = np.eye(4)
    boost[0, 0] = boost[3, 3] = np.cosh(2.0)
    boost[0, 3] = boost[3, 0] = np.sinh(2.0)
    eta = solver.minkowski_metric(3)
    assert np.allclose(boost.T @ eta @ boost, eta)
    module = compile("lorentz_tagger", dtype=torch.float64)
    element = GroupElement(matrix=boost, matrix_kind="boost")
    report = check_module(module, elements=[element], atol=1e-9)
    assert report.passed, report.render()
    assert report.outputs[0].rel_error < 1e-12


def test_tagger_with_a_euclidean_norm_is_rejected() -> None:
    from geoc.catalog import builtin_spec

    text = builtin_spec("lorentz_tagger").read_text()
    broken = text.replace("mdot(jet, jet)", "sqnorm(jet)")
    assert broken != text
    with pytest.raises(GeoError) as info:
        frontend(broken)
    assert info.value.codes == ["GEO420"]


def test_tagger_types() -> None:
    graph = frontend("lorentz_tagger")
    assert str(graph.group) == "Lorentz(3) x S(particles)"
    assert str(graph.inputs["p"].type) == "vector over particles"
    assert sum(node.op == "mdot" for node in graph.nodes) >= 4


@pytest.mark.parametrize("name", SPECS)
def test_ir_round_trips_through_json(name: str) -> None:
    graph = frontend(name)
    again = Graph.from_json(graph.to_json())
    assert again.group == graph.group and again.to_json() == graph.to_json()


def test_check_labels_the_lorentz_elements(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "lorentz_tagger"]) == 0
    assert "boost+rotation" in capsys.readouterr().out
