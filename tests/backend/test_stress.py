"""Stress (issue 14, item 3): ``geoc.energy_forces_stress`` gives σ = (1/V) ∂E/∂ε under a
symmetric strain of cell and positions, ASE's sign and Voigt order; float64, random
parameters, periodic nequip."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from helpers import assert_stress_is_strain_derivative, periodic_system

import geoc
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify.params import random_parameters

CUTOFF = 3.0
PARAMS = {"periodic": True, "depth": 1, "channels": 4, "cutoff": CUTOFF}
F64 = torch.float64


@pytest.fixture(scope="module")
def nequip() -> torch.nn.Module:
    module = geoc_compile("nequip", PARAMS, dtype=F64)
    return random_parameters(module, np.random.default_rng(11))  # the copy keeps module.meta


def system(kind: str, atoms: int, seed: int) -> dict[str, torch.Tensor]:
    return periodic_system(kind, atoms, seed, CUTOFF)


@pytest.mark.parametrize("kind", ["bulk", "tiny"])
def test_stress_is_the_strain_derivative_of_the_energy(nequip, kind):
    inputs = system(kind, 4, seed=3)
    assert_stress_is_strain_derivative(nequip, inputs)
    stress = geoc.energy_forces_stress(nequip, inputs)["stress"][0]
    assert torch.allclose(stress, stress.T, rtol=0, atol=1e-14 * float(stress.abs().max()))


def test_stress_has_ases_sign_and_voigt_order(nequip):
    calculator = pytest.importorskip("ase.calculators.calculator")
    fd = pytest.importorskip("ase.calculators.fd")
    from ase import Atoms

    inputs = system("bulk", 5, seed=4)

    class Potential(calculator.Calculator):
        implemented_properties: ClassVar[list[str]] = ["energy"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            super().calculate(atoms, properties, system_changes)
            given = {
                **inputs,
                "pos": torch.as_tensor(atoms.positions),
                "cell": torch.as_tensor(atoms.cell.array),
            }
            self.results["energy"] = float(nequip(**given)["energy"].detach().sum())

    atoms = Atoms(positions=inputs["pos"].numpy(), cell=inputs["cell"].numpy(), pbc=True)
    atoms.calc = Potential()
    theirs = fd.calculate_numerical_stress(atoms, eps=1e-5, force_consistent=False)
    ours = geoc.energy_forces_stress(nequip, inputs)["stress_voigt"][0].detach().numpy()
    assert np.abs(ours - theirs).max() <= 1e-6 * np.abs(ours).max()


def test_forces_and_energy_are_the_modules(nequip):
    inputs = system("tiny", 4, seed=5)
    out = geoc.energy_forces_stress(nequip, inputs)
    pos = inputs["pos"].clone().requires_grad_(True)
    plain = nequip(**{**inputs, "pos": pos})["energy"]
    (grad,) = torch.autograd.grad(plain.sum(), pos)
    assert torch.allclose(out["energy"], plain, rtol=1e-13, atol=0)
    assert torch.allclose(out["forces"], -grad, rtol=1e-10, atol=1e-14)


def test_a_batch_gives_each_graph_its_stress_and_a_molecule_none(nequip):
    graphs = [system("bulk", 4, 6), system("slab", 3, 7), system("molecule", 3, 8)]
    sizes = torch.tensor([g["pos"].shape[0] for g in graphs])
    together = {
        "z": torch.cat([g["z"] for g in graphs]),
        "pos": torch.cat([g["pos"] for g in graphs]),
        "cell": torch.stack([g["cell"] for g in graphs]),
        "pbc": torch.stack([g["pbc"] for g in graphs]),
        "batch": torch.repeat_interleave(torch.arange(3), sizes),
    }
    out = geoc.energy_forces_stress(nequip, together)
    assert out["stress"].shape == (3, 3, 3) and out["stress_voigt"].shape == (3, 6)
    for g in range(2):
        alone = geoc.energy_forces_stress(nequip, graphs[g])["stress"][0]
        assert torch.allclose(out["stress"][g], alone, rtol=1e-10, atol=1e-14)
    assert out["stress"][2].isnan().all()
    assert out["forces"].isfinite().all()


def test_training_keeps_the_graph_for_a_stress_loss(nequip):
    out = geoc.energy_forces_stress(nequip, system("bulk", 4, seed=9), training=True)
    loss = out["stress"].pow(2).sum() + out["forces"].pow(2).sum()
    params = [p for p in nequip.parameters() if p.requires_grad]
    found = torch.autograd.grad(loss, params, allow_unused=True)  # an energy offset: unused
    grads = [g for g in found if g is not None]
    assert all(g.isfinite().all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_a_model_without_a_cell_is_refused():
    module = geoc_compile("nequip", {"depth": 1, "channels": 4}, dtype=F64)
    with pytest.raises(ValueError, match="periodic cell"):
        geoc.energy_forces_stress(module, {"z": torch.arange(4), "cell": torch.eye(3)})
