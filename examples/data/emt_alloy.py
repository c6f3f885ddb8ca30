"""A Cu/Ni alloy data set from ASE's EMT potential: periodic configurations with energies,
forces and stresses, generated locally from a fixed seed (nothing is downloaded).

    python examples/data/emt_alloy.py --configs 1200 --out examples/out/emt_alloy.pt

Recipe: an fcc Cu supercell (``--repeat`` conventional cells a side, a = 3.61 Å) with a
``--nickel`` fraction of its sites turned into Ni at random and one vacancy; Langevin molecular
dynamics (ASE, 2 fs steps, friction 0.02 / fs) at 300 K and at 1200 K, one frame kept every
``--stride`` steps after a short equilibration; a third of the frames then get a random
symmetric strain of up to ``--strain`` (so stresses span both signs). Each structure
is labelled by EMT: energy (eV), forces (eV/Å) and stress (eV/Å³, ASE's sign and Voigt order).

The file is a dict of tensors that ``torch.load(..., weights_only=True)`` reads: ``numbers``
``[C, N]`` atomic numbers, ``positions`` ``[C, N, 3]``, ``cells`` ``[C, 3, 3]``, ``energy``
``[C]``, ``forces`` ``[C, N, 3]``, ``stress`` ``[C, 6]``, ``temperature`` ``[C]`` and ``strained``
``[C]`` (bool); every structure has the same atom count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

LATTICE = 3.61  # Å, fcc Cu
TIMESTEP = 2.0  # fs
FRICTION = 0.02  # 1/fs
TEMPERATURES = (300.0, 1200.0)  # K
EQUILIBRATION = 100  # steps before the first kept frame


def alloy_cell(rng: np.random.Generator, repeat: int, nickel: float):
    """The supercell: Cu fcc, a fraction of sites Ni, one site left empty (a vacancy)."""
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=LATTICE, cubic=True).repeat((repeat,) * 3)
    numbers = atoms.get_atomic_numbers()
    chosen = rng.choice(len(atoms), size=round(nickel * len(atoms)), replace=False)
    numbers[chosen] = 28
    atoms.set_atomic_numbers(numbers)
    del atoms[int(rng.integers(len(atoms)))]
    return atoms


def trajectory(atoms, rng: np.random.Generator, temperature: float, frames: int, stride: int):
    """``frames`` snapshots of Langevin dynamics at ``temperature`` (copies of the Atoms)."""
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = atoms.copy()
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dynamics = Langevin(
        atoms,
        TIMESTEP * units.fs,
        temperature_K=temperature,
        friction=FRICTION / units.fs,
        rng=rng,
    )
    dynamics.run(EQUILIBRATION)
    kept = []
    for _ in range(frames):
        dynamics.run(stride)
        kept.append(atoms.copy())
    return kept


def strained(atoms, rng: np.random.Generator, amount: float):
    """A copy under a random symmetric strain (positions move with the cell)."""
    strain = rng.uniform(-amount, amount, (3, 3))
    strain = 0.5 * (strain + strain.T)
    atoms = atoms.copy()
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return atoms


def label(structures) -> dict[str, torch.Tensor]:
    """EMT energy, forces and stress of every structure, stacked."""
    from ase.calculators.emt import EMT

    columns: dict[str, list] = {k: [] for k in ("numbers", "positions", "cells", "energy")}
    columns |= {"forces": [], "stress": []}
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = EMT()
        columns["numbers"].append(atoms.get_atomic_numbers())
        columns["positions"].append(atoms.get_positions())
        columns["cells"].append(atoms.cell[:])
        columns["energy"].append(atoms.get_potential_energy())
        columns["forces"].append(atoms.get_forces())
        columns["stress"].append(atoms.get_stress(voigt=True))
    stacked = {k: torch.as_tensor(np.stack(v)) for k, v in columns.items()}
    stacked["numbers"] = stacked["numbers"].long()
    return stacked


def generate(
    configs: int,
    seed: int = 0,
    repeat: int = 2,
    nickel: float = 0.25,
    stride: int = 10,
    strain: float = 0.02,
) -> dict[str, torch.Tensor]:
    """The data set (module docstring): ``configs`` structures, half from each temperature."""
    rng = np.random.default_rng(seed)
    cell = alloy_cell(rng, repeat, nickel)
    per_temperature = -(-configs // len(TEMPERATURES))
    structures, temperatures, was_strained = [], [], []
    for temperature in TEMPERATURES:
        frames = trajectory(cell, rng, temperature, per_temperature, stride)
        for i, frame in enumerate(frames):
            bent = i % 3 == 2
            structures.append(strained(frame, rng, strain) if bent else frame)
            temperatures.append(temperature)
            was_strained.append(bent)
        _progress(len(structures), configs)
    data = label(structures[:configs])
    data["temperature"] = torch.tensor(temperatures[:configs])
    data["strained"] = torch.tensor(was_strained[:configs])
    return data


def _progress(done: int, total: int) -> None:
    print(f"\remt_alloy: {min(done, total)}/{total} structures", end="", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="conventional cells a side")
    parser.add_argument("--nickel", type=float, default=0.25, help="fraction of sites that are Ni")
    parser.add_argument("--stride", type=int, default=10, help="MD steps between kept frames")
    parser.add_argument("--strain", type=float, default=0.02, help="largest strain component")
    parser.add_argument("--out", type=Path, default=Path("examples/out/emt_alloy.pt"))
    args = parser.parse_args()
    start = time.perf_counter()
    data = generate(args.configs, args.seed, args.repeat, args.nickel, args.stride, args.strain)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial")
    torch.save(data, partial)
    partial.replace(args.out)  # atomic: a reader never sees half a file
    configs, atoms = data["positions"].shape[:2]
    print(
        f"\nemt_alloy: {configs} structures of {atoms} atoms in {time.perf_counter() - start:.1f} s"
        f" -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
