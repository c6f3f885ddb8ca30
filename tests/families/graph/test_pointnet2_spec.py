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
from helpers import batch_of, run_exported
from pointnet2_reference import (
    feature_propagation,
    mlp_layers,
    multi_scale,
    set_abstraction,
    shared_mlp,
)

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


def _layers(state: dict, name: str) -> list:
    return mlp_layers(state, name)


def reference_pointnet2(module, x, f, batch, graphs: int) -> dict[str, torch.Tensor]:
    """The built-in spec's model in plain PyTorch from the paper's layers
    (pointnet2_reference.py) and the FPS reference, with the module's weights."""
    state, p = module.state_dict(), module.meta["geoc_ir"].params
    b_x = batch if batch is not None else torch.zeros(x.shape[0], dtype=torch.long)
    pick1 = torch.tensor(reference_batched(x, b_x, p["centres1"]), dtype=torch.long)
    c1, b1 = x[pick1], b_x[pick1]
    pick2 = torch.tensor(reference_batched(c1, b1, p["centres2"]), dtype=torch.long)
    c2, b2 = c1[pick2], b1[pick2]
    bx, bc1, bc2 = (b_x, b1, b2) if batch is not None else (None, None, None)
    k, h1_layers = p["k"], _layers(state, "h1.mlp")
    h1 = set_abstraction(x, f, c1, bx, bc1, p["r1"], k, h1_layers)
    scales = [(p["r2"], k, _layers(state, "s2.mlp")), (p["r3"], k, _layers(state, "s3.mlp"))]
    h2 = multi_scale(c1, h1, c2, bc1, bc2, scales)
    per_centre = shared_mlp(h2, _layers(state, "pooled.mlp"))
    rows = b2[:, None].expand_as(per_centre)  # every graph has a centre here
    pooled = per_centre.new_full((graphs, per_centre.shape[1]), float("-inf"))
    pooled = pooled.scatter_reduce(0, rows, per_centre, "amax")
    (w0, v0), (w1, v1) = _layers(state, "logits")
    logits = torch.relu(pooled @ w0.T + v0) @ w1.T + v1
    coarse = torch.cat([h2, pooled[b2]], dim=-1)
    u1 = feature_propagation(coarse, c2, c1, bc2, bc1, h1, _layers(state, "u1"))
    u0 = feature_propagation(u1, c1, x, bc1, bx, f, _layers(state, "u0"))
    (w0, v0), (w1, v1) = _layers(state, "seg")
    seg = torch.relu(u0 @ w0.T + v0) @ w1.T + v1
    return {"logits": logits if batch is not None else logits[0], "seg": seg}


@pytest.mark.parametrize("sizes", [[24], [20, 13, 16]])
def test_pointnet2_equals_the_paper_layers_in_float32(sizes: list[int]) -> None:
    """The whole built-in spec (both sampling levels, SSG, MSG, global max, head, two feature
    propagation steps, segmentation head) against the reference layers, to 1e-6."""
    module = geoc.compile("pointnet2")
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    x = torch.randn(sum(sizes), 3, generator=gen)
    f = torch.randn(sum(sizes), 3, generator=gen)
    batch = batch_of(sizes) if len(sizes) > 1 else None
    given = {"batch": batch, "num_graphs": len(sizes)} if batch is not None else {}
    out = module(x=x, f=f, **given)
    want = reference_pointnet2(module, x, f, batch, len(sizes))
    for name in ("logits", "seg"):
        torch.testing.assert_close(out[name], want[name], rtol=1e-6, atol=1e-6)
        assert float(want[name].abs().max()) > 0.1


def test_pointnet2_exports_with_torch_export() -> None:
    """torch.export traces the sampling with static shapes (num_graphs * m centres)."""
    module = geoc.compile("pointnet2")
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 9, 2, torch.float32, 0)
    exported = torch.export.export(module, (), sample.inputs)
    got, want = exported.module()(**sample.inputs), module(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name])
