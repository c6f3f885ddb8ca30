"""``interpolate(h, over=E, into=B)``, PointNet++'s inverse-distance kNN interpolation
(docs/language.md, "Several axes"): its typing and each diagnostic (code and caret), agreement
with the paper's formula and with PyTorch Geometric's ``knn_interpolate``, equivariance under
E(3) x S(points) x S(centres) in float64 (batches, ties, graphs without centres), and finite
first and second derivatives where a point sits on a centre."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch
from helpers import assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import axes_kernels as rt_axes
from geoc.backends.torch_fx.graph import interpolation_kernels as rt_interp
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

FP = """
model FP(k: int = 3) {
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain edges(up, src=centres, dst=points, rule=knn(k))
    input x: point(3) over points
    input c: point(3) over centres
    input g: 4 x scalar + vector over centres
    output y: 4 x scalar + vector over points = interpolate(g, over=up, into=points)
}
"""


def knn_pairs(pos_src, pos_dst, batch_src, batch_dst, k):
    """(src, dst) of each dst's k nearest src of its graph (no ties in these tests)."""
    dist = torch.cdist(pos_dst, pos_src)
    if batch_src is not None:
        dist = dist.masked_fill(batch_dst[:, None] != batch_src[None], float("inf"))
    src, dst = [], []
    for d in range(pos_dst.shape[0]):
        order = [int(s) for s in dist[d].argsort() if torch.isfinite(dist[d, s])][:k]
        src += order
        dst += [d] * len(order)
    return torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long)


def reference(h, pos_src, pos_dst, batch_src, batch_dst, k):
    """The paper's formula, destination by destination: Σ w h / Σ w, w = 1/max(d², 1e-16);
    a destination without neighbours gets 0."""
    src, dst = knn_pairs(pos_src, pos_dst, batch_src, batch_dst, k)
    out = torch.zeros(pos_dst.shape[0], h.shape[1], dtype=h.dtype)
    for d in range(pos_dst.shape[0]):
        mine = src[dst == d]
        if len(mine):
            w = 1.0 / (pos_dst[d] - pos_src[mine]).pow(2).sum(-1).clamp(min=1e-16)
            out[d] = (w[:, None] * h[mine]).sum(0) / w.sum()
    return out


# --- typing -----------------------------------------------------------------------------------


def test_interpolation_keeps_the_type_over_the_dst_axis() -> None:
    assert str(elaborated(FP).outputs["y"].type) == "4 x scalar + vector over points"
    text = FP.replace("interpolate(g, over=up, into=points)", "interpolate(g, over=up)")
    assert str(elaborated(text).outputs["y"].type) == "4 x scalar + vector over points"
    assert str(elaborated(ONE_AXIS).outputs["y"].type) == "5 x scalar + vector over nodes"


def spec(body: str, domains: str = "", group: str = "E(3) x S(points) x S(centres)") -> str:
    """FP with ``body`` for its output line and more ``domains``."""
    text = FP.replace("E(3) x S(points) x S(centres)", group)
    text = text.replace(
        "    output y: 4 x scalar + vector over points = interpolate(g, over=up, into=points)",
        body,
    )
    return text.replace("    input x:", f"{domains}    input x:") if domains else text


ERRORS = [
    # a value over the wrong axis: `x` is over points, `up` reads centres
    ("    y = interpolate(@x - x, over=up, into=points)", "", "GEO305"),
    # an unknown edge set
    ("    y = interpolate(g, over=@down, into=points)", "", "GEO203"),
    # into another axis than the set's dst
    ("    y = @interpolate(g, over=up, into=centres)", "", "GEO203"),
    # points: a point without neighbours would get 0
    ("    y = interpolate(@c, over=up, into=points)", "", "GEO404"),
    # an edge set from a set of slots: no positions to weigh by
    (
        "    y = interpolate(t, over=@fromtags, into=points)",
        "    domain set(tags)\n    domain edges(fromtags, src=tags, dst=points, rule=full)\n"
        "    input t: 2 x scalar over tags\n",
        "GEO375",
    ),
]


