"""The MACE spec (specs/mace.geo) as a trusted interatomic potential, in float64 with random
parameters: `geoc check` passes with reflections (open, three interactions, periodic cells);
forces are central differences of the energy (a molecule and periodic cells) and the stress is
its strain derivative; too few interactions is GEO302 at the repeat count; it captures with
`torch.compile(fullgraph=True)` and `torch.export`, exports to folders that run without geoc,
saves and loads, and drives ASE through `geoc.GeocCalculator`. Its second derivatives are
checked with every built-in potential's (tests/backend/test_second_derivatives.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    NO_GEOC,
    assert_captures,
    assert_stress_is_strain_derivative,
    periodic_system,
    run_exported,
)

import geoc
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check
from geoc.backends.torch_fx.verify.params import random_parameters
from geoc.catalog import builtin_specs
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

F64 = torch.float64
CUTOFF = 3.0
#: Small sizes keep the suite fast; `geoc check` at the defaults is test_equivariance_specs.py's.
SMALL = {"channels": 4, "species": 4, "cutoff": CUTOFF}
ATOMS = 5

pytestmark = pytest.mark.usefixtures("one_thread")


def _mace(periodic: bool, seed: int = 11, **params: object) -> torch.nn.Module:
    """mace in float64 with every parameter drawn at random (the copy keeps module.meta)."""
    module = geoc_compile("mace", {**SMALL, "periodic": periodic, **params}, dtype=F64)
    return random_parameters(module, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def molecule_mace() -> torch.nn.Module:
    return _mace(periodic=False)


@pytest.fixture(scope="module")
def periodic_mace() -> torch.nn.Module:
    return _mace(periodic=True)


def _molecule(seed: int) -> dict[str, torch.Tensor]:
    """Atoms close enough (cutoff 3) that every one has neighbours."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randint(SMALL["species"], (ATOMS,), generator=gen)
    return {"z": z, "pos": torch.randn(ATOMS, 3, generator=gen, dtype=F64) * 1.2}


