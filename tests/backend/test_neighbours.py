"""Neighbour lists (backends/torch_fx/common/neighbour_kernels.py): the brute force and the cell
lists return the same tensors, in the canonical order (dst, src, shift), and equal ASE's
``neighbor_list("ijS")`` on random cubic, triclinic, tiny, slab and open cells and on batches
mixing them; edge cases (no atom, one atom, coincident atoms, atoms outside the cell, dilute
systems, a search cut into many chunks) and the eager ``radius_edges`` built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.common import neighbour_kernels as nk

ase_neighbours = pytest.importorskip("ase.neighborlist")
ase = pytest.importorskip("ase")

KINDS = ("cubic", "triclinic", "tiny", "slab", "molecule")


def random_system(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    """(positions, cell, pbc) of one random system; atoms lie up to half a cell outside it."""
    if kind == "cubic":
        cell, pbc = np.eye(3) * rng.uniform(4.0, 9.0), [True] * 3
    elif kind == "triclinic":
        cell, pbc = np.eye(3) * rng.uniform(4.0, 8.0) + rng.uniform(-1.5, 1.5, (3, 3)), [True] * 3
    elif kind == "tiny":  # shorter than the cutoff: atoms see their own images
        cell, pbc = np.eye(3) * rng.uniform(1.2, 2.5) + rng.uniform(-0.3, 0.3, (3, 3)), [True] * 3
    elif kind == "slab":
        cell = np.eye(3) * rng.uniform(4.0, 8.0) + rng.uniform(-1.0, 1.0, (3, 3))
        pbc = [True] * 3
        pbc[int(rng.integers(3))] = False
    else:
        cell, pbc = np.eye(3) * rng.uniform(4.0, 9.0), [False] * 3
    n = int(rng.integers(2, 12 if kind == "tiny" else 24))
    positions = rng.uniform(-0.5, 1.5, (n, 3)) @ cell
    return positions, cell, pbc


def ase_edges(positions: np.ndarray, cell: np.ndarray, pbc: list, cutoff: float) -> tuple:
    """ASE's ``i, j, S`` in the canonical order (dst = j, then src = i, then the shift)."""
    atoms = ase.Atoms(positions=positions, cell=cell if any(pbc) else None, pbc=pbc)
    i, j, shift = ase_neighbours.neighbor_list("ijS", atoms, cutoff)
    order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], i, j))
    return i[order], j[order], shift[order]


def assert_same(edges: tuple, expected: tuple) -> None:
    for got, want in zip(edges, expected, strict=True):
        assert np.array_equal(got.numpy(), want), (got.shape, want.shape)


def both(*args, **kwargs) -> tuple:
    """The two searches, which must return equal tensors; the result."""
    brute = nk.neighbour_pairs(*args, **kwargs)
    cells = nk.cell_list_pairs(*args, **kwargs)
    for a, b in zip(brute, cells, strict=True):
        assert torch.equal(a, b)
    return brute


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_cell_equals_ase(kind: str) -> None:
    """12 random systems of each kind (60 cells), random cutoffs from 1 to 4.5."""
    rng = np.random.default_rng(KINDS.index(kind))
    for _ in range(12):
        positions, cell, pbc = random_system(kind, rng)
        cutoff = float(rng.uniform(1.0, 3.0 if kind == "tiny" else 4.5))
        pos, lattice = torch.tensor(positions), torch.tensor(cell)[None]
        edges = both(pos, cutoff, cell=lattice, pbc=torch.tensor([pbc]))
        assert_same(edges, ase_edges(positions, cell, pbc, cutoff))


