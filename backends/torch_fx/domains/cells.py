"""Periodic cells for ``geoc check`` (``pointcloud(..., edges=radius(r), cell=true)``).

Each graph of a trial gets one kind of cell in turn (:data:`CELL_KINDS`): a triclinic bulk
crystal, a tiny triclinic cell (lattice vectors shorter than ``2 r``, so atoms see periodic
images of themselves and of others several times over), a slab (periodic along two axes) and a
molecule (``pbc`` all false, a zero cell). Positions are redrawn until no distance to any image
lies within rounding of ``r`` (the radius rule's boundary, as for open clouds).

Under a cell the symmetry acts on positions and cell together: a rotation turns the cell's rows
(lattice vectors) with the positions, a translation moves positions only; permutations relabel
atoms. Besides the group, every exact trial moves single atoms by random lattice vectors, which
must change nothing (:func:`lattice_moves`): the neighbour list must find the same edge vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.domains.clouds import RADIUS_MARGIN
from geoc.domains import EDGE_AXIS
from geoc.groups import GroupElement
from geoc.ir import Graph

#: What each graph's cell stresses, in turn over graphs and trials.
CELL_KINDS = ("bulk", "tiny", "slab", "molecule")
EXACT_LAW = (
    "cell rows rotated with the positions; single atoms moved by lattice vectors; cells: "
    "triclinic bulk, tiny (r > half a lattice vector), slab, molecule"
)
NO_LATTICE_MOVES = (
    " (no lattice moves: an output is a point or over edges, or an input mixes points)"
)


def cell_kind(trial: int, graph: int) -> str:
    return CELL_KINDS[(trial + graph) % len(CELL_KINDS)]


def draw_cell(rng: np.random.Generator, kind: str, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """A random cell (rows the lattice vectors, skewed: triclinic) and its periodic axes."""
    if kind == "molecule":
        return np.zeros((3, 3)), np.zeros(3, dtype=bool)
    lengths = rng.uniform(0.6, 0.9, 3) if kind == "tiny" else rng.uniform(1.3, 2.0, 3)
    skew = rng.uniform(-0.2, 0.2, (3, 3)) * lengths.min()
    cell = (np.diag(lengths) + skew) * cutoff
    pbc = np.array([True, True, kind != "slab"])
    return cell, pbc


def periodic_graph(
    rng: np.random.Generator,
    kind: str,
    size: int,
    cutoff: float,
    coincident: bool = False,
    tries: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cell of ``kind``, its ``pbc`` and ``size`` atoms in it (anywhere, not wrapped:
    fractional coordinates in [-1, 2)), no distance between an atom and an image of an atom
    within rounding of ``cutoff``: atoms are placed one by one, each redrawn until stable
    against those placed (a cell whose own lattice vectors come too close is redrawn);
    ``coincident``: two atoms at one point (at distance 0, seeing each other's images)."""
    for _ in range(tries):
        cell, pbc = draw_cell(rng, kind, cutoff)
        offsets = _image_offsets(cell, pbc, cutoff)
        atoms: list[np.ndarray] = []
        while (
            len(atoms) < size
            and (atom := _place(rng, cell, pbc, cutoff, atoms, offsets)) is not None
        ):
            atoms.append(atoms[0] if coincident and len(atoms) == 1 else atom)
        if len(atoms) == size:
            return cell, pbc, np.array(atoms).reshape(size, 3)
    raise RuntimeError(f"no stable periodic cloud of {size} atoms in a {kind} cell")


def _place(
    rng: np.random.Generator,
    cell: np.ndarray,
    pbc: np.ndarray,
    cutoff: float,
    atoms: list[np.ndarray],
    offsets: np.ndarray,
    tries: int = 100,
) -> np.ndarray | None:
    """One more atom, stable against ``atoms`` and its own images (None: none found)."""
    periodic = bool(pbc.any())
    for _ in range(tries):
        atom = rng.uniform(-1.0, 2.0, 3) @ cell if periodic else rng.normal(size=3) * cutoff / 2.2
        others = np.array([*atoms, atom])
        distance = np.linalg.norm(others[:, None] - atom + offsets[None], axis=-1)
        if np.all(np.abs(distance - cutoff) > RADIUS_MARGIN * cutoff):
            return atom
    return None


