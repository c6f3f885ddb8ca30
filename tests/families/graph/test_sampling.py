"""Sampled axes, numerically (docs/language.md, "Sampled axes"): geoc's farthest-point sampling
against a plain-PyTorch reference written from the paper (Qi et al. 2017, section 3.2: each
next centre is the point farthest from those chosen) with the same start and tie rules, its
invariance under permutations and isometries (the indices as sets and in order), ties, graphs
smaller than ``m`` and empty ones, tracing, and ``geoc check`` of a model over points and
sampled centres."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from fps_reference import reference_batched, reference_fps
from helpers import batch_of

import geoc
from geoc.backends.torch_fx.common.sample_kernels import fps
from geoc.backends.torch_fx.verify import check, draw_sample

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
TOL = 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_fps_equals_the_reference(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(200, 3, generator=gen, dtype=dtype)
    assert fps(pos, None, 1, 40, TOL).tolist() == reference_fps(pos, 40)


def test_fps_per_graph_in_a_batch_with_small_and_empty_graphs() -> None:
    gen = torch.Generator().manual_seed(1)
    sizes = [30, 0, 3, 12, 1]  # an empty graph, graphs with fewer points than m
    pos = torch.randn(sum(sizes), 3, generator=gen, dtype=F64)
    batch = batch_of(sizes)
    got = fps(pos, batch, len(sizes), 5, TOL)
    assert got.tolist() == reference_batched(pos, batch, 5)
    assert torch.bincount(batch[got], minlength=5).tolist() == [5, 0, 3, 5, 1]
    order = torch.randperm(pos.shape[0], generator=gen)  # an unsorted batch vector
    shuffled = fps(pos[order], batch[order], len(sizes), 5, TOL)
    assert order[shuffled].tolist() == got.tolist()


def test_fps_of_a_graph_with_fewer_points_takes_them_all() -> None:
    pos = torch.randn(3, 3, dtype=F64)
    assert sorted(fps(pos, None, 1, 8, TOL).tolist()) == [0, 1, 2]
    assert fps(pos[:0], None, 1, 8, TOL).tolist() == []


def test_fps_is_invariant_under_permutations_and_isometries() -> None:
    """The same points in the same order: indices mapped back through the permutation."""
    gen = torch.Generator().manual_seed(2)
    sizes = [40, 25]
    pos, batch = torch.randn(sum(sizes), 3, generator=gen, dtype=F64), batch_of(sizes)
    want = fps(pos, batch, 2, 10, TOL)
    for _ in range(5):
        perm = torch.randperm(pos.shape[0], generator=gen)
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))  # with reflections
        moved = pos[perm] @ q.T + torch.randn(3, generator=gen, dtype=F64) * 10
        got = fps(moved, batch[perm], 2, 10, TOL)
        assert perm[got].tolist() == want.tolist()


def test_ties_go_to_the_lexicographically_first_point_whatever_the_order() -> None:
    """A cube's corners: all tied with the centroid's distance, then three tied at each later
    step; the documented rule picks the smallest (x, y, z) among the tied, for every input
    order and under translations (not under rotations, which reorder coordinates)."""
    cube = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=F64)
    want = fps(cube, None, 1, 8, TOL)
    assert want.tolist()[:2] == [0, 7]  # (0,0,0) first, then the opposite corner
    assert want.tolist() == reference_fps(cube, 8)
    for perm in itertools.islice(itertools.permutations(range(8)), 0, 40320, 997):
        perm = torch.tensor(perm)
        got = fps(cube[perm] + torch.tensor([0.3, -2.0, 5.0], dtype=F64), None, 1, 8, TOL)
        assert perm[got].tolist() == want.tolist()


def test_coincident_points_are_taken_once_each() -> None:
    pos = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=F64)
    assert fps(pos, None, 1, 3, TOL).tolist() == [1, 0, 2]  # the pair's lower index first


def test_selection_carries_no_gradient_and_gathers_do() -> None:
    pos = torch.randn(20, 3, dtype=F64, requires_grad=True)
    index = fps(pos, None, 1, 5, TOL)
    assert not index.requires_grad
    (pos[index] ** 2).sum().backward()
    assert pos.grad is not None and torch.isfinite(pos.grad).all()
    assert int((pos.grad.abs().sum(1) > 0).sum()) == 5


SPEC = """\
model Sampled(features: int = 3, hidden: int = 8, m: int = 4) {
    symmetry E(3) x S(points)
    domain pointcloud(points, dim=3)
    domain sample(centres, from=points, rule=fps(m))
    domain sample(coarse, from=centres, rule=fps(2))
    domain edges(near, src=points, dst=centres, rule=knn(3))
    domain edges(up, src=centres, dst=coarse, rule=full)
    input x: point(3) over points
    input f: features x scalar over points
    c = x[from(centres)]
    r = x[src(near)] - c[dst(near)]
    m = mlp(concat(f[src(near)], sqnorm(r)), [hidden, hidden], act=silu)
    h = max(m, over=near, into=centres)
    s = c[src(up)] - c[from(coarse)][dst(up)]
    g = sum(mlp(concat(h[src(up)], sqnorm(s)), [hidden, hidden]), over=up, into=coarse)
    output y: hidden x scalar over centres = h
    output z: hidden x scalar over coarse = g
    output pooled: scalar = sum(mlp(g, [hidden, 1]), over=coarse)
    output cpos: point(3) over centres = c
}
"""


def test_a_model_over_points_and_sampled_centres_checks() -> None:
    report = check(SPEC, graphs=3, trials=6, every_value=True)
    assert report.passed, report
    assert "farthest-point" in report.exact_law


def test_sampled_outputs_in_a_batch_equal_each_graph_alone() -> None:
    module = geoc.compile(SPEC, dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 7, 3, F64, 0)
    together = module(**sample.inputs)
    batch = sample.inputs["batch"]
    rows = 0
    for graph in range(3):
        alone = module(x=sample.inputs["x"][batch == graph], f=sample.inputs["f"][batch == graph])
        count = alone["y"].shape[0]
        torch.testing.assert_close(together["y"][rows : rows + count], alone["y"])
        torch.testing.assert_close(together["pooled"][graph], alone["pooled"])
        rows += count


def test_traced_sampling_has_static_shapes_and_refuses_small_graphs() -> None:
    module = geoc.compile(SPEC, dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(1), 7, 2, F64, 0)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    want, got = module(**sample.inputs), compiled(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-10)
    small = dict(sample.inputs)
    keep = torch.cat([torch.arange(2), torch.nonzero(small["batch"] == 1).squeeze(-1)])
    small = {"x": small["x"][keep], "f": small["f"][keep], "batch": small["batch"][keep]}
    small["num_graphs"] = 2
    assert module(**small)["y"].shape[0] == 2 + 4  # eagerly: all points of the small graph
    with pytest.raises(Exception) as info:  # dynamo wraps the assertion's error
        compiled(**small)
    chain, error = [], info.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("GEO640" in text for text in chain), chain


def test_the_traced_and_eager_batched_loops_agree() -> None:
    """The traced layout (a scatter over all points per step) and the eager one (a padded row
    per graph) choose the same points in the same order, small and empty graphs included."""
    from geoc.backends.torch_fx.common import sample_kernels

    gen = torch.Generator().manual_seed(5)
    sizes = [17, 0, 2, 9, 30]
    pos, batch = torch.randn(sum(sizes), 3, generator=gen, dtype=F64), batch_of(sizes)
    order = torch.randperm(pos.shape[0], generator=gen)
    pos, batch = pos[order], batch[order]
    traced = sample_kernels._fps_batched(pos, batch, len(sizes), 6, TOL)
    eager = sample_kernels._fps_rows(pos, batch, len(sizes), 6, TOL)
    assert torch.equal(traced[1], eager[1])
    assert torch.equal(traced[0][traced[1]], eager[0][eager[1]])


def test_features_gathered_at_sampled_points_check() -> None:
    """A value other than the positions taken to the sampled axis: exact for distinct points
    (the checker's degenerate trial has no coincident points in a sampled cloud)."""
    text = SPEC.replace(
        "output cpos: point(3) over centres = c",
        "output cpos: point(3) over centres = c\n    output fc: features x scalar over centres = "
        "f[from(centres)]",
    )
    report = check(text, graphs=3, trials=6)
    assert report.passed, report
    assert "no coincident points" in report.exact_law
