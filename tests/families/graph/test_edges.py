"""Edge sets built inside a module (issue 12): knn's tie rule on both sides of its tolerance,
lattices and swapped equidistant neighbours, empty edge sets, one-node graphs, batches,
coincident points (finite values and derivatives), and no masked self-pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_fails_at

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.domains.clouds import Layout, layout_of, stable_positions
from geoc.backends.torch_fx.verify import check, check_module, draw_sample, record
from geoc.domains import Domain
from geoc.domains.pointcloud import KNN_TOL

pytestmark = pytest.mark.usefixtures("one_thread")

# The reproducer's class: EGNN messages on a knn cloud (the block comes from the built-in spec).
KNN_EGNN = """
import "egnn"
model KnnEGNN(hidden: int = 8) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=EDGES)
    input h: 4 x scalar over nodes
    input x: point(3) over nodes
    h = linear(h, hidden x scalar)
    h, x = egnn_layer(h, x, hidden=hidden)
    output energy: scalar = sum(mlp(h, [hidden, 1], act=silu), over=nodes)
    output pos: point(3) over nodes = x
    output feats: hidden x scalar over nodes = h
}
"""


def knn_egnn(edges: str = "knn(1)", seed: int = 0) -> torch.fx.GraphModule:
    """The model above in float64, every parameter random (not the initial ones), of the
    scale of nn.Linear's initialisation."""
    module = compile(KNN_EGNN.replace("EDGES", edges), dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            fan_in = p.shape[-1] if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / fan_in**0.5)
    return module


def edge_set(edges: rt.Edges) -> set[tuple[int, int]]:
    src, dst, mask = edges
    live = torch.ones_like(src, dtype=torch.bool) if mask is None else mask != 0
    return set(zip(src[live].tolist(), dst[live].tolist(), strict=True))


def incoming(edges: rt.Edges, node: int) -> set[int]:
    return {s for s, d in edge_set(edges) if d == node}


def rotation(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def cube_lattice(side: int = 3) -> torch.Tensor:
    axis = torch.arange(side, dtype=torch.float64)
    return torch.cartesian_prod(axis, axis, axis)


# --- the rule, on both sides of the tolerance -------------------------------------------------


def test_neighbours_tied_with_the_kth_within_tol_are_all_included() -> None:
    """Node 0 at the origin: four neighbours at 1, 1 + tol/2, 1, 1 and one at 2; knn(1)."""
    pos = torch.tensor(
        [[0, 0, 0], [1, 0, 0], [0, 1 + KNN_TOL / 2, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 2.0]],
        dtype=torch.float64,
    )
    assert incoming(rt.knn_edges(pos, None, 1, KNN_TOL), 0) == {1, 2, 3, 4}


def test_a_gap_above_tol_gives_exactly_k_neighbours() -> None:
    pos = torch.tensor(
        [[0, 0, 0], [1, 0, 0], [0, 1 + 2 * KNN_TOL, 0], [0, 0, 1 + 4 * KNN_TOL]],
        dtype=torch.float64,
    )
    edges = rt.knn_edges(pos, None, 1, KNN_TOL)
    assert incoming(edges, 0) == {1}
    assert incoming(rt.knn_edges(pos, None, 2, KNN_TOL), 0) == {1, 2}
    cloud = torch.randn(20, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for k in (1, 3, 5):  # random points: every gap is far above tol
        counts = np.bincount([d for _, d in edge_set(rt.knn_edges(cloud, None, k, KNN_TOL))])
        assert counts.tolist() == [k] * 20


def test_tol_zero_keeps_only_exact_ties() -> None:
    pos = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1 + 1e-9, 0]], dtype=torch.float64)
    assert incoming(rt.knn_edges(pos, None, 1, 0.0), 0) == {1}
    assert incoming(rt.knn_edges(pos, None, 1, 1e-6), 0) == {1, 2}


