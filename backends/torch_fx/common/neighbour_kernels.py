"""Neighbour lists: every pair of atoms closer than a cutoff, in open space or a periodic cell.
Plain PyTorch, no geoc imports (copied into exported folders as ``geoc_runtime_neighbour.py``).

Convention (the same as ``ase.neighborlist.neighbor_list("ijS", ...)``): an edge is
``(src, dst, shift)`` with ``shift`` an integer vector of lattice multiples, and its vector is

    r = pos[dst] - pos[src] + shift @ cell[graph]

with ``cell`` rows the lattice vectors. A pair is an edge when ``|r| < cutoff`` and it is not
an atom with itself at zero shift; an atom sees its own periodic images when the cell is short.
Shifts are zero along non-periodic axes (``pbc`` false) and everywhere without a cell.

Distances are compared without gradient (the edge set is discrete); the caller recomputes ``r``
from the positions and the cell, so forces and stress flow through it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Neighbour list: ``src [E]``, ``dst [E]`` (long), ``shift [E, 3]`` (long lattice multiples).
Neighbours = tuple[Tensor, Tensor, Tensor]


def image_counts(cell: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    """How many periodic images along each lattice vector can hold a neighbour: ``[G, 3]``
    long, ``ceil(cutoff / h_k)`` with ``h_k`` the spacing of the lattice planes spanned by the
    other two vectors (``1 / |b_k|``, ``b`` the reciprocal rows), 0 where ``pbc`` is false."""
    with torch.no_grad():
        reciprocal = torch.linalg.inv(cell.to(torch.float64)).transpose(-1, -2)
        counts = torch.ceil(cutoff * reciprocal.norm(dim=-1)).long()
    return torch.where(pbc, counts, torch.zeros_like(counts))


def _shifts(counts: Tensor) -> Tensor:
    """Every integer vector with ``|s_k| <= counts[k]``: ``[S, 3]`` long."""
    axes = [torch.arange(-int(c), int(c) + 1, device=counts.device) for c in counts.tolist()]
    return torch.cartesian_prod(*axes).reshape(-1, 3)


def _graph_pairs(pos: Tensor, cell: Tensor | None, pbc: Tensor | None, cutoff: float) -> Neighbours:
    """All pairs of one graph against every image within reach (``O(n² · images)``)."""
    n, device = pos.shape[0], pos.device
    if cell is None or pbc is None or not bool(pbc.any()):
        shifts = torch.zeros(1, 3, dtype=torch.long, device=device)
        offsets = pos.new_zeros(1, 3)
    else:
        shifts = _shifts(image_counts(cell, pbc, cutoff))
        offsets = shifts.to(pos.dtype) @ cell
    src, dst, image = torch.meshgrid(
        torch.arange(n, device=device),
        torch.arange(n, device=device),
        torch.arange(shifts.shape[0], device=device),
        indexing="ij",
    )
    src, dst, image = src.reshape(-1), dst.reshape(-1), image.reshape(-1)
    vectors = pos[dst] - pos[src] + offsets[image]
    close = vectors.pow(2).sum(-1) < cutoff * cutoff
    itself = (src == dst) & (shifts[image] == 0).all(-1)
    keep = (close & ~itself).nonzero().squeeze(-1)
    return src[keep], dst[keep], shifts[image[keep]]


def neighbour_pairs(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    num_graphs: int | None = None,
) -> Neighbours:
    """The neighbour list by brute force, graph by graph: the reference every faster search
    must equal (same pairs and shifts; the order is by graph, then ``src``, ``dst``, shift).

    ``pos [N, 3]``; ``batch [N]`` (long, graph of each atom) or None for one graph; ``cell
    [G, 3, 3]`` and ``pbc [G, 3]`` (bool) or None for open boundaries."""
    if not math.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"the cutoff must be positive and finite, got {cutoff}")
    with torch.no_grad():
        if batch is None:
            graphs = [torch.arange(pos.shape[0], device=pos.device)]
        else:
            count = (
                num_graphs if num_graphs is not None else int(batch.max()) + 1 if len(batch) else 0
            )
            graphs = [(batch == g).nonzero().squeeze(-1) for g in range(count)]
        parts = []
        for g, atoms in enumerate(graphs):
            cell_g = None if cell is None else cell[g]
            pbc_g = None if pbc is None else pbc[g]
            src, dst, shift = _graph_pairs(pos[atoms], cell_g, pbc_g, cutoff)
            parts.append((atoms[src], atoms[dst], shift))
        if not parts:
            empty = torch.zeros(0, dtype=torch.long, device=pos.device)
            return empty, empty, empty.reshape(0, 3)
        src, dst, shift = (torch.cat(p) for p in zip(*parts, strict=True))
    return src, dst, shift
