"""The EMT alloy data set of the atomistic examples (examples/data/emt_alloy.py): its shapes,
recipe and labels, on a few structures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_examples import load

import geoc

pytest.importorskip("ase")


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor]:
    return load("data/emt_alloy.py").generate(9, seed=1, stride=2)


def test_the_recipe_shapes_and_composition(data: dict[str, torch.Tensor]) -> None:
    configs, atoms = data["numbers"].shape
    assert (configs, atoms) == (9, 4 * 2**3 - 1)  # 2x2x2 conventional fcc cells, one vacancy
    assert set(data["numbers"].unique().tolist()) == {28, 29}
    assert int((data["numbers"][0] == 28).sum()) in (7, 8)  # a quarter of 32 sites, less a vacancy
    assert data["positions"].shape == (9, atoms, 3) and data["forces"].shape == (9, atoms, 3)
    assert data["cells"].shape == (9, 3, 3) and data["stress"].shape == (9, 6)
    assert data["temperature"].tolist() == [300.0] * 5 + [1200.0] * 4
    assert data["strained"].tolist() == [i % 3 == 2 for i in [0, 1, 2, 3, 4, 0, 1, 2, 3]]


def test_the_labels_are_emts(data: dict[str, torch.Tensor]) -> None:
    """Forces of a periodic cell sum to zero (translation invariance), the labels equal a
    fresh EMT evaluation, and strained cells differ from the cubic one."""
    from ase import Atoms
    from ase.calculators.emt import EMT

    assert torch.allclose(data["forces"].sum(1), torch.zeros(9, 3, dtype=torch.float64), atol=1e-8)
    atoms = Atoms(
        numbers=data["numbers"][4].numpy(),
        positions=data["positions"][4].numpy(),
        cell=data["cells"][4].numpy(),
        pbc=True,
    )
    atoms.calc = EMT()
    assert np.isclose(atoms.get_potential_energy(), float(data["energy"][4]))
    assert np.allclose(atoms.get_stress(), data["stress"][4].numpy())
    cubic = data["cells"][0]
    assert torch.allclose(cubic, torch.diag(torch.diagonal(cubic)))
    assert not torch.allclose(data["cells"][2], cubic)  # strained


def test_one_seed_gives_one_data_set() -> None:
    make = load("data/emt_alloy.py").generate
    first, second = make(3, seed=2, stride=1), make(3, seed=2, stride=1)
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("model", ["nequip", "mace"])
def test_the_training_example_starts_the_energy_at_the_datas_scale(model: str) -> None:
    """Read off the IR: species energies hold the mean energy per atom (nequip has none: its
    readout's bias does); each readout's last layer is scaled by the force spread."""
    example = load("train_potential.py")
    params = {"species": 2, "channels": 4, "periodic": True, **example.MODELS[model]}
    fresh = geoc.compile(model, params=params)
    started = geoc.compile(model, params=params)
    example.start_at_scale(started, -3.5, 0.5)
    before, after = dict(fresh.named_parameters()), dict(started.named_parameters())
    changed = {n for n in after if not torch.equal(after[n], before[n])}
    expected = {
        "nequip": {"energy.linear.weight_0e", "energy.linear.bias_0e"},
        "mace": {"e.weight", "e_1.linear.weight_0e", "e_1.linear.bias_0e"}
        | {"e_2.mlp.1.weight", "e_2.mlp.1.bias"},  # the last readout's last layer only
    }[model]
    assert changed == expected
    mean = after["energy.linear.bias_0e" if model == "nequip" else "e.weight"]
    assert torch.equal(mean, torch.full_like(mean, -3.5))
    weight = "energy.linear.weight_0e" if model == "nequip" else "e_1.linear.weight_0e"
    assert torch.allclose(after[weight], 0.5 * before[weight])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["nequip", "mace"])
def test_the_training_example_runs_end_to_end_in_quick_mode(tmp_path, model) -> None:
    """Data, training, plots, save, reload without geoc: the path a user runs, made tiny."""
    import json
    import subprocess
    import sys

    from test_examples import EXAMPLES

    command = [sys.executable, str(EXAMPLES / "train_potential.py"), "--quick", "--threads", "1"]
    command += ["--model", model, "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reload_max_force_difference"] == 0.0  # the saved model, bit for bit
    assert all(math.isfinite(v) for v in report.values())
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
    assert (tmp_path / "force_parity.png").stat().st_size > 0
    assert "meV/Å" in done.stdout