@pytest.mark.parametrize(("body", "domains", "code"), ERRORS)
def test_misuses_of_interpolate(body: str, domains: str, code: str) -> None:
    group = "E(3) x S(points) x S(centres) x S(tags)" if "tags" in domains else ""
    text = spec(body, domains, group or "E(3) x S(points) x S(centres)")
    if "tags" in domains:  # the set's domain line must stand among the domains
        text = text.replace("    input t: 2 x scalar over tags\n    input x:", "    input x:")
        text = text.replace("    input g:", "    input t: 2 x scalar over tags\n    input g:")
    assert_fails_at(text, code)


def test_a_graph_has_no_positions_to_interpolate_by() -> None:
    text = """
model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input h: 3 x scalar over nodes
    output y: 3 x scalar over nodes = interpolate(h, over=@edges, into=nodes)
}
"""
    assert_fails_at(text, "GEO375")


def test_a_periodic_cell_is_not_built() -> None:
    text = """
model P() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(2.0), cell=true)
    input x: point(3) over nodes
    input h: 3 x scalar over nodes
    output y: 3 x scalar over nodes = interpolate(h, over=@edges, into=nodes)
}
"""
    assert_fails_at(text, "GEO517")


# --- numbers ----------------------------------------------------------------------------------


def sample(seed: int, pts: list[int], ctr: list[int], dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(pts), 3, generator=gen, dtype=dtype)
    c = torch.randn(sum(ctr), 3, generator=gen, dtype=dtype)
    g = torch.randn(sum(ctr), 7, generator=gen, dtype=dtype)
    return x, c, g, batch_of(pts), batch_of(ctr)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_interpolation_equals_the_formula_in_a_batch_with_a_graph_without_centres(k: int) -> None:
    module = compile(FP, {"k": k}, dtype=F64)
    x, c, g, b_x, b_c = sample(k, [6, 4, 5], [4, 0, 3])
    out = module(x=x, c=c, g=g, batch=b_x, batch_centres=b_c, num_graphs=3)["y"]
    want = reference(g, c, x, b_c, b_x, k)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
    assert torch.equal(out[6:10], torch.zeros(4, 7, dtype=F64))  # graph 1: no centre, 0


def test_interpolation_at_a_centre_is_its_value() -> None:
    """A point on a centre: weight 1/1e-16 against O(1) others, the centre's value to 1e-15."""
    x, c, g, _, _ = sample(1, [5], [4])
    x[2] = c[1]
    out = compile(FP, dtype=F64)(x=x, c=c, g=g)["y"]
    torch.testing.assert_close(out[2], g[1], rtol=0, atol=1e-14)
    assert torch.isfinite(out).all()


def test_traced_masked_pairs_equal_the_exact_list(monkeypatch) -> None:
    x, c, g, b_x, b_c = sample(5, [6, 4, 5], [4, 0, 3])
    exact = rt_axes.cross_knn_edges(c, x, b_c, b_x, 3, 1e-4)
    want = rt_interp.interpolate(g, c, x, exact, x.shape[0], 1e-16)
    monkeypatch.setattr(rt_axes, "_static", lambda like: True)
    masked = rt_axes.cross_knn_edges(c, x, b_c, b_x, 3, 1e-4)
    assert masked[2] is not None
    got = rt_interp.interpolate(g, c, x, masked, x.shape[0], 1e-16)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def _brute_knn(x, y, k, batch_x=None, batch_y=None, **unused):
    """PyG's ``knn`` (torch-cluster's): row 0 the ``y`` index, row 1 its ``x`` neighbour."""
    src, dst = knn_pairs(x, y, batch_x, batch_y, k)
    return torch.stack([dst, src])


@pytest.mark.parametrize("batched", [False, True])
def test_agrees_with_pyg_knn_interpolate(monkeypatch, batched: bool) -> None:
    """PyTorch Geometric 2.6.1's ``knn_interpolate`` (weights 1/clamp(d², 1e-16)) to 1e-6 in
    float32; its neighbour search needs torch-cluster, replaced by a brute force if absent."""
    pytest.importorskip("torch_geometric")
    module_name = "torch_geometric.nn.unpool.knn_interpolate"
    pyg = sys.modules.get(module_name) or importlib.import_module(module_name)
    try:
        import torch_cluster  # noqa: F401
    except ImportError:
        monkeypatch.setattr(pyg, "knn", _brute_knn)
    pts, ctr = ([40, 30, 50], [10, 6, 12]) if batched else ([80], [20])
    x, c, g, b_x, b_c = sample(11, pts, ctr, torch.float32)
    module = compile(FP)
    given = {"batch": b_x, "batch_centres": b_c, "num_graphs": len(pts)} if batched else {}
    out = module(x=x, c=c, g=g, **given)["y"]
    want = pyg.knn_interpolate(g, c, x, b_c if batched else None, b_x if batched else None, k=3)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)


