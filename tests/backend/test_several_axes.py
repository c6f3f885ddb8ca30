"""Models over several axes, numerically: the edge sets between two axes against a brute-force
reference (ties, batches of unequal graphs, a graph without centres), one message-passing layer
against plain PyTorch, equivariance under E(3) x S(points) x S(centres) with independent
permutations and random parameters in float64, the checks of ``batch_<axis>``, the IR rewrites,
tracing and the exported folder."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from helpers import as_pairs, batch_of, run_exported

import geoc
from geoc.backends.torch_fx.common import axes_kernels as rt_axes
from geoc.backends.torch_fx.common.validate_kernels import InputError
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check, check_module, draw_sample
from geoc.groups import GroupElement

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def brute_knn(pos_src, pos_dst, batch_src, batch_dst, k, tol):
    """Each dst receives from every src of its graph within (1 + tol) of its k-th distance."""
    pairs = set()
    for d in range(pos_dst.shape[0]):
        members = [s for s in range(pos_src.shape[0]) if batch_src[s] == batch_dst[d]]
        dist = {s: float((pos_dst[d] - pos_src[s]).norm()) for s in members}
        ranked = sorted(dist.values())
        kth = ranked[k - 1] if len(ranked) >= k else float("inf")
        pairs |= {(s, d) for s, r in dist.items() if r <= kth * (1 + tol)}
    return pairs


@pytest.mark.parametrize("k", [1, 3, 10])
def test_cross_knn_equals_brute_force_in_a_batch_with_an_empty_graph(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    pts, ctr = [5, 8, 3], [2, 0, 4]  # the second graph has no centre
    pos_src = torch.randn(sum(pts), 3, generator=gen, dtype=F64)
    pos_dst = torch.randn(sum(ctr), 3, generator=gen, dtype=F64)
    b_src, b_dst = batch_of(pts), batch_of(ctr)
    got = rt_axes.cross_knn_edges(pos_src, pos_dst, b_src, b_dst, k, 1e-4)
    assert got[2] is None  # eager: an exact list
    assert as_pairs(got) == brute_knn(pos_src, pos_dst, b_src, b_dst, k, 1e-4)
    assert not any(b_src[s] != b_dst[d] for s, d in as_pairs(got))  # never across graphs


def test_cross_knn_includes_every_tie_with_the_kth() -> None:
    cube = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=F64)
    centre = torch.full((1, 3), 0.5, dtype=F64)  # all eight corners at one distance
    far = torch.tensor([[3.0, 3.0, 3.0]], dtype=F64)
    pos_src = torch.cat([cube, far])
    for k in (1, 4, 8):
        got = as_pairs(rt_axes.cross_knn_edges(pos_src, centre, None, None, k, 1e-4))
        assert got == {(s, 0) for s in range(8)}
    rotation = torch.linalg.qr(torch.randn(3, 3, dtype=F64))[0]  # rounding must not split ties
    moved = as_pairs(
        rt_axes.cross_knn_edges(pos_src @ rotation.T, centre @ rotation.T, None, None, 1, 1e-4)
    )
    assert moved == {(s, 0) for s in range(8)}


def test_cross_full_and_radius_stay_inside_graphs() -> None:
    gen = torch.Generator().manual_seed(1)
    pos_src, pos_dst = torch.randn(6, 3, generator=gen), torch.randn(5, 3, generator=gen)
    b_src, b_dst = batch_of([4, 2]), batch_of([0, 5])
    full = as_pairs(rt_axes.cross_full_edges(pos_src, pos_dst, b_src, b_dst))
    assert full == {(s, d) for s in (4, 5) for d in range(5)}
    near = as_pairs(rt_axes.cross_radius_edges(pos_src, pos_dst, b_src, b_dst, 1.0))
    want = {(s, d) for s, d in full if float((pos_src[s] - pos_dst[d]).norm()) < 1.0}
    assert near == want


LAYER = """
model Layer(hidden: int = 6, k: int = 2) {
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=knn(k))
    input f: 3 x scalar over points
    input x: point(3) over points
    input c: point(3) over centres
    r = x[src(near)] - c[dst(near)]
    m = mlp(concat(f[src(near)], sqnorm(r)), [hidden, hidden], act=silu)
    y = mean(m, over=near, into=centres)
    output y: hidden x scalar over centres = y
    output s: hidden x scalar = sum(y, over=centres)
    output t: hidden x scalar = max(m, over=near)
}
"""


def random_parameters(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)


def reference_layer(module, f, x, c, b_src, b_dst, k, graphs):
    """One layer from its equations in plain PyTorch, neighbours by brute force."""
    state = module.state_dict()
    pairs = sorted(brute_knn(x, c, b_src, b_dst, k, 1e-4))
    src = torch.tensor([s for s, _ in pairs], dtype=torch.long)
    dst = torch.tensor([d for _, d in pairs], dtype=torch.long)
    r = x[src] - c[dst]
    h = torch.cat([f[src], r.pow(2).sum(-1, keepdim=True)], -1)
    h = torch.nn.functional.silu(h @ state["m.0.weight"].T + state["m.0.bias"])
    m = h @ state["m.1.weight"].T + state["m.1.bias"]
    total = torch.zeros(c.shape[0], m.shape[1], dtype=F64).index_add(0, dst, m)
    count = torch.zeros(c.shape[0], dtype=F64).index_add(0, dst, torch.ones_like(dst, dtype=F64))
    y = total / count.clamp(min=1).unsqueeze(-1)
    s = torch.zeros(graphs, y.shape[1], dtype=F64).index_add(0, b_dst, y)
    t = torch.stack(  # pooled over each graph's edges (an edge's graph is its centre's); none: 0
        [
            m[b_dst[dst] == g].amax(0) if (b_dst[dst] == g).any() else m.new_zeros(m.shape[1])
            for g in range(graphs)
        ]
    )
    return y, s, t


def test_one_layer_equals_plain_pytorch_on_a_batch() -> None:
    module = geoc.compile(LAYER, dtype=F64)
    random_parameters(module, 3)
    gen = torch.Generator().manual_seed(4)
    pts, ctr = [5, 7, 4], [3, 0, 2]
    f = torch.randn(sum(pts), 3, generator=gen, dtype=F64)
    x = torch.randn(sum(pts), 3, generator=gen, dtype=F64)
    c = torch.randn(sum(ctr), 3, generator=gen, dtype=F64)
    b_src, b_dst = batch_of(pts), batch_of(ctr)
    out = module(f=f, x=x, c=c, batch=b_src, batch_centres=b_dst, num_graphs=3)
    y, s, t = reference_layer(module, f, x, c, b_src, b_dst, 2, 3)
    torch.testing.assert_close(out["y"], y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["s"], s, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["t"], t, rtol=1e-12, atol=1e-12)
    assert torch.equal(out["s"][1], torch.zeros(6, dtype=F64))  # graph 1 has no centre


@pytest.mark.parametrize("graphs", [1, 3])
def test_cross_set_is_equivariant_with_random_parameters(graphs: int) -> None:
    report = check("cross_set", graphs=graphs, trials=6, seed=graphs)  # ties, empty graphs
    assert report.passed, report
    assert "`centres` sized per graph on their own" in report.exact_law


def test_each_axis_moves_by_its_own_permutation() -> None:
    """Permuting only the centres permutes only `y`; permuting only the points changes
    nothing; both at once with a rotation: `y` rotates nowhere and permutes by the centres."""
    module = geoc.compile("cross_set", dtype=F64)
    random_parameters(module, 5)
    ir = module.meta["geoc_ir"]
    sample = draw_sample(ir, np.random.default_rng(0), 7, 1, F64, 0)
    n_pts, n_ctr = sample.sizes["points"], sample.sizes["centres"]
    rng = np.random.default_rng(1)
    for perms in ({"centres": rng.permutation(n_ctr)}, {"points": rng.permutation(n_pts)}):
        element = GroupElement(label="permutation", permutations=perms)
        report = check_module(module, elements=[element], nodes=7, graphs=1)
        assert report.passed, report
    inputs = dict(sample.inputs)
    perm = torch.as_tensor(rng.permutation(n_ctr))
    moved = {**inputs, "c": inputs["c"][perm]}
    before, after = module(**inputs), module(**moved)
    torch.testing.assert_close(after["y"], before["y"][perm], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(after["pooled"], before["pooled"], rtol=1e-12, atol=1e-12)


def test_rewrites_keep_the_edge_set_of_a_gather() -> None:
    """`linear(h[src(near)])` is computed per node and gathered again: at `src(near)`, never at
    the primary's `src` (a rewritten gather that dropped its edge set would read the wrong
    edges)."""
    text = LAYER.replace(
        "output s: hidden x scalar = sum(y, over=centres)",
        "output s: 4 x scalar over centres = sum(linear(f[src(near)], 4 x scalar), over=near, "
        "into=centres)",
    ).replace("domain pointcloud(points, dim=3)", "domain pointcloud(points, dim=3, edges=knn(1))")
    written = geoc.compile(text, dtype=F64, optimize="none")
    rewritten = geoc.compile(text, dtype=F64, optimize="ir")
    gathers = [n for n in rewritten.meta["geoc_ir"].nodes if n.op == "gather"]
    assert all(n.attrs.get("edges") == "near" for n in gathers)
    sample = draw_sample(written.meta["geoc_ir"], np.random.default_rng(2), 6, 2, F64, 0)
    a, b = written(**sample.inputs), rewritten(**sample.inputs)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-12, atol=1e-12)


def test_batch_of_each_axis_is_checked() -> None:
    module = geoc.compile("cross_set")
    x, f, c = torch.randn(6, 3), torch.randn(6, 4), torch.randn(3, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    base = {"x": x, "f": f, "c": c}
    cases = [
        ({"batch": batch}, "GEO615", "batch_centres"),  # given with `batch` or not at all
        ({"batch_centres": torch.tensor([0, 1, 1])}, "GEO615", "batch"),
        ({"batch": batch, "batch_centres": torch.tensor([0, 1])}, "GEO612", "batch_centres"),
        ({"batch": batch, "batch_centres": torch.tensor([0, 1, 2])}, "GEO615", "batch_centres"),
        ({"batch": batch, "batch_centres": torch.tensor([0.0, 1, 1])}, "GEO615", "batch_centres"),
    ]
    for extra, code, name in cases:
        with pytest.raises(InputError) as info:
            module(**base, **extra)
        assert (info.value.code, info.value.input) == (code, name)
    out = module(**base, batch=batch, batch_centres=torch.tensor([1, 1, 1]))
    assert out["pooled"].shape == (2, 1) and out["y"].shape == (3, 16)


@pytest.mark.slow
def test_traced_module_equals_eager() -> None:
    module = geoc.compile("cross_set", dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(3), 6, 2, F64, 2)
    assert "batch_centres" in sample.inputs  # the masked pairs of a batch, a graph without any
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    want, got = module(**sample.inputs), compiled(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-10)


@pytest.mark.slow
def test_exported_folder_runs_without_geoc(tmp_path) -> None:
    module = geoc.compile("cross_set")
    folder = write_folder(module, tmp_path / "cross", "cross_set")
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(4), 6, 2, torch.float32, 0)
    got = run_exported(folder, sample.inputs, tmp_path)
    want = module(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name])


def _lattice_trial(ir):
    """Points on the integer lattice {0, 1, 2}^3 and centres at cell centres: each centre has
    eight points exactly at distance sqrt(3)/2 (exact ties in binary floating point, all kept by
    `knn(1, tol=0)`); a generic rotation rounds those eight distances apart."""
    from geoc.backends.torch_fx.domains import Sample, rules_of
    from geoc.backends.torch_fx.verify import Trial
    from geoc.groups.elements import random_rotation

    grid = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=F64)
    centres = torch.tensor(list(itertools.product((0.5, 1.5), repeat=3)), dtype=F64)
    inputs = {
        "f": torch.randn(len(grid), 3, generator=torch.Generator().manual_seed(0), dtype=F64),
        "x": grid,
        "c": centres,
    }
    sizes = {"points": len(grid), "centres": len(centres)}
    rotation = random_rotation(np.random.default_rng(1), 3, reflect=False)
    element = GroupElement(rotation=rotation, label="rotation")
    moved = rules_of(ir).move_inputs(ir, Sample(inputs, sizes), element)
    return Trial(0, element, inputs, moved, sizes)


@pytest.mark.parametrize("tol", ["0", "1e-4"])
def test_an_edge_set_that_changes_under_the_group_is_blamed_by_name(tol: str) -> None:
    """knn between axes with `tol=0` cannot keep exact ties through a rotation's rounding: the
    first broken value is the edge set `near`, named; with the default tolerance nothing breaks
    on the same inputs."""
    from geoc.backends.torch_fx.verify import first_broken_value

    text = LAYER.replace("rule=knn(k)", f"rule=knn(1, tol={tol})")
    module = geoc.compile(text, dtype=F64)
    ir = module.meta["geoc_ir"]
    failure = first_broken_value(module, ir, _lattice_trial(ir), 1e-12, {})
    if tol == "0":
        assert failure is not None and failure.node == "near"
    else:
        assert failure is None


def test_a_model_over_several_axes_is_no_potential(tmp_path) -> None:
    from geoc.backends.torch_fx.potential import export_potential
    from geoc.diagnostics import GeoError

    radius = "domain pointcloud(points, dim=3, edges=radius(2.0))"
    energy = "output energy: scalar = sum(linear(y, scalar), over=centres)"
    text = LAYER.replace("domain pointcloud(points, dim=3)", radius)
    module = geoc.compile(text.replace("output s: hidden x scalar = sum(y, over=centres)", energy))
    with pytest.raises(GeoError) as info:
        export_potential(module, tmp_path / "pot")
    assert info.value.codes == ["GEO504"] and "single domain" in info.value.render()


def test_unread_primary_edges_are_not_built() -> None:
    """`Layer` never reads its points' own (default full) edges: no N² pairs are built, and
    the checker, every value included, does not look for them."""
    module = geoc.compile(LAYER, dtype=F64)
    names = {node.name for node in module.graph.nodes}
    assert "edges" not in names and "near_edges" in names
    assert check(LAYER, graphs=2, trials=3, every_value=True).passed


EVERY_RULE = """
model EveryRule(hidden: int = 4) {
    symmetry E(3) x S(points) x S(centres) x S(tags)
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain set(tags)
    domain edges(near, src=points, dst=centres, rule=radius(1.5))
    domain edges(back, src=centres, dst=points, rule=knn(2))
    domain edges(cc, src=centres, dst=centres, rule=knn(1))
    domain edges(told, src=tags, dst=centres, rule=full)
    input f: 2 x scalar over points
    input x: point(3) over points
    input c: point(3) over centres
    input t: 3 x scalar over tags
    m = mlp(concat(f[src(near)], sqnorm(x[src(near)] - c[dst(near)])), [hidden])
    a = sum(m, over=near, into=centres)
    b = a + mean(a[src(cc)] * sqnorm(c[src(cc)] - c[dst(cc)]), over=cc, into=centres)
    b = b + max(mlp(t[src(told)], [hidden]), over=told, into=centres)
    r = x[dst(back)] - c[src(back)]
    output v: vector over points = mean(r * mlp(b[src(back)], [1]), over=back, into=points)
    output e: hidden x scalar = sum(a[src(cc)], over=cc)
    output u: 3 x scalar = mean(t[src(told)], over=told)
}
"""


@pytest.mark.parametrize("graphs", [1, 3])
def test_every_rule_and_direction_between_axes_is_equivariant(graphs: int) -> None:
    """radius and knn between two point clouds both ways, knn within a further axis, full from
    a set; pooled over edge sets; a vector output over the primary axis."""
    assert check(EVERY_RULE, graphs=graphs, trials=6, every_value=True).passed


def test_an_input_may_not_take_the_name_of_an_axis_batch() -> None:
    from geoc.diagnostics import GeoError

    text = LAYER.replace(
        "input f: 3 x scalar over points", "input batch_centres: 3 x scalar over points"
    )
    with pytest.raises(GeoError) as info:
        geoc.compile(text.replace("f[src(near)]", "batch_centres[src(near)]"))
    assert info.value.codes == ["GEO117"]


GIVEN_AND_SET = """
model G(hidden: int = 4) {
    symmetry S(nodes) x S(slots)
    domain graph(nodes)
    domain set(slots)
    domain edges(read, src=nodes, dst=slots, rule=full)
    input h: 3 x scalar over nodes
    input s: 2 x scalar over slots
    m = sum(h[src], over=edges, into=nodes)
    a = mean(mlp(concat(m[src(read)], s[dst(read)]), [hidden], act=silu), over=read, into=slots)
    output y: hidden x scalar over slots = a
    output z: hidden x scalar = sum(a, over=slots)
}
"""


def test_a_graph_with_given_edges_and_a_set_of_slots() -> None:
    """The primary takes `edge_index`; the slots read every node of their graph."""
    assert check(GIVEN_AND_SET, graphs=3, trials=6, every_value=True).passed
