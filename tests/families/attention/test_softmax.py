"""``softmax(s, over=E, into=B)`` and ``softmax(s, over=AXIS)``: typing and each diagnostic (code
and caret), agreement with the formula and with PyTorch Geometric's ``softmax`` (nodes without
edges included), masked pairs of a traced layout, equivariance of attention-weighted messages
under E(3) x S(nodes) in float64 (batches, empty graphs), finite first and second derivatives."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.attention import kernels as rt_attention
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

#: EGNN-like attention: invariant scores per edge (two heads), weights summing to 1 into each
#: node, weighted vector messages, and a per-graph softmax over the nodes.
ATTENTION = """
model Att(hidden: int = 8, heads: int = 2) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(1.5))
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    r = x[dst] - x[src]
    s = mlp(concat(h[src], h[dst], sqnorm(r)), [hidden, heads])
    a = softmax(s, over=edges, into=nodes)
    output w: heads x scalar over edges = a
    output v: vector over nodes = sum(r * linear(a, scalar), over=edges, into=nodes)
    output x2: point(3) over nodes = x + sum(r * linear(a, scalar), over=edges, into=nodes)
    output g: heads x scalar over nodes = softmax(mlp(h, [hidden, heads]), over=nodes)
}
"""

#: Weights summing to 1 per node: a convex combination of the neighbours' positions written as
#: the node plus weighted displacements (`sum` of points is GEO404, so not `sum(a * x[src])`).
CENTROID = """
model Centroid() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=knn(3))
    input x: point(3) over nodes
    input h: 2 x scalar over nodes
    a = softmax(linear(concat(h[src], sqnorm(x[dst] - x[src])), scalar), over=edges, into=nodes)
    output c: point(3) over nodes = x + sum(a * (x[src] - x[dst]), over=edges, into=nodes)
}
"""

GRAPH = """
model G(t: float = 1.0) {
    symmetry S(nodes)
    domain graph(nodes)
    input s: 3 x scalar over edges
    input f: 3 x scalar over nodes
    output w: 3 x scalar over edges = softmax(s, over=edges, into=nodes, temperature=t)
    output p: 3 x scalar over nodes = softmax(f, over=nodes, temperature=t)
}
"""


# --- typing -----------------------------------------------------------------------------------


def test_weights_have_the_scores_type_and_axis() -> None:
    graph = elaborated(ATTENTION)
    assert str(graph.outputs["w"].type) == "2 x scalar over edges"
    assert str(graph.outputs["g"].type) == "2 x scalar over nodes"
    assert str(elaborated(CENTROID).outputs["c"].type) == "point(3) over nodes"


def _att(line: str) -> str:
    return ATTENTION.replace(
        "    output w: heads x scalar over edges = a\n",
        f"    output w: heads x scalar over edges = a\n{line}\n",
    )


ERRORS = [
    # a vector's channels rotate: exp of them is not equivariant
    ("    q = softmax(@r, over=edges, into=nodes)", "GEO486"),
    # a point likewise
    ("    q = softmax(@x, over=nodes)", "GEO486"),
    # scores over nodes normalised over edges
    ("    q = softmax(@h, over=edges, into=nodes)", "GEO203"),
    # into= an axis that is not the edge set's dst
    ("    q = @softmax(s, over=edges, into=points)", "GEO203"),
    # no such axis
    ("    q = softmax(@s, over=links)", "GEO203"),
    # a temperature that is not positive
    ("    q = @softmax(s, over=edges, into=nodes, temperature=0.0)", "GEO378"),
]


@pytest.mark.parametrize(("line", "code"), ERRORS)
def test_misuses_of_softmax(line: str, code: str) -> None:
    error = assert_fails_at(_att(line), code)
    if code == "GEO486":
        assert "take an invariant" in error.diagnostics[0].help


# --- numbers ----------------------------------------------------------------------------------


def reference(scores: torch.Tensor, index: torch.Tensor, size: int, t: float = 1.0):
    """The formula, segment by segment: exp(s/t) / Σ exp(s/t) over the rows of each index."""
    out = torch.zeros_like(scores)
    for i in range(size):
        rows = index == i
        if rows.any():
            e = torch.exp(scores[rows] / t)
            out[rows] = e / e.sum(0)
    return out


def graph_inputs(seed: int):
    """Three graphs of 4, 0 and 5 nodes; node 2 and node 7 have no incoming edge."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.tensor([0, 1, 3, 0, 4, 5, 6, 8, 6, 8, 4])
    dst = torch.tensor([1, 0, 0, 3, 5, 4, 4, 4, 5, 6, 8])
    s = 5 * torch.randn(len(src), 3, generator=gen, dtype=F64)
    f = torch.randn(9, 3, generator=gen, dtype=F64)
    return s, f, torch.stack([src, dst]), batch_of([4, 0, 5])


