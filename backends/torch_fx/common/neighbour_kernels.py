"""Neighbour lists: every pair of atoms closer than a cutoff, in open space or a periodic cell.
Plain PyTorch, no geoc imports (copied into exported folders as ``geoc_runtime_neighbour.py``).

Convention (the same as ``ase.neighborlist.neighbor_list("ijS", ...)``): an edge is
``(src, dst, shift)`` with ``shift`` an integer vector of lattice multiples, and its vector is

    r = pos[dst] - pos[src] + shift @ cell[graph]

with ``cell`` rows the lattice vectors. A pair is an edge when ``|r| < cutoff`` and it is not
an atom with itself at zero shift; an atom sees its own periodic images when the cell is short.
Shifts are zero along non-periodic axes (``pbc`` false) and everywhere without a cell. Atoms
may lie outside the cell: the search wraps them in and the shifts refer to the positions given.

Canonical order: edges sorted by ``dst``, then ``src``, then ``shift`` (lexicographically), so
the two searches below return the same tensors, not just the same set.

Two searches, one result: :func:`neighbour_pairs` compares every pair of a graph with every
periodic image in reach (``O(n² · images)``, the reference); :func:`cell_list_pairs` bins the
atoms of every graph into cells at least one cutoff wide and compares each atom with the atoms
of its 27 neighbouring cells (more in cells shorter than the cutoff), ``O(n)`` in time and
memory. :func:`radius_neighbours` chooses by size. Both decide membership with the same
arithmetic (:func:`_within`), so they agree bit for bit on pairs at the cutoff too.

Distances are compared without gradient (the edge set is discrete); the caller recomputes ``r``
from the positions and the cell, so forces and stress flow through it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Neighbour list: ``src [E]``, ``dst [E]`` (long), ``shift [E, 3]`` (long lattice multiples).
Neighbours = tuple[Tensor, Tensor, Tensor]

#: Brute force while it compares at most this many pairs for one open graph (its short path),
#: or this many (atom, atom, image) triples summed over graphs otherwise; cell lists above.
#: Measured on 2 threads (docs/neighbours.md): one open graph near 500 atoms; a batch of open
#: graphs near 100k triples; a periodic cube near 30k (27 images: under 40 atoms).
CROSSOVER_PAIRS = 500 * 500
CROSSOVER_TRIPLES = 200 * 200
#: Atoms whose neighbouring cells are looked up at once, and candidate pairs checked at once:
#: the working memory of the cell-list search is bounded by these, whatever the system.
ATOM_CHUNK = 1 << 14
CANDIDATE_CHUNK = 1 << 19
# Searches reach a relative 1e-4 beyond the cutoff (cells that much wider, image counts of
# that much more, the float64 pre-filter that much looser), so that no rounding, not even that
# of float32 positions in the exact test, loses a pair; the exact test then decides.
_MARGIN = 1e-4


def image_counts(cell: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    """How many periodic images along each lattice vector can hold a neighbour of an atom
    wrapped into the cell: ``[G, 3]`` long, ``ceil(cutoff / h_k)`` with ``h_k`` the spacing of
    the lattice planes spanned by the other two vectors (``1 / |b_k|``, ``b`` the reciprocal
    rows), 0 where ``pbc`` is false."""
    with torch.no_grad():
        return _images_in_reach(_reciprocal(_frame(cell, pbc)), pbc, cutoff)


def _images_in_reach(reciprocal: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    counts = torch.ceil(cutoff * reciprocal.norm(dim=-1) * (1 + _MARGIN)).long()
    return torch.where(pbc, counts, torch.zeros_like(counts))


# --- shared: graphs, frames, wrapping, the membership test ------------------------------------


def _graph_count(batch: Tensor, num_graphs: int | None) -> int:
    if num_graphs is not None:
        return num_graphs
    return int(batch.max()) + 1 if batch.numel() else 0


def _frame(cell: Tensor, pbc: Tensor) -> Tensor:
    """``[G, 3, 3]`` float64 bases: the lattice vectors along periodic axes, and an orthonormal
    complement of them along the others (which may be zero or anything in ``cell``: the search
    never shifts along them, so any basis there finds the same pairs)."""
    periodic_rows = cell.to(torch.float64) * pbc.unsqueeze(-1)
    vh = torch.linalg.svd(periodic_rows).Vh  # rows beyond the rank span the complement
    rank = pbc.sum(-1, keepdim=True)
    pick = (rank + torch.cumsum(~pbc, -1) - 1).clamp(0, 2)
    complement = vh.gather(1, pick.unsqueeze(-1).expand(-1, -1, 3))
    return torch.where(pbc.unsqueeze(-1), periodic_rows, complement)


def _reciprocal(frame: Tensor) -> Tensor:
    """Rows ``b_k`` with ``a_j · b_k = δ_jk``: coordinate ``k`` of ``p`` is ``p · b_k``."""
    return torch.linalg.inv(frame).transpose(-1, -2)


def _wrapped(pos: Tensor, batch: Tensor, reciprocal: Tensor, pbc: Tensor) -> tuple[Tensor, Tensor]:
    """Fractional coordinates ``[N, 3]`` (float64) wrapped into ``[0, 1)`` along periodic axes,
    and the lattice vectors ``w`` (long) taken off: wrapped = ``pos - w @ cell``."""
    frac = torch.einsum("nj,nkj->nk", pos.to(torch.float64), _take(reciprocal, batch))
    taken = torch.where(_take(pbc, batch), torch.floor(frac), torch.zeros_like(frac))
    return frac - taken, taken.long()


def _within(
    pos: Tensor,
    cell: Tensor | None,
    graph: Tensor,
    src: Tensor,
    dst: Tensor,
    shift: Tensor,
    cutoff: float,
) -> Tensor:
    """Which candidates are edges: ``|r| < cutoff``, not an atom with itself at zero shift.
    Element by element arithmetic, so each candidate's answer depends on its own numbers alone
    (the same in every search and every permutation of the atoms)."""
    r = _take(pos, dst) - _take(pos, src)
    if cell is not None:  # one graph: its cell broadcast (the same products, no gather)
        lattice = cell.to(pos.dtype)
        lattice = lattice[0].expand(1, 3, 3) if lattice.shape[0] == 1 else _take(lattice, graph)
        s = shift.to(pos.dtype)
        r = r + s[:, 0:1] * lattice[:, 0] + s[:, 1:2] * lattice[:, 1] + s[:, 2:3] * lattice[:, 2]
    sq = r[:, 0] * r[:, 0] + r[:, 1] * r[:, 1] + r[:, 2] * r[:, 2]
    itself = (src == dst) & (shift == 0).all(-1)
    return (sq < cutoff * cutoff) & ~itself


def _take(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along the first axis: ``index_select``, several times faster than
    indexing on CPU (the searches are mostly gathers)."""
    return values.index_select(0, index)


