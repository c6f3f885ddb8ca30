"""PointNet++ with its sampling (specs/pointnet2.geo, docs/language.md "Sampled axes"): a whole
single-scale set abstraction layer (farthest-point sampling, ball grouping, relative
coordinates, shared MLP, max) against the plain-PyTorch references written from the paper
(fps_reference.py, pointnet2_reference.py): sampling indices identical, features to 1e-6 in
float32; the built-in spec's invariance (T(3) x S(points), < 1e-10 in float64), its traced
run and its exported folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fps_reference import reference_batched
from helpers import run_exported
from pointnet2_reference import mlp_layers, set_abstraction

import geoc
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check, draw_sample

pytestmark = pytest.mark.usefixtures("one_thread")
R, K, M = 0.8, 6, 5

SSG = f"""
model SSG() {{
    symmetry T(3) x S(points)
    domain pointcloud(points, dim=3)
    domain sample(centres, from=points, rule=fps({M}))
    domain edges(ball1, src=points, dst=centres, rule=ball({R}, {K}))
    input x: point(3) over points
    input f: 3 x scalar over points
    c = x[from(centres)]
    sa = mlp(concat(f[src(ball1)], x[src(ball1)] - c[dst(ball1)]), [8, 16], act=relu, last_act=true)
    output centres: point(3) over centres = c
    output h: 16 x scalar over centres = max(sa, over=ball1, into=centres)
}}
"""


def batch_of(sizes: list[int]) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))


@pytest.mark.parametrize("sizes", [[40], [30, 3, 0, 22]])
def test_a_set_abstraction_layer_equals_the_reference(sizes: list[int]) -> None:
    """The module's own weights, re-drawn; a batch with a graph smaller than m and an empty
    one. The centres are the reference's FPS picks, in its order."""
    module = geoc.compile(SSG)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    x, f = torch.randn(sum(sizes), 3, generator=gen), torch.randn(sum(sizes), 3, generator=gen)
    batch = batch_of(sizes)
    given = {"batch": batch, "num_graphs": len(sizes)} if len(sizes) > 1 else {}
    out = module(x=x, f=f, **given)
    picks = torch.tensor(reference_batched(x, batch, M), dtype=torch.long)
    assert torch.equal(out["centres"], x[picks])  # the same points in the same order
    b_x, b_c = (batch, batch[picks]) if given else (None, None)
    want = set_abstraction(x, f, x[picks], b_x, b_c, R, K, mlp_layers(module.state_dict(), "sa"))
    torch.testing.assert_close(out["h"], want, rtol=1e-6, atol=1e-6)
    assert float(want.abs().max()) > 0.1


def test_pointnet2_is_translation_and_permutation_invariant() -> None:
    for graphs in (1, 3):
        report = check("pointnet2", graphs=graphs, trials=6, every_value=True, seed=graphs)
        assert report.passed, report
        assert all(row.max_error < 1e-10 for row in report.outputs)


@pytest.mark.parametrize("graphs", [1, 2])
def test_pointnet2_traces_whole(graphs: int) -> None:
    """One graph (no batch: the single-graph sampling loop) and a batch."""
    module = geoc.compile("pointnet2", dtype=torch.float64)
    rng = np.random.default_rng(2)
    sample = draw_sample(module.meta["geoc_ir"], rng, 9, graphs, torch.float64, 0)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    want, got = module(**sample.inputs), compiled(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-10)


@pytest.mark.slow
def test_pointnet2_exported_folder_runs_without_geoc(tmp_path) -> None:
    module = geoc.compile("pointnet2")
    folder = write_folder(module, tmp_path / "pointnet2", "pointnet2")
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(4), 8, 2, torch.float32, 0)
    got = run_exported(folder, sample.inputs, tmp_path)
    want = module(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name])
