"""The ASE calculator (issue 15, item 2): ``geoc.GeocCalculator`` gives forces and stress equal
to finite differences of its energy, maps atomic numbers to type indices, runs in float32 or
float64, loads an exported folder, and drives ASE's BFGS and VelocityVerlet. Float64 and
random parameters unless a test says otherwise."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("ase")
import ase
import ase.build
from ase.calculators.calculator import PropertyNotImplementedError

import geoc
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify.params import random_parameters

CUTOFF = 3.0
F64 = torch.float64
#: Largest |E(t) - E(0)| per atom allowed over 200 fs of NVE (eV); measured 4.4e-6 eV (32 atoms).
DRIFT_PER_ATOM = 1e-4


def potential(seed: int, species: int = 2, periodic: bool = True) -> torch.nn.Module:
    """A small nequip in float64 with every parameter drawn at random."""
    params = {"periodic": periodic, "species": species, "channels": 4, "depth": 1}
    module = geoc_compile("nequip", {**params, "cutoff": CUTOFF}, dtype=F64)
    randomised = random_parameters(module, np.random.default_rng(seed))
    randomised.meta.update(module.meta)
    return randomised


@pytest.fixture(scope="module")
def periodic_model() -> torch.nn.Module:
    return potential(3)


def alloy(seed: int) -> ase.Atoms:
    """A rattled Cu/Ni fcc cell with a sheared cell (a general triclinic lattice)."""
    atoms = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    atoms.numbers[[1, 4, 6]] = 28
    atoms.set_cell(atoms.cell[:] + np.array([[0, 0.2, 0], [0.3, 0, 0], [0, -0.1, 0]]), True)
    atoms.rattle(0.1, seed=seed)
    return atoms


def relative(error: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(error).max() / np.abs(reference).max())


def central_forces(atoms: ase.Atoms, indices: list[int], step: float = 1e-4) -> np.ndarray:
    """-dE/dpos of the atoms ``indices`` by central differences of the calculator's energy."""
    numeric = np.zeros((len(indices), 3))
    for row, index in enumerate(indices):
        for axis in range(3):
            energies = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[index, axis] += sign * step
                energies.append(moved.get_potential_energy())
            numeric[row, axis] = -(energies[0] - energies[1]) / (2 * step)
    return numeric


def strained_energy(atoms: ase.Atoms, strain: np.ndarray) -> float:
    moved = atoms.copy()
    moved.calc = atoms.calc
    moved.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return moved.get_potential_energy()


def test_forces_equal_central_differences_of_the_energy(periodic_model) -> None:
    atoms = alloy(1)
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    forces = atoms.get_forces()
    assert forces.dtype == np.float64 and forces.shape == (len(atoms), 3)
    numeric = central_forces(atoms, [0, 5])
    forces = forces[[0, 5]]
    assert np.abs(forces).max() > 1e-3  # a real test: the forces are not all zero
    assert relative(forces - numeric, forces) < 1e-6


def test_stress_equals_differences_under_strain(periodic_model) -> None:
    atoms = alloy(2)
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    stress, step = atoms.get_stress(), 1e-4
    numeric = np.zeros(6)
    for k, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
        strain = np.zeros((3, 3))
        strain[i, j] = strain[j, i] = step / 2 if i != j else step
        change = strained_energy(atoms, strain) - strained_energy(atoms, -strain)
        numeric[k] = change / (2 * step) / atoms.get_volume()
    assert stress.shape == (6,) and np.abs(stress).max() > 1e-4
    assert relative(stress - numeric, stress) < 1e-6


def test_energy_is_a_float_and_free_energy_equals_it(periodic_model) -> None:
    atoms = alloy(3)
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    energy = atoms.get_potential_energy()
    assert isinstance(energy, float)
    assert atoms.get_potential_energy(force_consistent=True) == energy
    forces = atoms.get_forces()
    atoms.calc.reset()
    with torch.no_grad():  # ASE code may run inside no_grad: forces still need autograd
        assert np.array_equal(atoms.get_forces(), forces)


def test_molecule_on_a_periodic_model_has_forces_and_no_stress(periodic_model) -> None:
    atoms = ase.Atoms("CuNiCu", positions=[[0, 0, 0], [2.3, 0, 0], [0.4, 2.1, 0.3]])
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    forces = atoms.get_forces()[[0, 2]]
    numeric = central_forces(atoms, [0, 2])
    assert relative(forces - numeric, forces) < 1e-6
    with pytest.raises(PropertyNotImplementedError, match="periodic"):
        atoms.get_stress()


def test_non_periodic_model_gives_forces_and_implements_no_stress() -> None:
    calculator = geoc.GeocCalculator(potential(4, periodic=False), species=[29, 28])
    assert "stress" not in calculator.implemented_properties
    atoms = ase.Atoms("CuNiNi", positions=[[0, 0, 0], [2.3, 0, 0], [0.4, 2.1, 0.3]])
    atoms.calc = calculator
    forces = atoms.get_forces()[[0, 2]]
    assert relative(forces - central_forces(atoms, [0, 2]), forces) < 1e-6
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_species_given_as_symbols_numbers_or_a_mapping_agree(periodic_model) -> None:
    energies = []
    for species in (["Cu", "Ni"], [29, 28], {28: 1, 29: 0}, {"Ni": 1, "Cu": 0}):
        atoms = alloy(4)
        atoms.calc = geoc.GeocCalculator(periodic_model, species=species)
        energies.append(atoms.get_potential_energy())
    swapped = alloy(4)
    swapped.calc = geoc.GeocCalculator(periodic_model, species=["Ni", "Cu"])
    assert len(set(energies)) == 1
    assert swapped.get_potential_energy() != energies[0]  # the mapping is used


