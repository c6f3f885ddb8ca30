"""Periodic cells of a point cloud (``pointcloud(..., edges=radius(r), cell=true)``). Plain
PyTorch, no geoc imports (copied into exported folders as ``geoc_runtime_periodic.py``).

Inputs: ``cell`` ``[graphs, 3, 3]`` (rows are the lattice vectors; ``[3, 3]`` for one graph,
or one cell shared by every graph of a batch) and ``pbc`` ``[graphs, 3]`` booleans (``[3]``
shared; None: periodic along every axis), so bulk crystals, slabs and molecules (``pbc`` all
false, any cell) mix in one batch.

An edge ``(src, dst, shift)`` joins ``src`` to the periodic image of ``dst`` displaced by
``shift @ cell``; its vector is ``r = pos[dst] - pos[src] + shift @ cell[graph]``
(``neighbour_kernels.py``). The lowering gathers a point at ``src`` as the image of ``src`` seen
from ``dst``, ``x[src] - shift @ cell``, so ``x[dst] - x[src]`` is that vector and the points
on an edge live in the lattice frame of its ``dst``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.neighbour_kernels import Neighbours, radius_neighbours
from geoc.backends.torch_fx.common.precision_kernels import geometry
from geoc.backends.torch_fx.common.validate_kernels import InputError, _integer, _on_host, _require

#: A graph with a periodic axis needs three independent lattice vectors: ``|det(cell)|`` above
#: this fraction of the product of their lengths (1 for orthogonal vectors).
SINGULAR = 1e-9


def per_graph_cells(cell: Tensor, pbc: Tensor | None, num_graphs: int) -> tuple[Tensor, Tensor]:
    """``cell`` as ``[graphs, 3, 3]`` and ``pbc`` as ``[graphs, 3]`` bool (a shared one
    repeated; None periodic everywhere)."""
    cells = cell.reshape(-1, 3, 3).expand(num_graphs, 3, 3)
    if pbc is None:
        return cells, torch.ones(num_graphs, 3, dtype=torch.bool, device=cell.device)
    return cells, pbc.reshape(-1, 3).expand(num_graphs, 3)


def periodic_neighbours(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None,
    cell: Tensor,
    pbc: Tensor | None,
    num_graphs: int,
) -> Neighbours:
    """Every pair closer than ``cutoff`` across periodic images, ``(src, dst, shift)``: the
    one call of the neighbour search (``radius_neighbours``: brute force for small systems,
    cell lists above). Atoms may lie outside the cell: the shifts refer to the positions as
    given, so an atom moved by a lattice vector keeps every edge vector."""
    cells, periodic = per_graph_cells(cell, pbc, num_graphs)
    return radius_neighbours(pos, cutoff, batch, cells, periodic, num_graphs)


def given_neighbours(edge_index: Tensor, edge_shift: Tensor) -> Neighbours:
    """A neighbour list passed in by the caller: ``edge_index`` ``[2, E]`` (row 0 src, row 1
    dst) and ``edge_shift`` ``[E, 3]`` integer lattice multiples (ASE's ``S``)."""
    return edge_index[0], edge_index[1], edge_shift


def check_edge_shift(shift: object, edge_index: Tensor) -> None:
    """``edge_shift``: integer lattice multiples ``[E, 3]``, one row per ``edge_index`` column
    (GEO611, GEO612, GEO613)."""
    name = "edge_shift"
    if not isinstance(shift, Tensor) or shift.ndim != 2 or shift.shape[1] != 3:
        got = list(shift.shape) if isinstance(shift, Tensor) else type(shift).__name__
        raise InputError("GEO611", name, f"expected [E, 3] lattice multiples, got {got}")
    if not _integer(shift):
        raise InputError("GEO613", name, f"expected integer lattice multiples, got {shift.dtype}")
    if shift.shape[0] != edge_index.shape[1]:
        edges = edge_index.shape[1]
        raise InputError("GEO612", name, f"{shift.shape[0]} rows for {edges} edges in edge_index")


def neighbour_shifts(neighbours: Neighbours) -> Tensor:
    """Each edge's lattice shift ``[E, 3]`` (integers), in the order of its edges."""
    return neighbours[2]


def neighbour_edges(neighbours: Neighbours) -> tuple[Tensor, Tensor, None]:
    """The edge set ``(src, dst, mask)`` of a neighbour list: an exact list, no mask."""
    return neighbours[0], neighbours[1], None


def image_offsets(neighbours: Neighbours, cell: Tensor, batch: Tensor | None) -> Tensor:
    """``shift @ cell[graph]`` per edge ``[E, 3]``: differentiable in ``cell``, so gradients
    with respect to the cell (stress) flow through every edge vector."""
    _, dst, shift = neighbours
    cells = cell.reshape(-1, 3, 3)
    with geometry(cell.device):  # in the cell's dtype, never autocast to half precision
        if batch is None or cells.shape[0] == 1:
            return shift.to(cell.dtype) @ cells[0]
        return torch.einsum("ek,ekj->ej", shift.to(cell.dtype), cells[batch[dst]])


def image_points(x: Tensor, offsets: Tensor, starts: tuple[int, ...]) -> Tensor:
    """Points gathered at ``src`` as seen from ``dst``: ``x[src] - shift @ cell`` in the
    3 channels from each of ``starts`` (the point copies of the value's type)."""
    if len(starts) == 1 and starts[0] == 0 and x.shape[-1] == 3:
        return x - offsets
    parts, at = [], 0
    for start in starts:
        parts += [x[..., at:start], x[..., start : start + 3] - offsets]
        at = start + 3
    return torch.cat([*parts, x[..., at:]], dim=-1)


def check_cell(
    cell: object,
    pbc: object,
    like: Tensor | None,
    batch: Tensor | None,
    num_graphs: int | None,
) -> None:
    """``cell`` ``[graphs, 3, 3]`` (``[3, 3]`` for one graph or shared), floating in the
    module's dtype, finite, and non-singular wherever ``pbc`` has a periodic axis; ``pbc``
    ``[graphs, 3]`` (or ``[3]``) booleans (GEO611, GEO613, GEO618)."""
    if not isinstance(cell, Tensor):
        raise InputError("GEO611", "cell", f"expected a tensor, got {type(cell).__name__}")
    graphs = _check_cell_shape(cell, batch, num_graphs)
    if not cell.is_floating_point() or (like is not None and cell.dtype != like.dtype):
        want = "a floating dtype" if like is None else str(like.dtype)
        raise InputError("GEO613", "cell", f"expected {want}, got {cell.dtype}")
    if pbc is not None:
        _check_pbc(pbc, graphs)
        _check_rows(pbc, "pbc", batch, num_graphs)
    _require(torch.isfinite(cell).all(), "GEO618", "cell", "the cell must be finite")
    cells = cell.detach().reshape(-1, 3, 3)
    periodic = (
        torch.ones(cells.shape[0], dtype=torch.bool, device=cell.device)
        if pbc is None
        else pbc.reshape(-1, 3).any(-1)
    )
    volume = torch.linalg.det(cells.double()).abs()
    lengths = cells.double().norm(dim=-1).prod(-1)
    singular = periodic & (volume <= SINGULAR * lengths)
    if _on_host(singular) and bool(singular.any()):
        g = int(singular.nonzero()[0, 0])
        raise InputError(
            "GEO618",
            "cell",
            f"the cell of graph {g} is singular (its lattice vectors are linearly dependent); "
            "a graph with a periodic axis needs three independent lattice vectors (along a "
            "non-periodic axis any vector out of the plane of the others)",
        )
    _require(~singular.any(), "GEO618", "cell", "a cell with a periodic axis is singular")


def _check_cell_shape(cell: Tensor, batch: Tensor | None, num_graphs: int | None) -> int | None:
    """The number of cells given (None: one shared by every graph)."""
    shape = tuple(cell.shape)
    if cell.ndim == 2 and shape == (3, 3):
        return None
    if cell.ndim != 3 or shape[1:] != (3, 3):
        want = "[graphs, 3, 3]" if batch is not None else "[3, 3]"
        raise InputError(
            "GEO611", "cell", f"expected {want} (rows the lattice vectors), got {list(shape)}"
        )
    _check_rows(cell, "cell", batch, num_graphs)
    return shape[0]


def _check_rows(x: Tensor, name: str, batch: Tensor | None, num_graphs: int | None) -> None:
    """One row per graph (or one shared row, ``x.ndim`` lower): GEO612."""
    rows = x.shape[0] if x.ndim == (3 if name == "cell" else 2) else 1
    if batch is None and rows != 1:
        raise InputError("GEO612", name, f"one graph (no `batch`) takes one row, got {rows}")
    if batch is None or rows == 1:
        return
    if num_graphs is not None and rows != num_graphs:
        raise InputError("GEO612", name, f"expected one row per graph ({num_graphs}), got {rows}")
    if batch.numel():
        _require(batch.max() < rows, "GEO612", name, "`batch` names a graph without a row")


def _check_pbc(pbc: object, graphs: int | None) -> None:
    """Booleans ``[3]`` or ``[rows, 3]``, as many rows as cells where both have several."""
    if not isinstance(pbc, Tensor) or pbc.dtype != torch.bool:
        got = pbc.dtype if isinstance(pbc, Tensor) else type(pbc).__name__
        raise InputError("GEO613", "pbc", f"expected booleans (periodic axes), got {got}")
    if not (tuple(pbc.shape) == (3,) or (pbc.ndim == 2 and pbc.shape[1] == 3)):
        raise InputError("GEO611", "pbc", f"expected [graphs, 3] or [3], got {list(pbc.shape)}")
    rows = pbc.shape[0] if pbc.ndim == 2 else 1
    if graphs is not None and rows not in (1, graphs):
        raise InputError("GEO612", "pbc", f"expected one row per cell ({graphs}), got {rows}")
