"""Relax and run molecular dynamics in ASE with the potential ``train_potential.py`` saved.

    .venv/bin/python examples/train_potential.py      # writes examples/out/potential_run/
    .venv/bin/python examples/md_potential.py         # BFGS, then 1 ps of NVE

The saved model is loaded back into geoc (``geoc.load``) and run in float64 through
``geoc.GeocCalculator`` (species: Cu -> 0, Ni -> 1, as in training). On a 108-atom fcc Cu cell
(3 x 3 x 3 conventional cells, a = 3.61 Å) rattled by ``--rattle`` Å, ASE's BFGS relaxes the
positions (cell fixed) to ``fmax`` 0.01 eV/Å; then ``VelocityVerlet`` (1 fs steps, velocities
from the Maxwell-Boltzmann distribution at 300 K, fixed seed) runs ``--steps`` steps in the
microcanonical ensemble, and the largest drift of the total energy per atom is reported
(acceptance of issue 15: under 1 meV/atom over 1 ps).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import geoc

HERE = Path(__file__).parent


def cell(rattle: float, seed: int):
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))
    atoms.rattle(stdev=rattle, seed=seed)
    return atoms


def relax(atoms, fmax: float) -> dict[str, float]:
    from ase.optimize import BFGS

    start = float(np.abs(atoms.get_forces()).max())
    optimiser = BFGS(atoms, logfile=None)
    converged = optimiser.run(fmax=fmax, steps=500)
    final = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    return {"bfgs_steps": optimiser.nsteps, "fmax_start": start, "fmax_final": final,
            "converged": bool(converged)}  # fmt: skip


def nve(atoms, steps: int, seed: int) -> dict[str, float]:
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.md.verlet import VelocityVerlet

    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(seed))
    Stationary(atoms)
    dynamics = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    first = atoms.get_total_energy()
    drift = [0.0]

    def record() -> None:
        drift.append(abs(atoms.get_total_energy() - first) / len(atoms))

    dynamics.attach(record, interval=1)
    dynamics.run(steps)
    return {"md_steps": steps, "max_energy_drift_mev_per_atom": 1e3 * max(drift),
            "temperature_end_k": float(atoms.get_temperature())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=HERE / "out" / "potential_run" / "potential")
    parser.add_argument("--rattle", type=float, default=0.05)
    parser.add_argument("--fmax", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=1000, help="1 fs steps (1000: 1 ps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = geoc.load(args.model)
    atoms = cell(args.rattle, args.seed)
    atoms.calc = geoc.GeocCalculator(model, species=["Cu", "Ni"], dtype=torch.float64)
    report = relax(atoms, args.fmax)
    print(
        f"BFGS: fmax {report['fmax_start']:.3f} -> {report['fmax_final']:.4f} eV/Å "
        f"in {report['bfgs_steps']} steps"
    )
    report |= nve(atoms, args.steps, args.seed)
    print(
        f"NVE, {args.steps} fs: max |E(t) - E(0)| = "
        f"{report['max_energy_drift_mev_per_atom']:.4f} meV/atom "
        f"(T at the end {report['temperature_end_k']:.0f} K)"
    )
    report["seconds"] = time.perf_counter() - started
    (args.model.parent / "md_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['seconds']:.0f} s in all")


if __name__ == "__main__":
    main()