def test_an_element_outside_the_mapping_is_a_clear_error(periodic_model) -> None:
    atoms = alloy(5)
    atoms.numbers[0] = 79
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    with pytest.raises(ValueError, match=r"no species for Au \(Z=79\); its species: Cu -> 0"):
        atoms.get_potential_energy()


@pytest.mark.parametrize(
    ("species", "message"),
    [
        (["Cu", "Ni", "Fe"], "type index 2: the model has 2 species"),
        ({"Cu": 0, 29: 1}, "Cu is given twice"),
        (["Xx"], "'Xx' is not a chemical symbol"),
        ([0], "0 is not an atomic number"),
    ],
)
def test_a_bad_species_mapping_is_refused(periodic_model, species, message) -> None:
    with pytest.raises(ValueError, match=message):
        geoc.GeocCalculator(periodic_model, species=species)


def test_a_module_that_is_not_a_potential_is_refused() -> None:
    with pytest.raises(ValueError, match="one species input"):
        geoc.GeocCalculator(geoc_compile("egnn", {"depth": 1}), species=["H"])


def test_float32_runs_on_a_copy_and_agrees_with_float64(periodic_model) -> None:
    atoms = alloy(6)
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    forces64, stress64 = atoms.get_forces(), atoms.get_stress()
    single = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"], dtype=torch.float32)
    atoms.calc = single
    forces32, stress32 = atoms.get_forces(), atoms.get_stress()
    assert next(periodic_model.parameters()).dtype == F64  # the caller's module is untouched
    assert forces32.dtype == np.float64 and single.model.dtype == torch.float32
    assert relative(forces32 - forces64, forces64) < 1e-4
    assert relative(stress32 - stress64, stress64) < 1e-4


@pytest.mark.slow  # torch.export of the force field: ~10-30 s
def test_an_exported_folder_gives_the_compiled_results(periodic_model, tmp_path) -> None:
    folder = geoc.export_potential(periodic_model, tmp_path / "cu_ni")
    atoms = alloy(7)
    atoms.calc = geoc.GeocCalculator(periodic_model, species=["Cu", "Ni"])
    expected = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = geoc.GeocCalculator(folder, species=["Cu", "Ni"])
    assert "stress" in atoms.calc.implemented_properties
    assert atoms.get_potential_energy() == pytest.approx(expected[0], rel=1e-12)
    assert np.allclose(atoms.get_forces(), expected[1], rtol=0, atol=1e-10)
    assert np.allclose(atoms.get_stress(), expected[2], rtol=0, atol=1e-10)


def test_a_folder_that_is_not_an_export_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"not a folder written by geoc\.export_potential"):
        geoc.GeocCalculator(tmp_path, species=["Cu"])


def test_without_ase_the_import_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "geoc.backends.torch_fx.calculator", raising=False)
    monkeypatch.setitem(sys.modules, "ase.calculators.calculator", None)
    with pytest.raises(ImportError, match=r"pip install 'geoc\[ase\]'"):
        importlib.import_module("geoc.backends.torch_fx.calculator")


def metal_like_copper() -> geoc.GeocCalculator:
    """An untrained one-species nequip whose random energy readout is scaled by 50: forces on a
    copper cell rattled by 0.05 Å are then ~0.6 eV/Å, as in a metal (unscaled random weights
    give ~0.005 eV/Å, already below the fmax); with this seed fcc is a local minimum."""
    module = potential(1, species=1)
    with torch.no_grad():
        module.get_parameter("energy.linear.weight_0e").mul_(50)
    return geoc.GeocCalculator(module, species=["Cu"])


def copper(repeat: int) -> ase.Atoms:
    return ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat(repeat)


@pytest.mark.slow  # ~20 BFGS steps on 108 atoms: ~30 s
def test_bfgs_relaxes_a_perturbed_108_atom_cell() -> None:
    from ase.optimize import BFGS

    atoms = copper(3)
    atoms.rattle(0.05, seed=1)
    atoms.calc = metal_like_copper()
    start, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert len(atoms) == 108 and np.linalg.norm(forces, axis=1).max() > 0.1
    optimiser = BFGS(atoms, logfile=None)
    assert optimiser.run(fmax=0.01, steps=100)
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() < 0.01
    assert atoms.get_potential_energy() < start - 0.5
    assert np.allclose(atoms.cell[:], copper(3).cell[:])  # positions only: the cell is fixed


@pytest.mark.slow  # 200 steps of 32 atoms: ~60 s
def test_velocity_verlet_conserves_the_energy() -> None:
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.md.verlet import VelocityVerlet

    atoms = copper(2)
    atoms.calc = metal_like_copper()
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    dynamics, energies = VelocityVerlet(atoms, timestep=1 * units.fs), []
    dynamics.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dynamics.run(200)
    drift = np.abs(np.array(energies) - energies[0]).max() / len(atoms)
    assert len(energies) == 201 and atoms.get_temperature() > 50  # the atoms moved
    assert drift < DRIFT_PER_ATOM