# --- equivariance and derivatives ---------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
def test_interpolation_is_equivariant(graphs: int) -> None:
    """Scalars and a vector, coarse to fine with independent permutations of both axes;
    batches with graphs without centres, and centres on the points' lattice (ties)."""
    report = check(FP, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


ONE_AXIS = """
model Smooth(hidden: int = 5) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=knn(3))
    input x: point(3) over nodes
    input f: 2 x scalar over nodes
    h = mlp(f, [hidden])
    v = interpolate(concat(h, x - mean(x, over=nodes)), over=edges, into=nodes)
    output y: hidden x scalar + vector over nodes = v
}
"""


@pytest.mark.parametrize("graphs", [1, 3])
def test_interpolation_over_a_point_clouds_own_edges_is_equivariant(graphs: int) -> None:
    """Over the primary's knn edges (built though no value lies over them), with a vector."""
    module = compile(ONE_AXIS)
    assert "edges" in {node.name for node in module.graph.nodes}
    assert check(ONE_AXIS, graphs=graphs, trials=6, every_value=True).passed


def derivatives(dtype: torch.dtype) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """First and second derivatives (of the squared gradient) of a random projection of FP's
    output, with respect to both point clouds and the values, where points sit on centres:
    coincident (d² = 0, clamped), nearly (below the floor) and just above the floor."""
    module = compile(FP, dtype=dtype)
    x, c, g, _, _ = sample(2, [8], [5])
    x[0] = c[0]
    x[1] = c[1] + 1e-9  # d² = 3e-18: below the floor
    c[2] = 0.0  # near the origin, so float32 keeps the offset: d² = 9e-16, above the floor
    x[2] = torch.tensor([3e-8, 0.0, 0.0], dtype=F64)
    x[3] = c[3] + torch.tensor([1e-4, 0.0, 0.0], dtype=F64)
    x, c, g = (t.to(dtype).requires_grad_() for t in (x, c, g))
    out = module(x=x, c=c, g=g)["y"]
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    grads = torch.autograd.grad((out * weights.to(dtype)).sum(), (x, c, g), create_graph=True)
    second = torch.autograd.grad(sum((d * d).sum() for d in grads), (x, c, g))
    return tuple(d.detach() for d in grads), second


def test_derivatives_are_finite_and_float32_keeps_them_where_a_point_sits_on_a_centre() -> None:
    """Finite in both precisions; float32's equal float64's (the interpolation is written as
    the nearest value plus weighted differences: the plain quotient's derivatives cancel two
    terms of order 1/d², which left O(1e8) second derivatives in float32 here)."""
    first32, second32 = derivatives(torch.float32)
    first64, second64 = derivatives(F64)
    for low, high in zip((*first32, *second32), (*first64, *second64), strict=True):
        assert torch.isfinite(low).all() and torch.isfinite(high).all()
        scale = float(high.abs().max()) + 1.0
        assert float((low.double() - high).abs().max()) < 1e-4 * scale


def test_unit_vectors_interpolate_to_their_coordinates() -> None:
    """A convex combination of unit vectors is not a unit vector: the result is a vector."""
    text = FP.replace("input g: 4 x scalar + vector", "input g: unit(3)")
    text = text.replace("output y: 4 x scalar + vector", "output y: vector")
    assert str(elaborated(text).outputs["y"].type) == "vector over points"


@pytest.mark.slow
def test_traced_and_exported_interpolation_equal_eager(tmp_path) -> None:
    import numpy as np
    from helpers import run_exported

    from geoc.backends.torch_fx.export import write_folder
    from geoc.backends.torch_fx.verify import draw_sample

    module = compile(FP, dtype=F64)
    inputs = draw_sample(module.meta["geoc_ir"], np.random.default_rng(3), 7, 3, F64, 2).inputs
    assert "batch_centres" in inputs  # masked pairs of a batch, a graph without centres
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(**inputs)["y"], module(**inputs)["y"], rtol=1e-10, atol=0)
    folder = write_folder(module, tmp_path / "fp", "fp")
    got = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(got["y"], module(**inputs)["y"], rtol=1e-12, atol=0)