@pytest.mark.parametrize("t", [1.0, 0.3])
def test_softmax_equals_the_formula_with_nodes_without_edges_and_an_empty_graph(t: float) -> None:
    s, f, edge_index, batch = graph_inputs(1)
    out = compile(GRAPH, {"t": t}, dtype=F64)(
        s=s, f=f, edge_index=edge_index, batch=batch, num_graphs=3
    )
    torch.testing.assert_close(out["w"], reference(s, edge_index[1], 9, t), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["p"], reference(f, batch, 3, t), rtol=1e-12, atol=1e-12)
    sums = torch.zeros(9, 3, dtype=F64).index_add(0, edge_index[1], out["w"])
    assert torch.allclose(sums[[0, 1, 3, 4, 5, 6, 8]], torch.ones(7, 3, dtype=F64))
    assert torch.equal(sums[[2, 7]], torch.zeros(2, 3, dtype=F64))  # no edge in: no weight


def test_softmax_equals_pyg_softmax() -> None:
    """PyTorch Geometric 2.6.1's ``utils.softmax`` to 1e-12 in float64, nodes without edges."""
    pyg = pytest.importorskip("torch_geometric.utils")
    s, f, edge_index, batch = graph_inputs(2)
    out = compile(GRAPH, dtype=F64)(s=s, f=f, edge_index=edge_index, batch=batch, num_graphs=3)
    want = pyg.softmax(s, edge_index[1], num_nodes=9)
    torch.testing.assert_close(out["w"], want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["p"], pyg.softmax(f, batch, num_nodes=3), rtol=1e-12, atol=1e-12)


def test_large_scores_do_not_overflow() -> None:
    s, f, edge_index, _ = graph_inputs(3)
    out = compile(GRAPH, dtype=torch.float32)(
        s=(s * 1e3).float(), f=(f * 1e3).float(), edge_index=edge_index
    )
    assert torch.isfinite(out["w"]).all() and torch.isfinite(out["p"]).all()


def test_masked_pairs_get_weight_zero_and_live_ones_the_exact_weights() -> None:
    """A static layout (every ordered pair, the non-edges masked) gives the exact list's
    weights on the live pairs, 0 on the masked ones, even where a node has only masked
    pairs."""
    gen = torch.Generator().manual_seed(4)
    n = 5
    src, dst = (
        t.flatten() for t in torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    )
    keep = src != dst
    src, dst = src[keep], dst[keep]
    mask = (torch.rand(len(src), generator=gen) < 0.5).to(F64)
    mask[dst == 2] = 0.0  # node 2: only masked pairs
    s = torch.randn(len(src), 2, generator=gen, dtype=F64)
    got = rt_attention.edge_softmax(s, (src, dst, mask), n, 1.0)
    live = mask != 0
    exact = rt_attention.edge_softmax(s[live], (src[live], dst[live], None), n, 1.0)
    torch.testing.assert_close(got[live], exact, rtol=1e-12, atol=1e-14)
    assert torch.equal(got[~live], torch.zeros_like(got[~live]))
    assert rt.live_rows(got, (src, dst, mask)).shape == exact.shape