def test_batches_mixing_every_kind_equal_ase_graph_by_graph() -> None:
    """Graphs interleaved in the batch (not contiguous), open graphs with a zero cell."""
    rng = np.random.default_rng(7)
    for _ in range(6):
        systems = [random_system(kind, rng) for kind in rng.permutation(KINDS)]
        cutoff = float(rng.uniform(1.5, 4.0))
        graph_of = np.concatenate([np.full(len(p), g) for g, (p, _, _) in enumerate(systems)])
        order = rng.permutation(len(graph_of))  # atom k of the batch is atom order[k] here
        positions = np.concatenate([p for p, _, _ in systems])[order]
        batch = torch.tensor(graph_of[order])
        cells = torch.tensor(np.stack([c if any(b) else 0 * c for _, c, b in systems]))
        pbc = torch.tensor([b for _, _, b in systems])
        src, dst, shift = both(torch.tensor(positions), cutoff, batch, cells, pbc)
        expected = [[], [], []]
        for g, (_, cell, periodic) in enumerate(systems):
            members = np.nonzero(graph_of[order] == g)[0]  # batch indices, ascending
            i, j, s = ase_edges(positions[members], cell, periodic, cutoff)
            for part, value in zip(expected, (members[i], members[j], s), strict=True):
                part.append(value)
        i, j, s = (np.concatenate(p) for p in expected)
        canonical = np.lexsort((s[:, 2], s[:, 1], s[:, 0], i, j))
        assert_same((src, dst, shift), (i[canonical], j[canonical], s[canonical]))


def test_the_vector_of_every_edge_is_shorter_than_the_cutoff_and_refers_to_given_positions():
    """Atoms far outside the cell (ten cells away): shifts refer to the positions as given."""
    rng = np.random.default_rng(3)
    cell = torch.tensor(np.eye(3) * 5.0 + rng.uniform(-1, 1, (3, 3)))
    pos = torch.tensor(rng.uniform(-10, 10, (30, 3))) @ cell
    src, dst, shift = both(pos, 3.0, cell=cell[None])
    r = pos[dst] - pos[src] + shift.double() @ cell
    assert len(src) > 0 and bool((r.norm(dim=-1) < 3.0).all())
    wrapped = pos - torch.floor(pos @ torch.linalg.inv(cell)) @ cell
    src_w, dst_w, shift_w = both(wrapped, 3.0, cell=cell[None])
    assert torch.equal(src, src_w) and torch.equal(dst, dst_w)
    r_w = wrapped[dst_w] - wrapped[src_w] + shift_w.double() @ cell
    assert torch.allclose(r, r_w, atol=1e-9)


def test_no_atom_one_atom_and_coincident_atoms() -> None:
    cell = torch.eye(3, dtype=torch.float64)[None] * 2.0
    for method in ("brute", "cells"):
        src, dst, shift = nk.radius_neighbours(torch.zeros(0, 3), 1.0, method=method)
        assert src.shape == (0,) and dst.shape == (0,) and shift.shape == (0, 3)
        one = torch.zeros(1, 3, dtype=torch.float64)
        assert nk.radius_neighbours(one, 1.0, method=method)[0].numel() == 0
        src, _, shift = nk.radius_neighbours(one, 2.5, cell=cell, method=method)
        assert sorted(map(tuple, shift.tolist())) == [  # its own 6 images at 2, none at 2√2
            (-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, 0, 1), (0, 1, 0), (1, 0, 0),
        ] and bool((src == 0).all())  # fmt: skip
        twins = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.5, 1.0, 1.0]])
        src, dst, _ = nk.radius_neighbours(twins, 0.1, method=method)
        assert src.tolist() == [1, 0] and dst.tolist() == [0, 1]  # distance 0 is an edge


def test_a_batch_with_an_empty_graph_and_float32_positions() -> None:
    rng = np.random.default_rng(5)
    pos = torch.tensor(rng.uniform(0, 6, (40, 3)), dtype=torch.float32)
    batch = torch.tensor([0] * 20 + [2] * 20)  # graph 1 has no atom
    cell = torch.eye(3).expand(3, 3, 3) * 6.0
    both(pos, 2.5, batch, cell, torch.tensor([[True] * 3, [True] * 3, [True, True, False]]), 3)


def test_a_search_cut_into_many_chunks_gives_the_same_tensors(monkeypatch) -> None:
    rng = np.random.default_rng(6)
    pos = torch.tensor(rng.uniform(0, 9, (120, 3)))
    cell = torch.eye(3, dtype=torch.float64)[None] * 9.0
    expected = nk.neighbour_pairs(pos, 3.0, cell=cell)
    monkeypatch.setattr(nk, "ATOM_CHUNK", 13)
    monkeypatch.setattr(nk, "CANDIDATE_CHUNK", 300)
    for got, want in zip(nk.cell_list_pairs(pos, 3.0, cell=cell), expected, strict=True):
        assert torch.equal(got, want)