def _checked(cutoff: float) -> float:
    if not math.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"the cutoff must be positive and finite, got {cutoff}")
    return cutoff


def _decode(index: Tensor, reach: Tensor) -> Tensor:
    """Offsets ``[E, 3]`` in ``[-reach, reach]`` from their index in the box, first axis major."""
    size = 2 * reach + 1
    last = index % size[:, 2]
    middle = (index // size[:, 2]) % size[:, 1]
    first = index // (size[:, 2] * size[:, 1])
    return torch.stack((first, middle, last), -1) - reach


def _empty(device: torch.device) -> Neighbours:
    empty = torch.zeros(0, dtype=torch.long, device=device)
    return empty, empty, empty.reshape(0, 3)


class _System:
    """The inputs of a search, normalised: ``batch`` (long, zeros for one graph), ``pbc`` per
    graph (false without a cell), the frame of each graph (:func:`_frame`; Cartesian without a
    cell) and its reciprocal, and the atoms' fractional coordinates, wrapped."""

    taken: Tensor | None  # lattice vectors taken off each atom by wrapping; None: open

    def __init__(
        self,
        pos: Tensor,
        cutoff: float,
        batch: Tensor | None,
        cell: Tensor | None,
        pbc: Tensor | None,
        num_graphs: int | None,
    ) -> None:
        n, device = pos.shape[0], pos.device
        self.pos, self.cutoff, self.cell = pos, _checked(cutoff), cell
        self.batch = torch.zeros(n, dtype=torch.long, device=device) if batch is None else batch
        self.graphs = 1 if batch is None else _graph_count(batch, num_graphs)
        if cell is None:  # open boundaries: Cartesian axes, nothing to wrap
            if pbc is not None and bool(pbc.any()):
                raise ValueError("periodic axes (pbc) need a cell")
            self.pbc = torch.zeros(self.graphs, 3, dtype=torch.bool, device=device)
            self.frame = torch.eye(3, dtype=torch.float64, device=device).expand(self.graphs, 3, 3)
            self.reciprocal = self.frame
            self.frac, self.taken = pos.to(torch.float64), None
            return
        self.pbc = (
            torch.ones(self.graphs, 3, dtype=torch.bool, device=device) if pbc is None else pbc
        )
        self.frame = _frame(cell, self.pbc)
        self.reciprocal = _reciprocal(self.frame)
        self.frac, self.taken = _wrapped(pos, self.batch, self.reciprocal, self.pbc)

    def finish(self, src: Tensor, dst: Tensor, image: Tensor) -> Neighbours:
        """Candidates between wrapped atoms (``image``: lattice shift between the wrapped
        atoms) -> the edges among them, shifts referred to the positions as given."""
        shift = (
            image if self.taken is None else image - _take(self.taken, dst) + _take(self.taken, src)
        )
        keep = _within(self.pos, self.cell, _take(self.batch, dst), src, dst, shift, self.cutoff)
        keep = keep.nonzero().squeeze(-1)
        return _take(src, keep), _take(dst, keep), _take(shift, keep)


# --- the reference: all pairs of a graph against every image in reach -------------------------


def neighbour_pairs(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    num_graphs: int | None = None,
) -> Neighbours:
    """The neighbour list by brute force, every graph of the batch at once (no loop over
    graphs): the reference every faster search must equal, in the canonical order.

    ``pos [N, 3]``; ``batch [N]`` (long, graph of each atom) or None for one graph; ``cell
    [G, 3, 3]`` or None for open boundaries; ``pbc [G, 3]`` (bool), None meaning periodic along
    every axis of a given cell. Memory and time ``O(Σ n_g² · images_g)``."""
    with torch.no_grad():
        if batch is None and cell is None and pbc is None:  # a few operations, not ~100
            return _one_open_graph(pos, _checked(cutoff))
        system = _System(pos, cutoff, batch, cell, pbc, num_graphs)
        if pos.shape[0] == 0:
            return _empty(pos.device)
        members = torch.argsort(system.batch, stable=True)  # atoms grouped by graph, in order
        sizes = torch.bincount(system.batch, minlength=system.graphs)
        first = torch.cumsum(sizes, 0) - sizes
        reach = _images_in_reach(system.reciprocal, system.pbc, cutoff)
        images = (2 * reach + 1).prod(-1)
        per_atom = _take(sizes * images, system.batch)
        dst = torch.repeat_interleave(torch.arange(pos.shape[0], device=pos.device), per_atom)
        graph = _take(system.batch, dst)
        index = torch.arange(dst.shape[0], device=pos.device) - _take(
            torch.cumsum(per_atom, 0) - per_atom, dst
        )
        src = _take(members, _take(first, graph) + index // _take(images, graph))
        image = _decode(index % _take(images, graph), _take(reach, graph))
        return system.finish(src, dst, image)


def _one_open_graph(pos: Tensor, cutoff: float) -> Neighbours:
    """Every pair of one graph without a cell, generated in the canonical order."""
    index = torch.arange(pos.shape[0], device=pos.device)
    src, dst = index.repeat(pos.shape[0]), index.repeat_interleave(pos.shape[0])
    shift = torch.zeros(src.shape[0], 3, dtype=torch.long, device=pos.device)
    keep = _within(pos, None, dst, src, dst, shift, cutoff).nonzero().squeeze(-1)
    return _take(src, keep), _take(dst, keep), _take(shift, keep)


# --- cell lists --------------------------------------------------------------------------------


def _bin_counts(extent: Tensor, cutoff: float, atoms: Tensor) -> Tensor:
    """Cells per axis ``[G, 3]``: as many as fit at least one cutoff wide (1 at least), then
    fewer, evenly, until a graph has no more cells than atoms (a dilute system stays linear)."""
    counts = torch.floor(extent / (cutoff * (1 + _MARGIN))).clamp(min=1)
    limit = atoms.clamp(min=1).to(torch.float64)
    for _ in range(3):  # each round meets the limit or leaves an axis at 1 cell
        split = counts > 1
        excess = (counts.prod(-1) / limit).clamp(min=1)
        factor = excess.pow(1.0 / split.sum(-1).clamp(min=1)).unsqueeze(-1)
        counts = torch.where(split, torch.floor(counts / factor).clamp(min=1), counts)
    return counts.long()


class _Bins:
    """Every atom's cell: per graph a grid of ``bins [G, 3]`` cells spanning the cell along
    periodic axes and the atoms' extent along open ones; atoms sorted by (graph, cell) key,
    with their wrapped Cartesian positions in that order (``points``, float64)."""

    def __init__(self, system: _System) -> None:
        frac, batch, pbc, graphs = system.frac, system.batch, system.pbc, system.graphs
        inf = torch.full((graphs, 3), math.inf, dtype=torch.float64, device=frac.device)
        index = batch.unsqueeze(-1).expand(-1, 3)
        low = inf.scatter_reduce(0, index, frac, "amin")
        high = (-inf).scatter_reduce(0, index, frac, "amax")
        low = torch.where(pbc, 0.0, low.nan_to_num(0.0, 0.0, 0.0))
        span = torch.where(pbc, 1.0, (high - low).nan_to_num(0.0, 0.0, 0.0).clamp(min=0))
        spacing = 1.0 / system.reciprocal.norm(dim=-1)  # between lattice planes
        atoms = torch.bincount(batch, minlength=graphs)
        self.bins = _bin_counts(span * spacing, system.cutoff, atoms)
        self.reach = self._reach(system, spacing)
        width = torch.where(span > 0, span / self.bins, 1.0)
        cell = torch.floor((frac - _take(low, batch)) / _take(width, batch)).long()
        self.cell = torch.minimum(cell.clamp(min=0), _take(self.bins, batch) - 1)
        per_graph = self.bins.prod(-1)
        self.base = torch.cumsum(per_graph, 0) - per_graph
        key = self.key(batch, self.cell)
        self.order = torch.argsort(key, stable=True)
        self.sorted_keys = _take(key, self.order)
        self.frame = system.frame
        self.wrapped = torch.einsum("nk,nkj->nj", frac, _take(self.frame, batch))
        self.points = _take(self.wrapped, self.order).T.contiguous()  # [3, N]: fast 1-d gathers

    def _reach(self, system: _System, spacing: Tensor) -> Tensor:
        """Cells to look at either side: one where a cell is wider than the cutoff (with the
        margin); along a periodic axis shorter than that, every image in reach; none along an
        open axis of one cell."""
        reach = system.cutoff * (1 + _MARGIN)
        wide = self.bins * reach <= spacing * (1 + 1e-12)
        short = torch.ceil(reach * self.bins / spacing).long()
        periodic = torch.where(wide, 1, short)
        return torch.where(system.pbc, periodic, (self.bins > 1).long())

    def key(self, graph: Tensor, cell: Tensor) -> Tensor:
        bins = _take(self.bins, graph)
        return (
            _take(self.base, graph)
            + (cell[:, 0] * bins[:, 1] + cell[:, 1]) * bins[:, 2]
            + cell[:, 2]
        )


def _queries(system: _System, bins: _Bins, atoms: Tensor) -> tuple[Tensor, ...]:
    """For each atom of ``atoms`` (a range), each neighbouring cell that exists: the atom, the
    first position of that cell's atoms in ``bins.order``, how many, the lattice shift from the
    atom's cell to the image of that cell it neighbours, and the atom's position seen from
    that image (float64)."""
    graph = system.batch[atoms]
    reach = _take(bins.reach, graph)
    offsets = (2 * reach + 1).prod(-1)
    query = torch.repeat_interleave(torch.arange(atoms.shape[0], device=atoms.device), offsets)
    index = torch.arange(query.shape[0], device=atoms.device) - _take(
        torch.cumsum(offsets, 0) - offsets, query
    )
    atom, graph = _take(atoms, query), _take(graph, query)
    raw = _take(bins.cell, atom) + _decode(index, _take(reach, query))
    size, periodic = _take(bins.bins, graph), _take(system.pbc, graph)
    lattice = torch.where(periodic, torch.div(raw, size, rounding_mode="floor"), 0)
    cell = raw - lattice * size
    exists = ((cell >= 0) & (cell < size)).all(-1).nonzero().squeeze(-1)
    atom, graph, cell, lattice = (
        _take(atom, exists),
        _take(graph, exists),
        _take(cell, exists),
        _take(lattice, exists),
    )
    key = bins.key(graph, cell)
    start = torch.searchsorted(bins.sorted_keys, key)
    count = torch.searchsorted(bins.sorted_keys, key, right=True) - start
    seen = _take(bins.wrapped, atom) - torch.einsum(
        "qk,qkj->qj", lattice.double(), _take(bins.frame, graph)
    )
    return atom, start, count, lattice, seen.T.contiguous()


def _canonical(src: Tensor, dst: Tensor, shift: Tensor, atoms: int) -> Neighbours:
    """Sorted by (dst, src, shift): one integer key when it fits in 62 bits, else stable sorts."""
    if dst.numel() == 0:
        return src, dst, shift
    low = shift.amin(0)
    span = (shift.amax(0) - low + 1).tolist()
    first = int(dst.min())
    pairs = (int(dst.max()) - first + 1) * atoms
    if pairs * span[0] * span[1] * span[2] < 1 << 62:
        code = ((shift[:, 0] - low[0]) * span[1] + shift[:, 1] - low[1]) * span[2]
        code = code + shift[:, 2] - low[2]
        key = ((dst - first) * atoms + src) * (span[0] * span[1] * span[2]) + code
        order = torch.argsort(key)
    else:
        order = torch.arange(dst.shape[0], device=dst.device)
        for column in (shift[:, 2], shift[:, 1], shift[:, 0], src, dst):
            order = order[torch.argsort(_take(column, order), stable=True)]
    return _take(src, order), _take(dst, order), _take(shift, order)


def cell_list_pairs(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    num_graphs: int | None = None,
) -> Neighbours:
    """The neighbour list by cell lists (binning), every graph of the batch at once: the same
    tensors as :func:`neighbour_pairs` in ``O(N)`` time and memory for bounded density.

    Atoms are wrapped into their cell (fractional coordinates), binned per graph into cells at
    least a cutoff wide (periodic axes: the cell divided evenly; open axes: the atoms' extent),
    and compared with the atoms of the neighbouring cells and their periodic images. Cells are
    never materialised: atoms sorted by (graph, cell) key and a binary search find each cell's
    atoms, so empty cells cost nothing; the work runs in chunks of atoms and candidates."""
    with torch.no_grad():
        system = _System(pos, cutoff, batch, cell, pbc, num_graphs)
        if pos.shape[0] == 0:
            return _empty(pos.device)
        bins = _Bins(system)
        parts = []
        for begin in range(0, pos.shape[0], ATOM_CHUNK):
            atoms = torch.arange(begin, min(begin + ATOM_CHUNK, pos.shape[0]), device=pos.device)
            parts.extend(_search(system, bins, *_queries(system, bins, atoms)))
        if not parts:
            return _empty(pos.device)
        src, dst, shift = (torch.cat(p) for p in zip(*parts, strict=True))
        return src, dst, shift


def _search(
    system: _System,
    bins: _Bins,
    atom: Tensor,
    start: Tensor,
    count: Tensor,
    lattice: Tensor,
    seen: Tensor,
) -> list[Neighbours]:
    """The edges into the queried atoms, in pieces of about ``CANDIDATE_CHUNK`` candidates cut
    between atoms (so each piece sorts on its own into the canonical order). Candidates are
    pre-filtered in float64 on the wrapped positions with the margin; the exact test decides."""
    if atom.numel() == 0:
        return []
    local = atom - atom[0]  # queries come atom by atom, in order
    per_atom = torch.zeros(int(local[-1]) + 1, dtype=torch.long, device=atom.device)
    per_atom = per_atom.index_add(0, local, count)
    before = torch.cumsum(per_atom, 0) - per_atom
    _, atoms_per_piece = torch.unique_consecutive(before // CANDIDATE_CHUNK, return_counts=True)
    queries_per_atom = torch.bincount(local, minlength=per_atom.shape[0])
    ends = torch.cumsum(queries_per_atom, 0)[torch.cumsum(atoms_per_piece, 0) - 1]
    reach = (system.cutoff * (1 + _MARGIN)) ** 2
    pieces, first = [], 0
    for end in ends.tolist():
        sizes = count[first:end]
        query = torch.repeat_interleave(torch.arange(sizes.shape[0], device=atom.device), sizes)
        found = start[first:end].index_select(0, query) + (
            torch.arange(query.shape[0], device=atom.device)
            - _take(torch.cumsum(sizes, 0) - sizes, query)
        )
        sq = torch.zeros(found.shape[0], dtype=torch.float64, device=atom.device)
        for axis in range(3):
            r = seen[axis, first:end].index_select(0, query) - bins.points[axis].index_select(
                0, found
            )
            sq += r * r
        near = (sq < reach).nonzero().squeeze(-1)
        query, found = _take(query, near) + first, _take(found, near)
        # the found atom sits in the image ``lattice`` of its cell: r = dst - (src + lattice)
        edges = system.finish(_take(bins.order, found), _take(atom, query), -_take(lattice, query))
        pieces.append(_canonical(*edges, system.pos.shape[0]))
        first = end
    return pieces


# --- the entry point ---------------------------------------------------------------------------


def radius_neighbours(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    num_graphs: int | None = None,
    method: str = "auto",
) -> Neighbours:
    """Every edge ``(src, dst, shift)`` with ``|pos[dst] - pos[src] + shift @ cell| < cutoff``,
    in the canonical order (module docstring). ``method``: ``"brute"`` (:func:`neighbour_pairs`),
    ``"cells"`` (:func:`cell_list_pairs`) or ``"auto"``: brute force while it compares at most
    ``CROSSOVER_PAIRS`` pairs (one open graph) or ``CROSSOVER_TRIPLES`` triples (atoms² x
    images summed over graphs), cell lists above.

    Open boundaries take points in 1 to 3 dimensions (fewer than 3 are searched padded with
    zero coordinates, which changes no distance); a cell needs 3."""
    dim = pos.shape[-1]
    if dim > 3 or (dim < 3 and (cell is not None or pbc is not None)):
        wanted = "[N, 3] positions (open boundaries: [N, 1..3])"
        raise ValueError(f"the neighbour search takes {wanted}, got {dim} coordinates")
    if dim < 3:
        pos = torch.nn.functional.pad(pos, (0, 3 - dim))
    if method == "auto":
        one_open = batch is None and cell is None and pbc is None
        limit = CROSSOVER_PAIRS if one_open else CROSSOVER_TRIPLES
        work = _brute_work(pos, cutoff, batch, cell, pbc, num_graphs)
        method = "brute" if work <= limit else "cells"
    if method == "brute":
        return neighbour_pairs(pos, cutoff, batch, cell, pbc, num_graphs)
    if method == "cells":
        return cell_list_pairs(pos, cutoff, batch, cell, pbc, num_graphs)
    raise ValueError(f"method must be 'auto', 'brute' or 'cells', got {method!r}")


def _brute_work(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None,
    cell: Tensor | None,
    pbc: Tensor | None,
    num_graphs: int | None,
) -> int:
    """How many (atom, atom, image) triples the brute force would compare."""
    n = pos.shape[0]
    if n > 1 << 16 or (batch is None and cell is None):  # no need to count
        return n * n
    with torch.no_grad():
        if batch is None:
            sizes = torch.tensor([n], device=pos.device)
        else:
            graphs = _graph_count(batch, num_graphs)
            sizes = torch.bincount(batch, minlength=graphs)[:graphs]
        if cell is None:
            return int((sizes * sizes).sum())
        periodic = torch.ones_like(cell[:, 0], dtype=torch.bool) if pbc is None else pbc
        images = (2 * image_counts(cell, periodic, cutoff) + 1).prod(-1)
        return int((sizes * sizes * images).sum())