def test_knn_tol_is_a_domain_attribute_that_round_trips() -> None:
    default = Domain.parse("pointcloud(nodes, dim=3, edges=knn(8))")
    given = Domain.parse("pointcloud(nodes, dim=3, edges=knn(8, tol=1e-06))")
    assert (default.edge_tol, given.edge_tol) == (KNN_TOL, 1e-6)
    assert str(default) == "pointcloud(nodes, dim=3, edges=knn(8))"
    assert Domain.parse(str(given)) == given
    code = compile(KNN_EGNN.replace("EDGES", "knn(2, tol=1e-3)")).code
    assert "knn_edges(x, batch, 2, 0.001)" in code


@pytest.mark.parametrize(
    "edges",
    ["knn(2, tol=@2.0)", "knn(2, tol=@-1.0)", "radius(1.0, @tol=0.1)", "knn(2, @eps=0.1)"],
)
def test_a_bad_tolerance_is_geo204(edges: str) -> None:
    assert_fails_at(
        KNN_EGNN.replace("EDGES", edges), "GEO204", lambda text: compile(text, model="KnnEGNN")
    )


# --- exact equivariance on ties ----------------------------------------------------------------


def _energy(module: torch.fx.GraphModule, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    return module(h=h, x=pos)["energy"]


def test_swapping_equidistant_neighbours_is_exact() -> None:
    """The reproducer: node 0 has two neighbours at distance 1; swapping their labels (a
    permutation of the input) must permute the output exactly (it changed it by 3.3)."""
    module = knn_egnn("knn(1)")
    pos = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [3, 3, 3.0]], dtype=torch.float64)
    h = torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    perm = torch.tensor([0, 2, 1, 3])
    before, after = module(h=h, x=pos), module(h=h[perm], x=pos[perm])
    assert torch.allclose(before["energy"], after["energy"], rtol=1e-13, atol=0)
    assert torch.allclose(before["feats"][perm], after["feats"], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("edges", ["knn(1)", "knn(4)", "knn(6)"])
def test_a_cubic_lattice_is_equivariant_under_its_symmetries_and_any_rotation(
    edges: str,
) -> None:
    """On a 3x3x3 lattice (k = 1, 4, 6: the k-th neighbour tied with up to 5 others), a
    lattice symmetry (90° about z, exact in floating point) and a random rotation with a
    translation both move the output as declared (the rotated lattice was off by 5.8)."""
    module = knn_egnn(edges)
    pos = cube_lattice() - 1.0
    h = torch.randn(27, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    quarter = torch.tensor([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]], dtype=torch.float64)
    perm = torch.randperm(27, generator=torch.Generator().manual_seed(4))
    moved = torch.randn(3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for rot, shift in ((quarter, torch.zeros(3)), (rotation(5), moved)):
        before = module(h=h, x=pos)
        after = module(h=h[perm], x=pos[perm] @ rot.T + shift)
        scale = before["energy"].abs() + 1
        assert (before["energy"] - after["energy"]).abs() < 1e-12 * scale
        assert torch.allclose(before["pos"][perm] @ rot.T + shift, after["pos"], atol=1e-11)
        assert torch.allclose(before["feats"][perm], after["feats"], atol=1e-11)


def test_knn_edge_sets_are_bit_exact_under_permutations_of_a_rotated_lattice() -> None:
    pos = (cube_lattice() @ rotation(6).T).contiguous()
    perm = torch.randperm(27, generator=torch.Generator().manual_seed(7))
    for k in (1, 2, 6, 7, 26, 40):
        old = edge_set(rt.knn_edges(pos, None, k, KNN_TOL))
        new = edge_set(rt.knn_edges(pos[perm], None, k, KNN_TOL))
        assert {(int(perm[s]), int(perm[d])) for s, d in new} == old
    corner_in = incoming(rt.knn_edges(pos, None, 1, KNN_TOL), 0)  # the corner (0, 0, 0)
    assert corner_in == {1, 3, 9}  # its three lattice neighbours, tied


# --- small graphs, empty edge sets, batches -----------------------------------------------------


@pytest.mark.parametrize("batched", [False, True])
def test_graphs_with_at_most_k_others_take_every_other_node(batched: bool) -> None:
    sizes = [1, 2, 3, 5]
    pos = torch.randn(sum(sizes), 3, generator=torch.Generator().manual_seed(8)).double()
    batch = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    if not batched:
        for n in (0, 1, 2, 3):
            assert len(edge_set(rt.knn_edges(pos[:n], None, 3, KNN_TOL))) == n * (n - 1)
        return
    edges = rt.knn_edges(pos, batch, 3, KNN_TOL)
    counts = np.bincount([d for _, d in edge_set(edges)], minlength=sum(sizes))
    assert counts.tolist() == [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]
    assert all(batch[s] == batch[d] for s, d in edge_set(edges))


def test_a_batch_with_ties_equals_its_graphs_one_by_one() -> None:
    lattice = cube_lattice(2) @ rotation(9).T
    graphs = [lattice, lattice[:5] * 2.0 + 1.0, torch.zeros(1, 3).double(), lattice[:3]]
    pos = torch.cat(graphs)
    batch = torch.repeat_interleave(torch.arange(4), torch.tensor([len(g) for g in graphs]))
    together = edge_set(rt.knn_edges(pos, batch, 2, KNN_TOL))
    alone, offset = set(), 0
    for g in graphs:
        alone |= {(s + offset, d + offset) for s, d in edge_set(rt.knn_edges(g, None, 2, KNN_TOL))}
        offset += len(g)
    assert together == alone
    assert len(incoming(rt.knn_edges(lattice, None, 2, KNN_TOL), 0)) == 3  # a tie of three


@pytest.mark.parametrize("builder", ["full", "radius", "knn"])
def test_one_graph_edge_sets_have_no_self_pairs(builder: str) -> None:
    """A masked self-pair would still feed ``pos[dst] - pos[src] = 0`` to what follows."""
    pos = torch.randn(6, 3, generator=torch.Generator().manual_seed(10)).double()
    args = {"full": (), "radius": (1.0,), "knn": (2, KNN_TOL)}[builder]
    src, dst, mask = getattr(rt, f"{builder}_edges")(pos, None, *args)
    assert not bool((src == dst).any())
    if builder == "radius":  # run eagerly: the exact list, no masked pair at all
        close = (pos[:, None] - pos[None]).norm(dim=-1) < 1.0
        expected = (close & ~torch.eye(6, dtype=torch.bool)).nonzero()  # (dst, src), sorted
        assert mask is None and torch.equal(torch.stack((dst, src), 1), expected)
    else:
        assert src.shape == (30,)


def test_a_radius_graph_without_pairs_and_a_one_node_graph_give_zero_messages() -> None:
    module = knn_egnn("radius(0.5)")
    pos = torch.tensor([[0, 0, 0], [2, 0, 0], [0, 2, 0], [5, 5, 5.0]], dtype=torch.float64)
    h = torch.randn(4, 4, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    out = module(h=h, x=pos, batch=torch.tensor([0, 0, 0, 1]), num_graphs=2)
    assert torch.equal(out["pos"], pos)  # no edge: every node receives 0
    assert out["energy"].shape == (2, 1) and torch.isfinite(out["energy"]).all()


# --- coincident points: finite values, first and second derivatives ----------------------------


@pytest.mark.parametrize("edges", ["full", "radius(2.0)", "knn(1)", "knn(3)"])
def test_coincident_points_give_finite_values_forces_and_hessians(edges: str) -> None:
    module = knn_egnn(edges)
    pos = torch.randn(6, 3, generator=torch.Generator().manual_seed(12)).double()
    pos[1] = pos[0]
    pos[3] = pos[0]
    pos.requires_grad_(True)
    h = torch.randn(6, 4, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    energy = _energy(module, h, pos).sum()
    (forces,) = torch.autograd.grad(energy, pos, create_graph=True)
    (hessian_row,) = torch.autograd.grad(forces[0, 0], pos)
    assert torch.isfinite(energy) and torch.isfinite(forces).all()
    assert torch.isfinite(hessian_row).all()


@pytest.mark.slow
def test_nequip_on_coincident_points_has_finite_forces_and_hessians() -> None:
    module = compile(
        "nequip", params={"channels": 4, "depth": 1, "cutoff": 2.0}, dtype=torch.float64
    )
    pos = torch.randn(5, 3, generator=torch.Generator().manual_seed(14)).double()
    pos[2] = pos[4]
    pos.requires_grad_(True)
    z = torch.randint(4, (5,), generator=torch.Generator().manual_seed(15))
    energy = module(z=z, pos=pos)["energy"].sum()
    (forces,) = torch.autograd.grad(energy, pos, create_graph=True)
    (hessian_row,) = torch.autograd.grad(forces[2, 1], pos)
    assert torch.isfinite(forces).all() and torch.isfinite(hessian_row).all()


# --- the checker draws ties, empty edge sets, one-node graphs and coincident points -------------


def test_trials_cycle_through_the_layouts() -> None:
    assert [layout_of(t) for t in range(4)] == [
        Layout.GENERAL,
        Layout.TIES,
        Layout.DEGENERATE,
        Layout.GENERAL,
    ]


def _edges_of(module: torch.fx.GraphModule, inputs: dict) -> rt.Edges:
    return record(module, inputs).edges


def test_the_checker_draws_ties_for_knn() -> None:
    module = knn_egnn("knn(1)")
    ir = module.meta["geoc_ir"]
    sample = draw_sample(ir, np.random.default_rng(0), 7, 1, torch.float64, trial=1)
    counts = np.bincount([d for _, d in edge_set(_edges_of(module, sample.inputs))])
    assert counts.max() > 1  # some node's nearest neighbour is tied
    assert sample.general_position


def test_the_checker_draws_coincident_points_and_a_one_node_graph() -> None:
    module = knn_egnn("knn(2)")
    ir = module.meta["geoc_ir"]
    sample = draw_sample(ir, np.random.default_rng(0), 6, 3, torch.float64, trial=2)
    pos, batch = sample.inputs["x"], sample.inputs["batch"]
    assert torch.bincount(batch).tolist()[1] == 1
    dist = torch.cdist(pos, pos) + torch.eye(len(pos))
    assert bool((dist == 0).any()) and not sample.general_position


def test_the_checker_draws_a_radius_graph_without_edges() -> None:
    module = knn_egnn("radius(1.5)")
    ir = module.meta["geoc_ir"]
    sample = draw_sample(ir, np.random.default_rng(0), 6, 3, torch.float64, trial=2)
    edges = _edges_of(module, sample.inputs)
    graph_of_edges = {int(sample.inputs["batch"][d]) for _, d in edge_set(edges)}
    assert graph_of_edges == {0}  # graph 1 has one node, graph 2 no pair within r


def test_lattice_draws_are_stable_and_tied() -> None:
    ir = knn_egnn("knn(3)").meta["geoc_ir"]
    cloud = stable_positions(ir, np.random.default_rng(1), [8], Layout.TIES)
    dist = np.sort(np.linalg.norm(cloud[:, None] - cloud[None], axis=-1), axis=1)[:, 1:]
    assert np.any(np.abs(dist[:, 1] - dist[:, 0]) < 1e-9 * dist[:, 0])


@pytest.mark.parametrize("graphs", [1, 4])
@pytest.mark.parametrize("edges", ["knn(1)", "knn(3)", "radius(1.5)", "full"])
def test_the_check_passes_on_ties_and_degenerate_clouds(edges: str, graphs: int) -> None:
    report = check_module(knn_egnn(edges), trials=3, graphs=graphs, nodes=6)
    assert report.passed, report.render()
    assert all(row.max_error < 1e-10 for row in report.outputs)


def test_without_tolerance_a_rotated_lattice_changes_its_edge_set() -> None:
    """The other side: with ``tol = 0`` (exact ties only) rounding decides which tied
    neighbour is kept, so some rotation changes the edge set; the default never does."""
    pos = cube_lattice() - 1.0

    def moved_sets(tol: float) -> list[bool]:
        old = edge_set(rt.knn_edges(pos, None, 1, tol))
        return [edge_set(rt.knn_edges(pos @ rotation(s).T, None, 1, tol)) != old for s in range(8)]

    assert any(moved_sets(0.0))
    assert not any(moved_sets(KNN_TOL))


# --- finding 3: PaiNN-style directions on edges stay on the sphere -------------------------------

PAINN_DIRECTIONS = """
model Directions() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=EDGES)
    input h: 4 x scalar over nodes
    input pos: point(3) over nodes
    u = normalize(pos[dst] - pos[src])
    output dirs: unit(3) over edges = u
    output e: 4 x scalar = sum(h, over=nodes)
}
"""


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize("edges", ["full", "radius(1.5)", "knn(2)"])
def test_painn_style_directions_pass_the_membership_check(edges: str, graphs: int) -> None:
    report = check(PAINN_DIRECTIONS.replace("EDGES", edges), graphs=graphs)
    assert report.passed, report.render()
    assert [row.passed for row in report.membership] == [True], report.render()


def test_the_radial_basis_has_finite_second_derivatives_at_zero_distance() -> None:
    from geoc.backends.torch_fx.o3.kernels import bessel_basis, smooth_sinc

    u = torch.linspace(-3, 3, 10001, dtype=torch.float64)
    assert torch.allclose(smooth_sinc(u), torch.sinc(u), rtol=0, atol=1e-15)
    d = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(bessel_basis(d * d + d, 8, 2.0).sum(), d, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), d)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()


EMPTY_GRAPH_LAYERS = """
model Layers() {
    symmetry E(3) x S(nodes)
    domain   graph(nodes)
    input h: 2x0e + 2x1o over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    w = radial_basis(norm(r), n=4, cutoff=3.0)
    m = tp_conv(h, spherical_harmonics(r, lmax=2), w, out=2x0e + 2x1o, algorithm=ALGORITHM)
    output y: 2x0e + 2x1o over nodes = gate(m)
    output dirs: unit(3) over edges = normalize(r)
    output lin: 2x0e + 2x1o over edges = linear(h[src], 2x0e + 2x1o)
}
"""


@pytest.mark.parametrize("algorithm", ["cg", "so2"])
def test_an_empty_edge_index_gives_empty_edge_values_and_zero_messages(algorithm: str) -> None:
    """Kernels over edges reshape without ``-1`` on the edge axis, which may be empty."""
    module = compile(EMPTY_GRAPH_LAYERS.replace("ALGORITHM", algorithm), dtype=torch.float64)
    gen = torch.Generator().manual_seed(16)
    h = torch.randn(3, 8, generator=gen, dtype=torch.float64)
    pos = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    out = module(h=h, pos=pos, edge_index=torch.zeros(2, 0, dtype=torch.long))
    assert out["dirs"].shape == (0, 3) and out["lin"].shape == (0, 8)
    assert out["y"].shape == (3, 8) and torch.isfinite(out["y"]).all()


@pytest.mark.slow
def test_knn_of_one_graph_keeps_static_shapes_for_compile_and_export() -> None:
    """The masked distinct-pairs layout: ``torch.compile(fullgraph=True)`` and
    ``torch.export`` capture knn edges with ties as they do ``radius``."""
    module = compile(KNN_EGNN.replace("EDGES", "knn(2)"))
    pos = (cube_lattice(2) @ rotation(17).T).float()
    inputs = {"h": torch.randn(8, 4, generator=torch.Generator().manual_seed(18)), "x": pos}
    expected = module(**inputs)["energy"]
    traced = torch.compile(module, fullgraph=True, backend="aot_eager")(**inputs)["energy"]
    exported = torch.export.export(module, (), inputs).module()(**inputs)["energy"]
    assert torch.allclose(traced, expected, atol=1e-5)
    assert torch.allclose(exported, expected, atol=1e-5)
