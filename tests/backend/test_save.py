"""Saving trained models (backends/torch_fx/saving.py): ``geoc.save`` writes the trained weights
in a folder whose ``load()`` runs without geoc and gives the trained module's outputs bit for
bit; ``geoc.load`` compiles it again into geoc; state dicts and pickles round-trip; writes are
atomic; folders geoc cannot rebuild are GEO505."""

from __future__ import annotations

import copy
import io
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import NO_GEOC

import geoc
from geoc.backends.torch_fx.export import write_folder
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

PARAMS = {"depth": 1, "channels": 4, "cutoff": 3.0, "periodic": True}


@pytest.fixture(autouse=True)
def one_thread():
    """One thread here and in the fresh interpreter: the order of a sum is then the same."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _atoms(seed: int, count: int = 8) -> dict[str, torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    return {
        "z": torch.randint(0, 4, (count,), generator=rng),
        "pos": 6.0 * torch.rand(count, 3, generator=rng),
        "cell": 6.0 * torch.eye(3)[None],
        "pbc": torch.ones(1, 3, dtype=torch.bool),
    }


def _energy_forces(model: torch.nn.Module, atoms: dict) -> tuple[torch.Tensor, torch.Tensor]:
    pos = atoms["pos"].clone().requires_grad_(True)
    energy = model(**{**atoms, "pos": pos})["energy"]
    (forces,) = torch.autograd.grad(-energy.sum(), pos)
    return energy.detach(), forces


@pytest.fixture(scope="module")
def trained() -> torch.nn.Module:
    """nequip (float32) after a few Adam steps on energies and forces of random data."""
    torch.manual_seed(0)
    model = geoc.compile("nequip", PARAMS)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(3):
        atoms = _atoms(step)
        pos = atoms["pos"].requires_grad_(True)
        energy = model(**atoms)["energy"]
        (forces,) = torch.autograd.grad(-energy.sum(), pos, create_graph=True)
        loss = (energy - 1.0).pow(2).sum() + forces.pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model


_RUN_WITHOUT_GEOC = NO_GEOC + textwrap.dedent("""
    torch.set_num_threads(1)
    folder, atoms, out = sys.argv[1:]
    model = import_folder(folder, "saved").load()
    atoms = torch.load(atoms, weights_only=True)
    pos = atoms["pos"].clone().requires_grad_(True)
    energy = model(**{**atoms, "pos": pos})["energy"]
    (forces,) = torch.autograd.grad(-energy.sum(), pos)
    torch.save((energy.detach(), forces), out)
