# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Frames and canonicalisation, numerically (float64): Gram-Schmidt against a reference written
from its equations, orthonormality and determinants, the Wigner matrices of a frame against
``geoc.o3``'s irrep matrices, the round trip into and out of a frame, the invariance of
``canon_pointnet`` under E(3) x S(points), and degenerate inputs (collinear, coincident,
parallel predictions): finite values, finite first and second derivatives, the GEO620 warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_captures, run_exported
from torch import Tensor

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.frames import kernels as rtf
from geoc.backends.torch_fx.frames.plan import wigner_plan
from geoc.backends.torch_fx.frames.verify import frame_lines, frame_rows
from geoc.backends.torch_fx.verify import check
from geoc.groups import random_rotation
from geoc.o3 import irrep_matrix

F64 = torch.float64

VECTORS = """\
model M() {{
    symmetry {group} x S(points)
    domain pointcloud(points, dim=3)
    input x: point(3) over points
    input a: vector
    input b: vector
    input c: vector
    output F: frame(3) = frame({args})
}}
"""


def _vectors(seed: int, shape: tuple[int, ...] = ()) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, 3, generator=g, dtype=F64) for _ in range(3)]


def _reference_gram_schmidt(vs: list[Tensor]) -> Tensor:
    """u_k = (v_k - Σ_{j<k} (u_j·v_k) u_j) / |...|, columns of F (Golub & Van Loan, 5.2.7)."""
    columns: list[Tensor] = []
    for v in vs:
        r = v - sum(((u * v).sum(-1, keepdim=True) * u for u in columns), torch.zeros_like(v))
        columns.append(r / r.norm(dim=-1, keepdim=True))
    return torch.stack(columns, dim=-1)


def _frame_module(group: str, args: str) -> torch.fx.GraphModule:
    return compile(VECTORS.format(group=group, args=args), dtype=F64)


def _run_frame(module: torch.fx.GraphModule, vs: list[Tensor]) -> Tensor:
    x = torch.zeros(2, 3, dtype=F64)
    return rtf.as_matrix(module(x=x, a=vs[0], b=vs[1], c=vs[2])["F"], 3)


@pytest.mark.parametrize("seed", range(5))
def test_gram_schmidt_matches_the_reference_and_is_orthonormal(seed: int) -> None:
    vs = _vectors(seed)
    frame = _run_frame(_frame_module("E(3)", "a, b, c"), vs)
    torch.testing.assert_close(frame, _reference_gram_schmidt(vs), rtol=0, atol=1e-12)
    eye = torch.eye(3, dtype=F64)
    assert (frame.T @ frame - eye).abs().max() < 1e-12
    assert abs(abs(float(torch.linalg.det(frame))) - 1) < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_cross_product_frame_is_a_rotation(seed: int) -> None:
    vs = _vectors(seed)
    frame = _run_frame(_frame_module("SE(3)", "a, b"), vs)
    assert (frame.T @ frame - torch.eye(3, dtype=F64)).abs().max() < 1e-12
    assert abs(float(torch.linalg.det(frame)) - 1) < 1e-12
    reference = _reference_gram_schmidt(vs[:2])
    torch.testing.assert_close(frame[:, :2], reference, rtol=0, atol=1e-12)


def test_kernels_match_the_reference_on_batches() -> None:
    vs = _vectors(7, (4, 5))
    frame = rtf.as_matrix(rtf.gram_schmidt(3, *vs), 3)
    torch.testing.assert_close(frame, _reference_gram_schmidt(vs), rtol=0, atol=1e-12)


def test_two_dimensional_frames() -> None:
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, 2, generator=g, dtype=F64)
    full = rtf.as_matrix(rtf.gram_schmidt(2, a, b), 2)
    torch.testing.assert_close(full, _reference_gram_schmidt([a, b]), rtol=0, atol=1e-12)
    completed = rtf.as_matrix(rtf.gram_schmidt(2, a), 2)
    assert abs(float(torch.linalg.det(completed)) - 1) < 1e-12


# --- Wigner matrices of a frame ----------------------------------------------------------------