def _image_offsets(cell: np.ndarray, pbc: np.ndarray, cutoff: float) -> np.ndarray:
    """``shift @ cell`` for every lattice shift that can bring two atoms drawn at fractional
    coordinates in [-1, 2) within the cutoff (zero along open axes)."""
    if not pbc.any():
        return np.zeros((1, 3))
    reach = np.ceil(cutoff * np.linalg.norm(np.linalg.inv(cell), axis=0)).astype(int) + 4
    axes = [
        np.arange(-k, k + 1) if p else np.zeros(1, int) for k, p in zip(reach, pbc, strict=True)
    ]
    shifts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return shifts @ cell


def draw_periodic(
    ir: Graph, rng: np.random.Generator, sizes: Sequence[int], trial: int, degenerate: bool
) -> dict[str, Tensor]:
    """``pos`` (the positions input), ``cell`` and ``pbc`` of every graph (``[G, 3, 3]`` and
    ``[G, 3]`` in a batch, ``[3, 3]`` and ``[3]`` for one graph), and each atom's lattice move
    (``lattice``, integer ``[N, 3]``, zero along open axes) that the exact trial adds."""
    cutoff = float(ir.domain.edge_arg or 1.0)
    cells, flags, clouds, moves = [], [], [], []
    for graph, size in enumerate(sizes):
        kind, coincident = cell_kind(trial, graph), degenerate and graph == 0
        cell, pbc, atoms = periodic_graph(rng, kind, size, cutoff, coincident)
        move = rng.integers(-1, 2, (size, 3)) * pbc
        if coincident and size > 1:  # moved apart, their edge vector is rounding, not zero
            move[1] = move[0]
        clouds.append(atoms)
        moves.append(move)
        cells.append(cell)
        flags.append(pbc)
    one = len(sizes) == 1
    return {
        "pos": torch.as_tensor(np.concatenate(clouds)),
        "cell": torch.as_tensor(cells[0] if one else np.stack(cells)),
        "pbc": torch.as_tensor(flags[0] if one else np.stack(flags)),
        "lattice": torch.as_tensor(np.concatenate(moves)),
    }


def move_cell(cell: Tensor, element: GroupElement) -> Tensor:
    """``g·cell``: the rotation (or reflection) turns each row; translations do not act."""
    if element.rotation is None:
        return cell
    return cell @ torch.as_tensor(element.rotation, dtype=cell.dtype).T


def lattice_invariant(ir: Graph) -> bool:
    """Whether trials may move single atoms by lattice vectors: every output stays as it is
    (no point, which would move with its atom; no rows over edges, whose shifts change), and
    every input point is pure points over the atoms (all of an atom's points move with it)."""
    outputs = [p.type for p in ir.outputs.values()]
    if any(t.has_points or EDGE_AXIS in t.axes for t in outputs):
        return False
    points = [p.type for p in ir.inputs.values() if p.type.has_points]
    return all(t.axes == (ir.domain.axis,) and all(a.is_point for a in t.atoms) for t in points)


def move_atoms(ir: Graph, inputs: dict[str, Any], lattice: Tensor, perm: Tensor) -> None:
    """Every point input (already moved by ``g``, atoms in the new order ``perm``) with each
    atom moved by its lattice vector ``lattice @ cell`` of its graph's (moved) cell."""
    cells, batch = inputs["cell"].reshape(-1, 3, 3), inputs.get("batch")
    graph = torch.zeros_like(perm) if batch is None else batch
    for name, port in ir.inputs.items():
        if port.type.has_points:
            pos = inputs[name]
            offsets = torch.einsum("nk,nkj->nj", lattice[perm].to(pos.dtype), cells[graph])
            inputs[name] = pos + offsets.repeat(1, pos.shape[-1] // 3)