""")


@pytest.mark.slow  # a fresh interpreter importing torch
def test_a_saved_model_runs_without_geoc_bit_for_bit(trained, tmp_path: Path) -> None:
    folder = geoc.save(trained, tmp_path / "potential")
    atoms = _atoms(7)
    torch.save(atoms, tmp_path / "atoms.pt")
    command = [sys.executable, "-c", _RUN_WITHOUT_GEOC, str(folder)]
    subprocess.run([*command, str(tmp_path / "atoms.pt"), str(tmp_path / "out.pt")], check=True)
    energy, forces = torch.load(tmp_path / "out.pt", weights_only=True)
    expected_energy, expected_forces = _energy_forces(trained, atoms)
    assert torch.equal(energy, expected_energy)
    assert torch.equal(forces, expected_forces)


def test_the_manifest_records_how_to_build_the_model_again(trained, tmp_path: Path) -> None:
    folder = geoc.save(trained, tmp_path / "potential")
    build = json.loads((folder / "manifest.json").read_text())["build"]
    assert build == {
        "file": "nequip",
        "model": None,
        "params": PARAMS,
        "dtype": None,
        "given_edges": False,
        "seed": 0,
        "tp_algorithm": "auto",
        "validate": True,
        "optimize": "ir",
    }
    assert "model NequIP" in (folder / "spec.geo").read_text()


def test_geoc_load_gives_the_trained_module_back(trained, tmp_path: Path) -> None:
    loaded = geoc.load(geoc.save(trained, tmp_path / "potential"))
    atoms = _atoms(8)
    for got, expected in zip(
        _energy_forces(loaded, atoms), _energy_forces(trained, atoms), strict=True
    ):
        assert torch.equal(got, expected)
    assert all(p.requires_grad for p in loaded.parameters())  # it trains on
    assert loaded.meta["geoc_build"] == trained.meta["geoc_build"]


@pytest.mark.slow  # torch.export
def test_an_exported_potential_is_a_saved_model_too(tmp_path: Path) -> None:
    molecule = geoc.compile("nequip", {**PARAMS, "periodic": False})
    folder = geoc.export_potential(molecule, tmp_path / "potential", spec="nequip.geo")
    atoms = {"z": _atoms(12)["z"], "pos": _atoms(12)["pos"]}
    assert torch.equal(geoc.load(folder)(**atoms)["energy"], molecule(**atoms)["energy"])


def test_a_state_dict_round_trips_through_torch_save(trained) -> None:
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    fresh = geoc.compile("nequip", PARAMS)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    atoms = _atoms(9)
    assert torch.equal(fresh(**atoms)["energy"], trained(**atoms)["energy"])


def _whole_module_copies(model: torch.nn.Module) -> list[torch.nn.Module]:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copied = copy.deepcopy(model)
    return [
        torch.load(buffer, weights_only=False),
        pickle.loads(pickle.dumps(model)),
        copied,
        pickle.loads(pickle.dumps(copied)),  # a copy pickles too
    ]


def test_a_compiled_module_pickles_and_copies(trained) -> None:
    atoms = _atoms(10)
    expected = trained(**atoms)["energy"]
    for copied in _whole_module_copies(trained):
        assert torch.equal(copied(**atoms)["energy"], expected)
        assert copied.training == trained.training


def test_a_moved_module_pickles_with_its_dtypes(trained) -> None:
    double = copy.deepcopy(trained).double()
    atoms = {k: v.double() if v.is_floating_point() else v for k, v in _atoms(11).items()}
    copied = pickle.loads(pickle.dumps(double))
    assert torch.equal(copied(**atoms)["energy"], double(**atoms)["energy"])


def test_a_module_compiled_from_ir_says_what_to_use_instead_of_pickle() -> None:
    model = geoc.compile(frontend("nequip", PARAMS))
    with pytest.raises(TypeError, match=r"state_dict\(\).*geoc\.save"):
        pickle.dumps(model)


def test_geoc_load_refuses_a_folder_it_cannot_rebuild(trained, tmp_path: Path) -> None:
    unrecorded = write_folder(trained, tmp_path / "plain", "nequip")  # no build record
    with pytest.raises(GeoError, match=r"GEO505.*records no spec"):
        geoc.load(unrecorded)
    for change, why in [
        ({"params": {**PARAMS, "channels": 6}}, "weights do not fit"),
        ({"validate": False}, "compiles to a different module"),  # the same weights
    ]:
        folder = geoc.save(trained, tmp_path / "changed")
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["build"].update(change)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(GeoError, match=f"GEO505.*{why}"):
            geoc.load(folder)
    with pytest.raises(GeoError, match=r"GEO505.*not a readable saved model"):
        geoc.load(tmp_path / "missing")


def test_a_failed_save_leaves_the_previous_folder_whole(trained, tmp_path: Path, monkeypatch):
    folder = geoc.save(trained, tmp_path / "potential")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setattr("geoc.backends.torch_fx.saving.SPEC_FILE", "missing/spec.geo")
    with pytest.raises(GeoError, match="GEO503"):
        geoc.save(geoc.compile("nequip", PARAMS, seed=1), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["potential"]  # no staging left


def test_save_takes_compiled_modules_only() -> None:
    with pytest.raises(TypeError, match=r"geoc\.compile"):
        geoc.save(torch.nn.Linear(2, 2), "unused")


def test_a_folder_from_the_cli_loads_back_into_geoc(tmp_path: Path) -> None:
    """`geoc compile SPEC -o DIR` records the build too (it compiled from an IR before)."""
    from geoc import cli

    folder = tmp_path / "egnn"
    assert cli.main(["compile", "egnn", "-p", "depth=1", "--seed", "4", "-o", str(folder)]) == 0
    inputs = {"h": torch.randn(5, 16), "x": torch.randn(5, 3)}
    loaded = geoc.load(folder)(**inputs)["energy"]
    assert torch.equal(loaded, geoc.compile("egnn", {"depth": 1}, seed=4)(**inputs)["energy"])
