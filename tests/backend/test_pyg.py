"""PyTorch Geometric interop (issue 15): a real ``torch_geometric`` ``DataLoader`` of ``Data``
objects (positions, integer species, a cell per structure) feeds a compiled potential, and the
batched energies, forces and stresses equal those of the structures run one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import periodic_system

import geoc
from geoc.backends.torch_fx.verify.params import random_parameters

pyg_data = pytest.importorskip("torch_geometric.data")
pyg_loader = pytest.importorskip("torch_geometric.loader")

CUTOFF = 3.0
PARAMS = {"periodic": True, "depth": 1, "channels": 4, "cutoff": CUTOFF}


def _structures() -> list:
    """Bulk, tiny, slab and molecule cells of different sizes, as PyG ``Data``: the cell
    ``[1, 3, 3]`` and ``pbc`` ``[1, 3]``, so a batch concatenates them into one row per graph."""
    kinds = ["bulk", "tiny", "slab", "molecule", "bulk", "slab"]
    out = []
    for seed, kind in enumerate(kinds):
        system = periodic_system(kind, 3 + seed % 3, seed, CUTOFF)
        out.append(
            pyg_data.Data(
                z=system["z"],
                pos=system["pos"],
                cell=system["cell"][None],
                pbc=system["pbc"][None],
            )
        )
    return out


def test_a_pyg_loader_feeds_a_compiled_potential_batch_equal_to_one_by_one() -> None:
    model = random_parameters(
        geoc.compile("nequip", PARAMS, dtype=torch.float64), np.random.default_rng(3)
    )
    structures = _structures()
    loader = pyg_loader.DataLoader(structures, batch_size=4, shuffle=False)
    batched = []
    for data in loader:
        inputs = {"z": data.z, "pos": data.pos, "cell": data.cell, "pbc": data.pbc}
        inputs |= {"batch": data.batch, "num_graphs": data.num_graphs}
        batched.append(geoc.energy_forces_stress(model, inputs))
    energy = torch.cat([b["energy"].reshape(-1) for b in batched])
    forces = torch.cat([b["forces"] for b in batched])
    stress = torch.cat([b["stress"] for b in batched])
    alone = [
        geoc.energy_forces_stress(model, {"z": d.z, "pos": d.pos, "cell": d.cell, "pbc": d.pbc})
        for d in structures
    ]
    torch.testing.assert_close(energy, torch.cat([a["energy"].reshape(-1) for a in alone]))
    torch.testing.assert_close(forces, torch.cat([a["forces"] for a in alone]))
    torch.testing.assert_close(stress, torch.cat([a["stress"] for a in alone]), equal_nan=True)
    assert len(batched) == 2 and energy.shape == (6,)
