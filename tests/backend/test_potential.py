"""Exported potentials (backends/torch_fx/potential.py): energy, forces and stress as one
``torch.export`` program, run in a fresh interpreter without geoc, equal to the eager model on
other atom counts and on a batch; models that are not potentials are GEO504."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import NO_GEOC

import geoc
from geoc.backends.torch_fx.common.neighbour_kernels import neighbour_pairs
from geoc.backends.torch_fx.domains.cells import periodic_graph
from geoc.backends.torch_fx.verify.params import random_parameters
from geoc.diagnostics import GeoError

F64 = torch.float64
CUTOFF = 5.0
PARAMS = {"depth": 1, "channels": 4, "cutoff": CUTOFF}

_RUN_WITHOUT_GEOC = NO_GEOC + textwrap.dedent("""
    folder, cases, out = sys.argv[1:]
    import_folder(folder, "exported")
    from exported import potential
    field = potential.load()
    torch.save([field(**case) for case in torch.load(cases, weights_only=True)], out)
""")


def _run_without_geoc(folder: Path, cases: list[dict], tmp_path: Path) -> list[dict]:
    torch.save(cases, tmp_path / "cases.pt")
    command = [sys.executable, "-c", _RUN_WITHOUT_GEOC, str(folder)]
    subprocess.run([*command, str(tmp_path / "cases.pt"), str(tmp_path / "out.pt")], check=True)
    return torch.load(tmp_path / "out.pt", weights_only=True)


def _trained(periodic: bool) -> torch.nn.Module:
    """nequip with random weights (as if trained: not the initial ones)."""
    model = geoc.compile("nequip", {**PARAMS, "periodic": periodic}, dtype=F64)
    return random_parameters(model, np.random.default_rng(5))


def _periodic_case(rng: np.random.Generator, kinds: list[str], atoms: int) -> dict:
    graphs = [periodic_graph(rng, kind, atoms, CUTOFF) for kind in kinds]
    return {
        "z": torch.as_tensor(rng.integers(0, 4, atoms * len(kinds))),
        "pos": torch.as_tensor(np.concatenate([pos for _, _, pos in graphs])),
        "cell": torch.as_tensor(np.stack([cell for cell, _, _ in graphs])),
        "pbc": torch.as_tensor(np.stack([pbc for _, pbc, _ in graphs])),
        "batch": torch.arange(len(kinds)).repeat_interleave(atoms),
    }


def _open_case(rng: np.random.Generator, graphs: int, atoms: int) -> dict:
    return {
        "z": torch.as_tensor(rng.integers(0, 4, atoms * graphs)),
        "pos": torch.as_tensor(rng.random((atoms * graphs, 3)) * 6.0),
        "batch": torch.arange(graphs).repeat_interleave(atoms),
    }


def _eager(model: torch.nn.Module, case: dict, periodic: bool) -> dict:
    if periodic:
        return geoc.energy_forces_stress(model, case)
    pos = case["pos"].clone().requires_grad_(True)
    energy = model(**{**case, "pos": pos})["energy"]
    (grad,) = torch.autograd.grad(energy.sum(), pos)
    return {"energy": energy, "forces": -grad}


@pytest.mark.slow
@pytest.mark.parametrize("periodic", [True, False])
def test_the_exported_potential_runs_without_geoc_on_other_sizes_and_batches(
    periodic: bool, tmp_path: Path
) -> None:
    """Exported from two graphs of five atoms; run on one graph of 7 and of 12 atoms and on a
    batch of three graphs (periodic: bulk, slab and molecule), forces to 1e-6."""
    model = _trained(periodic)
    folder = geoc.export_potential(model, tmp_path / "nequip")
    rng = np.random.default_rng(0)
    if periodic:
        cases = [_periodic_case(rng, ["bulk"], 7), _periodic_case(rng, ["tiny"], 12)]
        cases.append(_periodic_case(rng, ["bulk", "slab", "molecule"], 6))
    else:
        cases = [_open_case(rng, 1, 7), _open_case(rng, 1, 12), _open_case(rng, 3, 6)]
    got = _run_without_geoc(folder, cases, tmp_path)
    for case, out in zip(cases, got, strict=True):
        expected = _eager(model, case, periodic)
        for name, value in expected.items():
            if name != "stress_voigt":
                expected_value = value.detach()  # a molecule (zero cell) has a NaN stress
                torch.testing.assert_close(
                    out[name], expected_value, rtol=1e-6, atol=1e-9, equal_nan=True
                )
    assert (folder / "potential.pt2").is_file() and (folder / "weights.pt").is_file()


def test_a_model_that_is_not_a_potential_is_geo504(tmp_path: Path) -> None:
    for spec in ("egnn", "deepsets"):  # full edges; a set without positions
        with pytest.raises(GeoError) as info:
            geoc.export_potential(geoc.compile(spec), tmp_path / spec)
        assert info.value.diagnostics[0].code == "GEO504"
        assert not (tmp_path / spec).exists()  # nothing half-written


def test_given_edges_compute_what_the_module_finds_itself() -> None:
    """The twin an export traces takes the neighbour list as inputs: the same energy."""
    model = _trained(False)
    twin = geoc.compile("nequip", {**PARAMS, "periodic": False}, dtype=F64, given_edges=True)
    twin.load_state_dict(model.state_dict())
    case = _open_case(np.random.default_rng(1), 2, 6)
    src, dst, _ = neighbour_pairs(case["pos"], CUTOFF, case["batch"])
    edges = torch.stack((src, dst))
    torch.testing.assert_close(model(**case)["energy"], twin(**case, edge_index=edges)["energy"])
    with pytest.raises(geoc.InputError) as info:
        twin(**case, edge_index=edges.t().contiguous())
    assert info.value.code == "GEO614"


def test_a_given_edge_shift_is_validated() -> None:
    twin = geoc.compile("nequip", {**PARAMS, "periodic": True}, dtype=F64, given_edges=True)
    case = _periodic_case(np.random.default_rng(2), ["bulk"], 4)
    edges = torch.tensor([[0, 1], [1, 0]])
    for shift, code in [
        (torch.zeros(2, 3), "GEO613"),
        (torch.zeros(3, 3, dtype=torch.long), "GEO612"),
        (torch.zeros(2, 2, dtype=torch.long), "GEO611"),
    ]:
        with pytest.raises(geoc.InputError) as info:
            twin(**case, edge_index=edges, edge_shift=shift)
        assert (info.value.code, info.value.input) == (code, "edge_shift")


def test_the_cli_switch_needs_a_folder_and_a_potential(tmp_path: Path, capsys) -> None:
    from geoc import cli

    assert cli.main(["compile", "nequip", "--potential"]) == 1
    assert "GEO191" in capsys.readouterr().err
    assert cli.main(["compile", "egnn", "--potential", "-o", str(tmp_path / "e")]) == 1
    assert "GEO504" in capsys.readouterr().err and not (tmp_path / "e").exists()