@pytest.mark.parametrize("reflect", [False, True])
@pytest.mark.parametrize("parity", [1, -1])
def test_frame_matrices_are_the_o3_irrep_matrices(reflect: bool, parity: int) -> None:
    """What `to_frame` applies per term: D^l(F) times det F where parity != (-1)^l."""
    lmax = 4
    points, inverse = (torch.as_tensor(t, dtype=F64) for t in wigner_plan(lmax))
    rng = np.random.default_rng(11)
    for _ in range(3):
        rot = random_rotation(rng, 3, reflect=reflect)
        matrix = torch.as_tensor(rot, dtype=F64)
        blocks = rtf.wigner_blocks(matrix, lmax, points, inverse)
        det = float(rtf.determinant(matrix))
        for l, block in enumerate(blocks):
            sign = det if parity != (-1) ** l else 1.0
            expected = irrep_matrix(l, parity, rot)
            np.testing.assert_allclose(block.numpy() * sign, expected, atol=1e-12)


T = "2 x scalar + pseudoscalar + vector + pseudovector + 2x2e + 1x3o + 1x4e"
IRREPS = f"""\
model M() {{
    symmetry E(3) x S(points)
    domain pointcloud(points, dim=3)
    input x: point(3) over points
    input f: {T} over points
    c = mean(x, over=points)
    r = x - c
    v1 = mean(r * norm(r), over=points)
    v2 = mean(r * dot(r, v1), over=points)
    v3 = mean(r * (dot(r, v1) * dot(r, v2)), over=points)
    F = frame(r, v1, v2)
    G = frame(v1, v2, v3)
    output y: 35 x scalar over points = to_frame(f, G)
    output local: 35 x scalar over points = to_frame(f, F)
    output back: {T} over points = from_frame(to_frame(f, G), G, {T})
}}
"""


def test_round_trip_through_a_frame() -> None:
    module = compile(IRREPS, dtype=F64)
    g = torch.Generator().manual_seed(5)
    x, f = torch.randn(9, 3, generator=g, dtype=F64), torch.randn(9, 35, generator=g, dtype=F64)
    out = module(x=x, f=f)
    torch.testing.assert_close(out["back"], f, rtol=0, atol=1e-12)
    assert torch.isfinite(out["y"]).all()


def test_irreps_in_a_frame_are_invariant() -> None:
    report = check(IRREPS, graphs=3, trials=4)
    assert report.passed, report.render()
    assert report.frames and report.frames[0].margin > 1e-3


# --- canon_pointnet -----------------------------------------------------------------------------


def test_canon_pointnet_passes_the_check() -> None:
    report = check("canon_pointnet", graphs=3, trials=4)
    assert report.passed, report.render()
    assert not report.warnings and report.max_error < 1e-10


@pytest.mark.parametrize("seed", range(3))
def test_canon_pointnet_is_invariant_under_e3_and_permutations(seed: int) -> None:
    module = compile("canon_pointnet", dtype=F64, seed=seed)
    g = torch.Generator().manual_seed(seed)
    sizes = [6, 9, 5]
    x = torch.randn(sum(sizes), 3, generator=g, dtype=F64)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    rng = np.random.default_rng(seed)
    before = module(x=x, batch=batch, num_graphs=3)["logits"]
    for reflect in (False, True):
        rot = torch.as_tensor(random_rotation(rng, 3, reflect=reflect), dtype=F64)
        shift = torch.randn(3, generator=g, dtype=F64) * 3
        perm = torch.randperm(len(x), generator=g)
        moved = (x @ rot.T + shift)[perm]
        after = module(x=moved, batch=batch[perm], num_graphs=3)["logits"]
        assert (after - before).abs().max() < 1e-10
    # one graph alone gives its row of the batch
    alone = module(x=x[: sizes[0]])["logits"]
    assert (alone - before[0]).abs().max() < 1e-12


@pytest.mark.parametrize("graphs", [1, 3])
def test_canon_pointnet_traces_whole(graphs: int) -> None:
    """``torch.compile(fullgraph=True)`` and ``torch.export`` give the eager logits."""
    module = compile("canon_pointnet", dtype=F64)
    sizes = [7, 5, 6][:graphs]
    x = torch.randn(sum(sizes), 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    inputs: dict = {"x": x}
    if graphs > 1:
        batch = torch.repeat_interleave(torch.arange(graphs), torch.tensor(sizes))
        inputs.update(batch=batch, num_graphs=graphs)
    assert_captures(module, inputs, atol=1e-10)


# --- degenerate inputs --------------------------------------------------------------------------


def _derivatives(module: torch.fx.GraphModule, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    x = x.clone().requires_grad_(True)
    out = module(x=x)["logits"]
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), x)
    return out, grad, second


