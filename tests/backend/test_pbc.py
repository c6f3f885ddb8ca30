"""Periodic cells (issue 14, item 2): ``pointcloud(..., edges=radius(r), cell=true)``.

Float64, random parameters: nequip with ``periodic=true`` is unchanged when atoms are wrapped
or moved by lattice vectors, invariant under rotating cell and positions together and under
permutations, its forces are central finite differences of its energy, a batch mixing bulk,
slab and molecule equals its graphs run one by one; ``geoc check`` samples all of it; misuse
is a diagnostic with a code and a caret, bad runtime cells an ``InputError``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import assert_fails_at, periodic_system, run_exported

from geoc import InputError
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common import periodic_kernels
from geoc.backends.torch_fx.domains.cells import draw_periodic, periodic_graph
from geoc.backends.torch_fx.domains.clouds import RADIUS_MARGIN
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify.check import check, check_module
from geoc.backends.torch_fx.verify.params import random_parameters
from geoc.groups import random_rotation
from geoc.pipeline import frontend

CUTOFF = 3.0
PARAMS = {"periodic": True, "depth": 1, "channels": 4, "cutoff": CUTOFF}
F64 = torch.float64


@pytest.fixture(scope="module")
def nequip() -> torch.nn.Module:
    module = geoc_compile("nequip", PARAMS, dtype=F64)
    return random_parameters(module, np.random.default_rng(7))


def system(kind: str, atoms: int, seed: int) -> dict[str, torch.Tensor]:
    return periodic_system(kind, atoms, seed, CUTOFF)


def energy(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return module(**inputs)["energy"].sum()


def close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> bool:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) <= rtol * max(float(b.abs().max()), 1e-300)


KINDS = ["bulk", "tiny", "slab"]


@pytest.mark.parametrize("kind", KINDS)
def test_wrapping_and_lattice_moves_change_nothing(nequip, kind):
    inputs = system(kind, 5, seed=1)
    cell, pbc = inputs["cell"], inputs["pbc"]
    reference = energy(nequip, inputs)
    assert float(reference.detach().abs()) > 1e-6  # a real energy, not a vanishing one
    fractional = torch.linalg.solve(cell.T, inputs["pos"].T).T
    wrapped = inputs["pos"] - torch.where(pbc, fractional.floor(), 0.0) @ cell
    moves = torch.randint(-2, 3, (5, 3), generator=torch.Generator().manual_seed(3)) * pbc
    moved = inputs["pos"] + moves.to(F64) @ cell
    for pos in (wrapped, moved):
        assert close(energy(nequip, {**inputs, "pos": pos}), reference, 1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_rotating_cell_with_positions_and_permuting(nequip, kind):
    inputs = system(kind, 6, seed=2)
    rng = np.random.default_rng(4)
    rotation = torch.as_tensor(random_rotation(rng, 3, reflect=True))
    perm = torch.as_tensor(rng.permutation(6))
    shift = torch.as_tensor(rng.normal(size=3))
    moved = {
        "z": inputs["z"][perm],
        "pos": inputs["pos"][perm] @ rotation.T + shift,
        "cell": inputs["cell"] @ rotation.T,
        "pbc": inputs["pbc"],
    }
    assert close(energy(nequip, moved), energy(nequip, inputs), 1e-10)


def test_the_cell_must_turn_with_the_positions(nequip):
    """Rotating the positions alone moves the atoms relative to their images: not a law."""
    inputs = system("bulk", 6, seed=2)
    rotation = torch.as_tensor(random_rotation(np.random.default_rng(4), 3, reflect=False))
    turned = {**inputs, "pos": inputs["pos"] @ rotation.T}
    assert not close(energy(nequip, turned), energy(nequip, inputs), 1e-6)


@pytest.mark.parametrize("kind", ["bulk", "tiny"])
def test_forces_are_central_differences_of_the_energy(nequip, kind):
    inputs = system(kind, 4, seed=5)
    pos = inputs["pos"].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(nequip, {**inputs, "pos": pos}), pos)
    forces, step = -grad, 1e-5
    numeric = torch.zeros_like(forces)
    for atom in range(4):
        for axis in range(3):
            plus, minus = inputs["pos"].clone(), inputs["pos"].clone()
            plus[atom, axis] += step
            minus[atom, axis] -= step
            difference = energy(nequip, {**inputs, "pos": plus}) - energy(
                nequip, {**inputs, "pos": minus}
            )
            numeric[atom, axis] = -difference / (2 * step)
    assert close(forces, numeric, 1e-6)


def batched(graphs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    sizes = torch.tensor([g["pos"].shape[0] for g in graphs])
    return {
        "z": torch.cat([g["z"] for g in graphs]),
        "pos": torch.cat([g["pos"] for g in graphs]),
        "cell": torch.stack([g["cell"] for g in graphs]),
        "pbc": torch.stack([g["pbc"] for g in graphs]),
        "batch": torch.repeat_interleave(torch.arange(len(graphs)), sizes),
    }


def test_a_batch_mixes_bulk_slab_and_molecule(nequip):
    graphs = [
        system(k, n, seed=10 + i)
        for i, (k, n) in enumerate([("bulk", 5), ("slab", 4), ("molecule", 6), ("tiny", 1)])
    ]
    together = batched(graphs)
    pos = together["pos"].clone().requires_grad_(True)
    energies = nequip(**{**together, "pos": pos})["energy"]
    (forces,) = torch.autograd.grad(-energies.sum(), pos)
    start = 0
    for g, graph in enumerate(graphs):
        alone_pos = graph["pos"].clone().requires_grad_(True)
        alone = nequip(**{**graph, "pos": alone_pos})["energy"]
        (alone_forces,) = torch.autograd.grad(-alone.sum(), alone_pos)
        stop = start + graph["pos"].shape[0]
        assert close(energies[g], alone[0] if alone.ndim else alone, 1e-12)
        assert close(forces[start:stop], alone_forces, 1e-12)
        start = stop


def test_one_atom_in_a_tiny_cell_sees_its_images(nequip):
    inputs = system("tiny", 1, seed=3)
    out = nequip(**inputs)
    assert out["energy"].isfinite().all()
    src, dst, shift = periodic_kernels.periodic_neighbours(
        inputs["pos"], CUTOFF, None, inputs["cell"], inputs["pbc"], 1
    )
    assert len(src) > 0 and bool((src == dst).all()) and bool((shift != 0).any(-1).all())


def test_edges_are_ases_on_positions_not_wrapped():
    neighborlist = pytest.importorskip("ase.neighborlist")
    for seed, kind in enumerate(["bulk", "tiny", "slab", "bulk", "tiny"]):
        inputs = system(kind, 5, seed=20 + seed)
        pos, cell, pbc = inputs["pos"], inputs["cell"], inputs["pbc"]
        src, dst, shift = periodic_kernels.periodic_neighbours(pos, CUTOFF, None, cell, pbc, 1)
        i, j, s = neighborlist.primitive_neighbor_list(
            "ijS", pbc.numpy(), cell.numpy(), pos.numpy(), CUTOFF, self_interaction=False
        )
        ours = sorted(zip(src.tolist(), dst.tolist(), map(tuple, shift.tolist()), strict=True))
        theirs = sorted(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True))
        assert ours == theirs, kind


def test_one_cell_or_a_batch_of_one_cell_is_the_same(nequip):
    inputs = system("bulk", 5, seed=8)
    one = nequip(**inputs)["energy"]
    stacked = nequip(**{**inputs, "cell": inputs["cell"][None], "pbc": inputs["pbc"][None]})
    default = nequip(**{**inputs, "pbc": None})["energy"]  # bulk: periodic everywhere
    assert torch.equal(one, stacked["energy"]) and torch.equal(one, default)


# --- geoc check ------------------------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
def test_check_samples_cells_and_lattice_moves(graphs):
    report = check("nequip", params=PARAMS, trials=4, graphs=graphs)
    assert report.passed, report.render()
    text = report.render()
    assert "lattice translations" in text.splitlines()[0] and "tiny" in text


def test_coincident_atoms_keep_coinciding_under_lattice_moves():
    """The degenerate trial's two atoms at one point move by one lattice vector: moved by
    two, their edge vector is rounding (1e-16 in a random direction), not zero, and the
    harmonics of it are not those of zero (before, periodic nequip at cutoff 5 and depth 2
    failed its third trial at `sh`)."""
    ir = frontend("nequip", {"periodic": True})
    for seed in range(20):
        drawn = draw_periodic(ir, np.random.default_rng(seed), [5, 4], 0, degenerate=True)
        assert torch.equal(drawn["pos"][0], drawn["pos"][1])
        assert torch.equal(drawn["lattice"][0], drawn["lattice"][1])
    report = check("nequip", params={**PARAMS, "cutoff": 5.0, "depth": 2}, trials=3)
    assert report.passed, report.render()


def test_check_blames_an_edge_vector_without_its_image(monkeypatch):
    monkeypatch.setattr(periodic_kernels, "image_points", lambda x, offsets, starts: x)
    report = check_module(geoc_compile("nequip", PARAMS, dtype=F64), trials=2)
    assert not report.passed
    assert report.first_failure is not None and report.first_failure.node == "r"


POINT_OUT = """model P() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(2.0), cell=true)
    input h: 2 x scalar over nodes
    input x: point(3) over nodes
    r = x[dst] - x[src]
    m = mlp(concat(h[src], norm(r)), [8, 1], act=silu)
    output y: point(3) over nodes = x + mean(r * m, over=edges, into=nodes)
}"""


def test_points_per_atom_are_checked_without_lattice_moves():
    report = check(POINT_OUT, trials=3)
    assert report.passed, report.render()
    assert "no lattice moves" in report.render()


# --- diagnostics ------------------------------------------------------------------------------

DOMAIN = (
    "model M() {{\n    symmetry E(3) x S(nodes)\n    domain pointcloud(nodes, {args})\n"
    "    input x: point(3) over nodes\n    output n: 1 x scalar over nodes = sum(norm(x[dst] - "
    "x[src]), over=edges, into=nodes)\n}}"
)


@pytest.mark.parametrize(
    "args",
    [
        "dim=3, edges=knn(3), cell=@true",
        "dim=3, edges=full, cell=@true",
        "dim=3, cell=@true",
        "dim=2, edges=radius(1.0), cell=@true",
        "dim=3, edges=radius(1.0), cell=@3",
    ],
)
def test_misused_cell_is_geo204_at_its_value(args):
    assert_fails_at(DOMAIN.format(args=args), "GEO204")


def test_a_global_point_under_a_cell_is_geo450():
    declared = DOMAIN.format(args="dim=3, edges=radius(1.0), cell=true").replace(
        "    input x:", "    input c: @point(3)\n    input x:"
    )
    assert_fails_at(declared, "GEO450")
    pooled = DOMAIN.format(args="dim=3, edges=radius(1.0), cell=true").replace(
        "    output", "    c = @mean(x, over=nodes)\n    output"
    )
    assert_fails_at(pooled, "GEO450")


def test_an_input_called_cell_is_geo117():
    text = DOMAIN.format(args="dim=3, edges=radius(1.0), cell=true").replace(
        "    input x:", "    @input cell: 2 x scalar over nodes\n    input x:"
    )
    assert_fails_at(text, "GEO117", run=lambda t: geoc_compile(t))


# --- runtime validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"cell": None}, "GEO610", "missing"),
        ({"cell": torch.zeros(9, dtype=F64)}, "GEO611", "[3, 3]"),
        ({"cell": torch.eye(3, dtype=torch.float32) * 4}, "GEO613", "float64"),
        ({"cell": torch.zeros(2, 3, 3, dtype=F64)}, "GEO612", "one row"),
        (
            {"cell": torch.tensor([[4.0, 0, 0], [0, 4, 0], [4, 4, 0]], dtype=F64)},
            "GEO618",
            "singular",
        ),
        ({"cell": torch.full((3, 3), float("nan"), dtype=F64)}, "GEO618", "finite"),
        ({"pbc": torch.ones(3, dtype=torch.long)}, "GEO613", "booleans"),
        ({"pbc": torch.ones(2, 2, dtype=torch.bool)}, "GEO611", "[graphs, 3] or [3]"),
    ],
)
def test_bad_cells_are_refused(nequip, change, code, words):
    inputs = {**system("bulk", 4, seed=1), **change}
    with pytest.raises(InputError) as info:
        nequip(**inputs)
    assert info.value.code == code and words in str(info.value)


def test_a_batch_takes_one_cell_and_pbc_per_graph_or_one_shared(nequip):
    graphs = [system("bulk", 4, seed=40), system("bulk", 3, seed=41)]
    inputs = batched(graphs)
    shared = {**inputs, "cell": graphs[0]["cell"], "pbc": graphs[0]["pbc"]}
    alone = nequip(**graphs[0])["energy"]
    assert torch.allclose(nequip(**shared)["energy"][0], alone[0], rtol=1e-12, atol=0)
    for name, rows in (
        ("cell", inputs["cell"][:1].expand(3, 3, 3)),
        ("pbc", inputs["pbc"][[0] * 3]),
    ):
        with pytest.raises(InputError, match="GEO612"):
            nequip(**{**inputs, name: rows, "num_graphs": 2})
        with pytest.raises(InputError, match="GEO612"):
            nequip(**{**inputs, name: rows[:2], "batch": inputs["batch"] + 1})


def test_a_molecule_takes_a_zero_cell_and_a_singular_slab_is_refused(nequip):
    molecule = system("molecule", 4, seed=1)
    assert float(molecule["cell"].abs().max()) == 0.0
    assert nequip(**molecule)["energy"].isfinite().all()
    slab = system("slab", 4, seed=1)
    slab["cell"][2] = 0.0
    with pytest.raises(InputError, match="GEO618"):
        nequip(**slab)


def test_check_catches_a_search_that_only_sees_nearby_images(monkeypatch):
    """A search that looks only one image away (by the shifts of the positions as given)
    misses far images of unwrapped atoms: only the lattice moves of single atoms show it (a
    rotation keeps fractional coordinates)."""
    search = periodic_kernels.periodic_neighbours

    def nearby_only(pos, cutoff, batch, cell, pbc, num_graphs):
        src, dst, shift = search(pos, cutoff, batch, cell, pbc, num_graphs)
        near = (shift.abs() <= 1).all(-1)
        return src[near], dst[near], shift[near]

    monkeypatch.setattr(periodic_kernels, "periodic_neighbours", nearby_only)
    report = check_module(geoc_compile("nequip", PARAMS, dtype=F64), trials=3)
    assert not report.passed


@pytest.mark.slow
def test_an_exported_folder_runs_periodic_cells_without_geoc(tmp_path):
    module = geoc_compile("nequip", PARAMS)  # exported folders load in float32
    folder = write_folder(module, tmp_path / "periodic")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["extra_inputs"] == ["cell", "batch", "num_graphs", "pbc"]
    graphs = batched([system("bulk", 4, seed=30), system("slab", 3, seed=31)])
    inputs = {k: v.float() if v.is_floating_point() else v for k, v in graphs.items()}
    out = run_exported(folder, inputs, tmp_path)
    assert torch.allclose(out["energy"], module(**inputs)["energy"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["bulk", "tiny", "slab", "molecule"])
def test_sampled_cells_keep_every_image_distance_off_the_cutoff(kind):
    """geoc check's cells: no pair of images within RADIUS_MARGIN of r (here 30 atoms, two of
    them coincident), so rounding cannot flip an edge."""
    rng = np.random.default_rng(50)
    cell, pbc, pos = (torch.as_tensor(a) for a in periodic_graph(rng, kind, 30, CUTOFF, True))
    assert torch.equal(pos[0], pos[1])
    inner, outer = (
        periodic_kernels.periodic_neighbours(pos, CUTOFF * (1 + m), None, cell, pbc, 1)[0].numel()
        for m in (-RADIUS_MARGIN, RADIUS_MARGIN)
    )
    assert inner == outer > 0


def test_an_output_over_periodic_edges_returns_their_shifts():
    """In a tiny cell an atom meets several images of another: ``edge_index`` alone cannot tell
    those edges apart, so ``edge_shift`` comes with it, and together they give the vectors."""
    spec = """model M() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(3.0), cell=true)
    input pos: point(3) over nodes
    output r: vector over edges = pos[dst] - pos[src]
}
"""
    module = geoc_compile(spec, dtype=F64)
    inputs = system("tiny", 3, seed=4)
    del inputs["z"]
    out = module(**inputs)
    src, dst = out["edge_index"]
    shift = out["edge_shift"]
    assert shift.dtype == torch.long and shift.shape == (src.shape[0], 3)
    expected = inputs["pos"][dst] - inputs["pos"][src] + shift.to(F64) @ inputs["cell"]
    torch.testing.assert_close(out["r"], expected)
    pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
    assert len(pairs) < src.shape[0]  # the same two atoms, several images