def test_derivatives_are_finite_with_masked_pairs_and_empty_segments() -> None:
    gen = torch.Generator().manual_seed(5)
    src = torch.tensor([0, 1, 2, 0, 3])
    dst = torch.tensor([1, 1, 1, 2, 2])
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0], dtype=F64)  # node 2: all masked; 0, 3: none
    s = torch.randn(5, 2, generator=gen, dtype=F64).requires_grad_()
    s.data[1] = s.data[0]  # a tie at the max
    w = rt_attention.edge_softmax(s, (src, dst, mask), 4, 1.0)
    (first,) = torch.autograd.grad(
        (w * torch.randn(5, 2, generator=gen, dtype=F64)).sum(), s, create_graph=True
    )
    (second,) = torch.autograd.grad((first**2).sum(), s)
    assert torch.isfinite(w).all() and torch.isfinite(first).all() and torch.isfinite(second).all()
    assert torch.autograd.gradcheck(
        lambda t: rt_attention.edge_softmax(t, (src, dst, mask), 4, 0.7),
        (s.detach().requires_grad_(),),
    )


# --- equivariance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_weighted_vector_messages_are_equivariant(graphs: int) -> None:
    report = check(ATTENTION, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_weighted_centroids_are_points(graphs: int) -> None:
    report = check(CENTROID, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


def test_graph_softmax_is_permutation_equivariant() -> None:
    assert check(GRAPH, graphs=3, trials=6, every_value=True).passed


def test_traced_attention_equals_eager() -> None:
    """Under ``torch.compile(fullgraph=True)`` the radius edges are a masked static layout."""
    import numpy as np

    from geoc.backends.torch_fx.verify import draw_sample

    module = compile(ATTENTION, dtype=F64)
    inputs = draw_sample(module.meta["geoc_ir"], np.random.default_rng(3), 7, 3, F64, 2).inputs
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    got, want = compiled(**inputs), module(**inputs)
    for name in ("v", "x2", "g"):
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-12)


#: Attention from centres to their k nearest points (an edge set between axes), and a
#: per-graph softmax over the centres (a graph of a batch may have none).
CROSS = """
model Cross(hidden: int = 6, k: int = 3) {
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=knn(k))
    input f: 2 x scalar over points
    input x: point(3) over points
    input c: point(3) over centres
    r = x[src(near)] - c[dst(near)]
    a = softmax(mlp(concat(f[src(near)], sqnorm(r)), [hidden, 1]), over=near, into=centres)
    output v: vector over centres = sum(a * r, over=near, into=centres)
    output q: point(3) over centres = c + sum(a * r, over=near, into=centres)
    output g: scalar over centres = softmax(sqnorm(c - mean(x, over=points)), over=centres)
}
"""


def test_softmax_over_an_edge_set_between_axes_types_over_that_set() -> None:
    graph = elaborated(CROSS)
    assert str(graph.outputs["q"].type) == "point(3) over centres"
    wrong = CROSS.replace("a = softmax(", "a = @softmax(").replace(
        "over=near, into=centres)\n    output v", "over=near, into=points)\n    output v"
    )
    assert_fails_at(wrong, "GEO203")  # into= the set's dst axis, centres


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_over_an_edge_set_between_axes_is_equivariant(graphs: int) -> None:
    """Batches draw graphs without centres: their softmax has no entry, and no NaN."""
    report = check(CROSS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


def test_cross_attention_weights_sum_to_one_per_centre() -> None:
    module = compile(CROSS, dtype=F64)
    gen = torch.Generator().manual_seed(6)
    x, c = torch.randn(9, 3, generator=gen, dtype=F64), torch.randn(5, 3, generator=gen, dtype=F64)
    f = torch.randn(9, 2, generator=gen, dtype=F64)
    b_x, b_c = batch_of([4, 5, 0]), batch_of([2, 0, 3])
    out = module(x=x, c=c, f=f, batch=b_x, batch_centres=b_c, num_graphs=3)
    assert all(torch.isfinite(v).all() for v in out.values() if v.is_floating_point())
    g = out["g"][:, 0]
    torch.testing.assert_close(g[:2].sum(), torch.tensor(1.0, dtype=F64))
    torch.testing.assert_close(g[2:].sum(), torch.tensor(1.0, dtype=F64))