@pytest.mark.parametrize("layout", ["collinear", "coincident", "planar", "one point", "two points"])
def test_degenerate_clouds_give_finite_values_and_derivatives(layout: str) -> None:
    module = compile("canon_pointnet", dtype=F64)
    g = torch.Generator().manual_seed(1)
    t = torch.randn(8, 1, generator=g, dtype=F64)
    clouds = {
        "collinear": t * torch.tensor([[1.0, 2.0, -0.5]], dtype=F64) + 0.3,
        "coincident": torch.ones(8, 3, dtype=F64) * 0.7,
        "planar": torch.cat([torch.randn(8, 2, generator=g, dtype=F64), t * 0], dim=1),
        "one point": torch.randn(1, 3, generator=g, dtype=F64),
        "two points": torch.randn(2, 3, generator=g, dtype=F64),
    }
    out, grad, second = _derivatives(module, clouds[layout])
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    assert torch.isfinite(second).all()


PARALLEL = """\
model M() {
    symmetry E(3) x S(points)
    domain pointcloud(points, dim=3)
    input x: point(3) over points
    r = x - mean(x, over=points)
    v1 = mean(r * sqnorm(r), over=points)
    F = frame(v1, v1 * 2.0, mean(r * norm(r), over=points))
    canonical {
        logits = mlp(max(to_frame_rows, over=points), [8, 2])
    }
    output logits: 2 x scalar = logits
}
"""


def test_parallel_predictions_warn_in_the_check_and_stay_finite() -> None:
    spec = PARALLEL.replace(
        "    canonical {", "    to_frame_rows = to_frame(r, F)\n    canonical {"
    )
    report = check(spec, graphs=2, trials=2)
    assert report.passed, report.render()
    assert [w.code for w in report.warnings] == ["GEO620"]
    assert "GEO620" in report.render() and "margin" in report.render()
    module = compile(spec, dtype=F64)
    x = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    out, grad, second = _derivatives(module, x)
    assert all(torch.isfinite(t).all() for t in (out, grad, second))


def test_conditioning_measures_the_margin() -> None:
    a, b, c = _vectors(2)
    assert float(rtf.conditioning(a, b, c)) > 1e-2
    assert float(rtf.conditioning(a, 2 * a, c)) < 1e-12
    assert float(rtf.conditioning(a, b, a + b)) < 1e-12


def test_frames_trace_on_the_meta_device() -> None:
    vs = [torch.empty(5, 3, device="meta") for _ in range(3)]
    frame = rtf.gram_schmidt(3, *vs)
    points, inverse = (torch.as_tensor(t) for t in wigner_plan(2))
    x = torch.empty(5, 3 + 5, device="meta")
    terms = ((1, 1, 1), (1, 2, 1))
    moved = rtf.move(x, frame, terms, 3, True, points.to("meta"), inverse.to("meta"))
    assert frame.shape == (5, 9) and moved.shape == (5, 8)


GIVEN = """\
model M() {
    symmetry O(3)
    input F: frame(3)
    input v: vector + 1x2e + pseudoscalar
    y = to_frame(v, F)
    output y: 9 x scalar = y
    output back: vector + 1x2e + pseudoscalar = from_frame(y, F, vector + 1x2e + pseudoscalar)
}
"""


def test_a_frame_as_a_model_input() -> None:
    report = check(GIVEN, trials=4)
    assert report.passed, report.render()
    assert report.frames[0].error < 1e-12  # drawn orthonormal


@pytest.mark.parametrize("layout", ["collinear", "coincident"])
def test_degenerate_clouds_warn(layout: str) -> None:
    """What `geoc check` measures, on inputs given: the margin and GEO620, never NaN."""
    module = compile("canon_pointnet", dtype=F64)
    t = torch.linspace(-1, 1, 6, dtype=F64)[:, None]
    line = t * torch.tensor([[0.3, -1.0, 2.0]], dtype=F64)
    cloud = line if layout == "collinear" else line * 0 + 0.5
    (row,) = frame_rows(module, module.meta["geoc_ir"], [{"x": cloud}], F64)
    assert row.degenerate and row.margin is not None and row.margin < 1e-6
    assert row.warning().code == "GEO620" and row.passed
    assert "GEO620" in "\n".join(frame_lines([row]))


def test_export_runs_without_geoc(tmp_path: Path) -> None:
    module = compile("canon_pointnet", seed=1)
    folder = write_folder(module, tmp_path / "canon", "specs/canon_pointnet.geo")
    x = torch.randn(9, 3, generator=torch.Generator().manual_seed(2))
    loaded = run_exported(folder, {"x": x}, tmp_path)
    assert torch.equal(loaded["logits"], module(x=x)["logits"])
