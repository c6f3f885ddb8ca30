"""Energy, forces and stress of an exported geoc potential. Plain PyTorch: geoc is not needed.

    import potential                      # or: from my_folder import potential
    field = potential.load()
    out = field(z=species, pos=positions, cell=cell, pbc=pbc, batch=batch)
    out["energy"], out["forces"], out.get("stress")

``potential.pt2`` is a ``torch.export`` program of energy and forces (and stress under a
periodic cell) whose neighbour list is an input; this file finds the neighbours with the
folder's torch-only neighbour list (``geoc_runtime_neighbour.py``, ``geoc_runtime_periodic.py``)
and runs the program. ``potential.json`` lists the program's arguments, for calling it directly.
Shapes: ``pos [N, 3]``; labels such as species ``[N]`` (integers); ``batch [N]`` (graph of each
atom, optional for one graph); ``cell [G, 3, 3]`` (rows are lattice vectors, ``[3, 3]`` for one
graph) and ``pbc [G, 3]`` (booleans, default all periodic). Returns ``energy [G, 1]``,
``forces [N, 3]`` (-dE/dpos) and ``stress [G, 3, 3]`` (ASE's sign, energy / length³).
"""

from __future__ import annotations

import json
import os

import torch

try:
    from . import geoc_runtime_neighbour as neighbours
    from . import geoc_runtime_periodic as periodic
except ImportError:  # loaded as a plain file
    import geoc_runtime_neighbour as neighbours
    import geoc_runtime_periodic as periodic

_HERE = os.path.dirname(os.path.abspath(__file__))


class Potential:
    """The exported force field: call it with keyword inputs (module docstring)."""

    def __init__(self, program: torch.nn.Module, description: dict) -> None:
        self.program = program
        self.description = description
        self.cutoff = float(description["cutoff"])
        self.periodic = bool(description["periodic"])

    def __call__(self, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        pos = inputs[self.description["positions"]]
        batch = inputs.get("batch")
        if batch is None:
            batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        graphs = self._graph_count(inputs, batch)
        found = self._neighbours(pos, batch, graphs, inputs)
        given = {**inputs, **found, "batch": batch, "graphs": torch.zeros(graphs)}
        returned = self.program(*(given[name] for name in self.description["arguments"]))
        return dict(zip(("energy", "forces", "stress"), returned, strict=False))

    def _graph_count(self, inputs: dict, batch: torch.Tensor) -> int:
        cell = inputs.get("cell")
        if cell is not None and cell.ndim == 3:
            return cell.shape[0]
        return int(batch.max()) + 1 if batch.numel() else 1

    def _neighbours(
        self, pos: torch.Tensor, batch: torch.Tensor, graphs: int, inputs: dict
    ) -> dict[str, torch.Tensor]:
        if not self.periodic:
            found = neighbours.radius_neighbours(pos, self.cutoff, batch, num_graphs=graphs)
            src, dst, _ = found
            return {"edge_index": torch.stack((src, dst))}
        cell, pbc = periodic.per_graph_cells(inputs["cell"], inputs.get("pbc"), graphs)
        cell, pbc = cell.contiguous(), pbc.contiguous()  # the program takes one row per graph
        src, dst, shift = periodic.periodic_neighbours(pos, self.cutoff, batch, cell, pbc, graphs)
        edges = {"edge_index": torch.stack((src, dst)), "edge_shift": shift}
        return {**edges, "cell": cell, "pbc": pbc}


def load(device: str = "cpu") -> Potential:
    """The potential of this folder (``device``: where its program runs)."""
    with open(os.path.join(_HERE, "potential.json"), encoding="utf-8") as file:
        description = json.load(file)
    program = torch.export.load(os.path.join(_HERE, "potential.pt2")).module()
    return Potential(program.to(device), description)