def test_dilute_systems_have_no_more_cells_than_atoms() -> None:
    """Two clusters a million cutoffs apart: the grid is coarsened, the search stays exact."""
    rng = np.random.default_rng(8)
    cluster = rng.uniform(0, 3, (10, 3))
    pos = torch.tensor(np.concatenate([cluster, cluster + np.array([1e6, 2e5, 0.0])]))
    system = nk._System(pos, 1.0, None, None, None, None)
    assert int(nk._Bins(system).bins.prod()) <= 20
    both(pos, 1.0)


def test_auto_chooses_by_size_and_bad_arguments_are_errors() -> None:
    pos = torch.rand(50, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    assert nk._brute_work(pos, 0.5, None, None, None, None) == 2500
    cell = torch.eye(3, dtype=torch.float64)[None]
    assert nk._brute_work(pos, 0.5, None, cell, None, None) == 2500 * 27
    for a, b in zip(nk.radius_neighbours(pos, 0.3), nk.neighbour_pairs(pos, 0.3), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="method"):
        nk.radius_neighbours(pos, 0.3, method="octree")
    with pytest.raises(ValueError, match="cutoff"):
        nk.radius_neighbours(pos, 0.0)
    with pytest.raises(ValueError, match="need a cell"):
        nk.radius_neighbours(pos, 0.3, pbc=torch.tensor([[True, False, False]]))


def test_eager_radius_edges_are_exact_sorted_and_equal_for_one_graph_and_a_batch() -> None:
    """Above the crossover (cell lists) and below it: the exact list, by dst then src; a batch
    gives each graph's edges, offset."""
    gen = torch.Generator().manual_seed(12)
    for n in (40, 600):
        pos = torch.rand(n, 3, generator=gen, dtype=torch.float64) * n ** (1 / 3) * 2
        src, dst, mask = rt.radius_edges(pos, None, 2.0)
        close = (pos[:, None] - pos[None]).norm(dim=-1) < 2.0
        expected = (close & ~torch.eye(n, dtype=torch.bool)).nonzero()
        assert mask is None and torch.equal(torch.stack((dst, src), 1), expected)
        batch = torch.arange(2).repeat_interleave(n)
        src2, dst2, mask2 = rt.radius_edges(torch.cat((pos, pos + 100.0)), batch, 2.0)
        assert mask2 is None
        assert torch.equal(src2, torch.cat((src, src + n))) and torch.equal(
            dst2, torch.cat((dst, dst + n))
        )


def test_traced_radius_edges_keep_the_static_masked_layout() -> None:
    """Traced (here by make_fx), one graph's edges are every distinct pair, masked: shapes
    that do not depend on the positions; the live pairs are the eager list."""
    from torch.fx.experimental.proxy_tensor import make_fx

    pos = torch.rand(9, 3, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    traced = make_fx(lambda p: rt.radius_edges(p, None, 0.6))(pos)
    src, dst, mask = traced(pos)
    assert src.shape == (72,) and mask.shape == (72,) and not bool((src == dst).any())
    live = rt.edge_list((src, dst, mask))
    eager = rt.edge_list(rt.radius_edges(pos, None, 0.6))
    assert torch.equal(live, eager)


@pytest.mark.parametrize("dim", [1, 2, 4, 5])
@pytest.mark.parametrize("batched", [False, True])
def test_radius_edges_in_other_dimensions_are_exact(dim: int, batched: bool) -> None:
    """Point clouds of any dimension: 1-2 are searched padded with zero coordinates, above 3
    by all pairs (a 2-D radius graph failed with an IndexError once the search was 3-D)."""
    gen = torch.Generator().manual_seed(dim)
    pos = torch.randn(30, dim, generator=gen, dtype=torch.float64)
    batch = torch.arange(3).repeat_interleave(10) if batched else None
    src, dst, mask = rt.radius_edges(pos, batch, 1.2)
    distance = (pos[:, None] - pos[None]).norm(dim=-1)
    same = torch.ones(30, 30, dtype=torch.bool) if batch is None else batch[:, None] == batch
    want = (distance < 1.2) & same & ~torch.eye(30, dtype=torch.bool)
    expected = want.T.nonzero()  # (dst, src) in order
    assert mask is None
    assert torch.equal(torch.stack((dst, src), 1), expected)