def _energy(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return module(**inputs)["energy"].sum()


# ---------------------------------------------------------------------------------------------
# geoc check


VARIANTS = {
    "two interactions": {},
    "three interactions (the repeat body)": {"interactions": 3},
    "periodic": {"periodic": True},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mace_passes_check_with_reflections(variant: str) -> None:
    params = {**SMALL, **VARIANTS[variant]}
    report = check("mace", params=params, trials=3, nodes=ATOMS, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-10
    text = report.render()
    assert "rotation+reflection" in text and "permutation" in text
    if "periodic" in params:
        assert "lattice translations" in text.splitlines()[0]


def test_fewer_than_two_interactions_is_geo302_at_the_repeat_count() -> None:
    """The first and last interactions are written out, so `interactions - 2` repeats."""
    text = next(s for s in builtin_specs() if s.name == "mace").resource.read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "repeat interactions" in row)
    with pytest.raises(GeoError) as info:
        frontend("mace", {"interactions": 1})
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col) == ("GEO302", line, 12)
    rendered = info.value.render()
    assert "-1" in rendered and "parameters" in rendered and "`interactions` >= 2" in text


# ---------------------------------------------------------------------------------------------
# forces and stress


def _central_forces(module, inputs, step: float = 1e-5) -> torch.Tensor:
    """-dE/dpos by central differences of the energy, atom by atom, axis by axis."""
    numeric = torch.zeros_like(inputs["pos"])
    for atom in range(numeric.shape[0]):
        for axis in range(3):
            energies = []
            for sign in (1.0, -1.0):
                pos = inputs["pos"].clone()
                pos[atom, axis] += sign * step
                energies.append(float(_energy(module, {**inputs, "pos": pos}).detach()))
            numeric[atom, axis] = -(energies[0] - energies[1]) / (2 * step)
    return numeric


def _assert_conservative(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> None:
    pos = inputs["pos"].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_energy(module, {**inputs, "pos": pos}), pos)
    forces = -grad
    assert float(forces.abs().max()) > 1e-6  # real forces, not vanishing ones
    error = float((forces - _central_forces(module, inputs)).abs().max())
    assert error <= 1e-6 * float(forces.abs().max())


def test_forces_are_central_differences_of_the_energy_of_a_molecule(molecule_mace) -> None:
    _assert_conservative(molecule_mace, _molecule(seed=1))


@pytest.mark.parametrize("kind", ["bulk", "tiny"])
def test_forces_are_central_differences_of_the_energy_in_a_cell(periodic_mace, kind) -> None:
    _assert_conservative(periodic_mace, periodic_system(kind, ATOMS - 1, seed=5, cutoff=CUTOFF))


def test_stress_is_the_strain_derivative_of_the_energy(periodic_mace) -> None:
    inputs = periodic_system("bulk", ATOMS - 1, seed=3, cutoff=CUTOFF)
    assert_stress_is_strain_derivative(periodic_mace, inputs)


# ---------------------------------------------------------------------------------------------
# capture, export, save, ASE


@pytest.mark.slow  # dynamo traces every stage of three contractions: about 20 s here
def test_fullgraph_capture_and_export_equal_eager() -> None:
    model = geoc_compile("mace", SMALL, seed=2)
    inputs = {k: v.float() if v.is_floating_point() else v for k, v in _molecule(4).items()}
    assert_captures(model, inputs, atol=1e-5)


@pytest.mark.slow  # a fresh interpreter importing torch
def test_an_exported_folder_runs_without_geoc(molecule_mace, tmp_path: Path) -> None:
    """`geoc compile mace -o folder`: the module's outputs in a Python without geoc."""
    folder = write_folder(molecule_mace, tmp_path / "mace", "specs/mace.geo")
    inputs = _molecule(seed=6)
    out = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(out["energy"], molecule_mace(**inputs)["energy"].detach())


_POTENTIAL_WITHOUT_GEOC = NO_GEOC + textwrap.dedent("""
    folder, case, out = sys.argv[1:]
    import_folder(folder, "exported")
    from exported import potential
    torch.save(potential.load()(**torch.load(case, weights_only=True)), out)
""")


@pytest.mark.slow  # torch.export of energy, forces and stress: about a minute here
def test_the_exported_potential_runs_without_geoc(periodic_mace, tmp_path: Path) -> None:
    """`geoc.export_potential` (`geoc compile --potential`): energy, forces and stress of a
    batch of a bulk cell and a molecule, as the module gives them, without geoc."""
    folder = geoc.export_potential(periodic_mace, tmp_path / "mace")
    graphs = [periodic_system(k, ATOMS, s, CUTOFF) for k, s in (("bulk", 1), ("molecule", 2))]
    case = {
        "z": torch.cat([g["z"] for g in graphs]),
        "pos": torch.cat([g["pos"] for g in graphs]),
        "cell": torch.stack([g["cell"] for g in graphs]),
        "pbc": torch.stack([g["pbc"] for g in graphs]),
        "batch": torch.arange(2).repeat_interleave(ATOMS),
    }
    torch.save(case, tmp_path / "case.pt")
    command = [sys.executable, "-c", _POTENTIAL_WITHOUT_GEOC, str(folder)]
    subprocess.run([*command, str(tmp_path / "case.pt"), str(tmp_path / "out.pt")], check=True)
    got = torch.load(tmp_path / "out.pt", weights_only=True)
    expected = geoc.energy_forces_stress(periodic_mace, case)
    for name in ("energy", "forces", "stress"):  # the molecule's stress is NaN in both
        torch.testing.assert_close(
            got[name], expected[name].detach(), rtol=1e-6, atol=1e-9, equal_nan=True
        )


def test_save_and_load_give_the_same_potential(periodic_mace, tmp_path: Path) -> None:
    loaded = geoc.load(geoc.save(periodic_mace, tmp_path / "mace"))
    inputs = periodic_system("tiny", ATOMS, seed=7, cutoff=CUTOFF)
    got, expected = (geoc.energy_forces_stress(m, inputs) for m in (loaded, periodic_mace))
    for name in ("energy", "forces", "stress"):
        assert torch.equal(got[name], expected[name]), name


def test_the_ase_calculator_gives_the_modules_forces_and_stress(periodic_mace) -> None:
    ase = pytest.importorskip("ase")
    inputs = periodic_system("bulk", ATOMS, seed=8, cutoff=CUTOFF)
    symbols = ["H", "He", "Li", "Be"]  # type index i is symbols[i]
    atoms = ase.Atoms(
        symbols=[symbols[int(i)] for i in inputs["z"]],
        positions=inputs["pos"].numpy(),
        cell=inputs["cell"].numpy(),
        pbc=inputs["pbc"].numpy(),
    )
    atoms.calc = geoc.GeocCalculator(periodic_mace, species=symbols)
    expected = geoc.energy_forces_stress(periodic_mace, inputs)
    np.testing.assert_allclose(atoms.get_forces(), expected["forces"].numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        atoms.get_stress(), expected["stress_voigt"][0].numpy(), rtol=1e-12, atol=1e-15
    )
    energy = float(expected["energy"].detach().sum())
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-12)
