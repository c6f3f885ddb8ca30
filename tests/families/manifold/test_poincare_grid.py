"""Poincaré ResNet's operators on flat grids against the papers' equations written here in plain
PyTorch (HNN++, Shimizu et al. 2021: β-concatenation and the Poincaré fully connected layer;
van Spengler et al. 2023: the midpoint batch norm), float64, 1e-10: `poincare_conv` on a torus
and on a zero-padded grid, the batch norm in training and eval modes with its running statistics
after several steps, `poincare_midpoint`; exact shift- and batch-reorder equivariance in both
modes; finite first and second derivatives at ties; twenty float32 blocks stay in the ball."""

from __future__ import annotations

import math

import pytest
import torch
from poincare_reference import Ball
from scipy.special import beta as beta_fn

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check_module, record

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
C = 0.5
BALL = Ball(C)

MODEL = """model P(dim: int = 3) {{
    symmetry {group}
    domain {domain}
    input a: dim x scalar over {axis}
    h = expmap0(a, manifold=poincare(dim, c=0.5))
    y = {expr}
    output y: {out} over {axis} = logmap0(y)
    output g: poincare({n}, c=0.5) = poincare_midpoint(y, over={axis})
}}
"""
TORUS = {"group": "T(2)", "domain": "torus(5, 6)", "axis": "torus"}
GRID = {"group": "trivial", "domain": "grid(5, 6, boundary=zero)", "axis": "grid"}
MIRROR = {"group": "trivial", "domain": "grid(5, 6, boundary=reflect)", "axis": "grid"}
BOUNDARY = {TORUS["domain"]: "torus", GRID["domain"]: "zero", MIRROR["domain"]: "reflect"}


def compiled(expr: str, n: int, where: dict[str, str] = TORUS) -> torch.nn.Module:
    text = MODEL.format(expr=expr, out=f"{n} x scalar", n=n, **where)
    return geoc_compile(text, dtype=F64, seed=3)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def field(batch: int, seed: int, dim: int = 3, scale: float = 0.8) -> torch.Tensor:
    """Tangent vectors ``[B, dim, 5, 6]`` (channel-first, as the module takes them)."""
    return scale * torch.randn(batch, dim, 5, 6, generator=gen(seed), dtype=F64)


def param(module: torch.nn.Module, leaf: str) -> torch.Tensor:
    return next(v for k, v in module.state_dict().items() if k.endswith(leaf))


def set_param(module: torch.nn.Module, leaf: str, value: torch.Tensor) -> None:
    with torch.no_grad():
        param(module, leaf).copy_(value)


def last(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(1, -1)


# --- equations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "kernel"),
    [(TORUS, (3, 3)), (TORUS, (3, 5)), (GRID, (3, 3)), (GRID, (5, 1)), (MIRROR, (3, 5))],
    ids=["torus-3", "torus-3x5", "grid-3", "grid-5x1", "reflect-3x5"],
)
def test_conv_equals_hnnpp(where: dict[str, str], kernel: tuple[int, int]) -> None:
    module = compiled(f"poincare_conv(h, 4, kernel={list(kernel)})", 4, where)
    set_param(module, ".r", 0.3 * torch.randn(4, generator=gen(1), dtype=F64))
    a = field(2, seed=0)
    out = last(module(a=a)["y"])
    x = BALL.exp0(last(a))
    ref = BALL.conv(x, param(module, ".a"), param(module, ".r"), kernel, BOUNDARY[where["domain"]])
    assert (BALL.exp0(out) - ref).abs().max() < 1e-10


def test_batch_norm_equals_the_paper_in_train_and_eval_modes() -> None:
    module = compiled("poincare_midpoint_batch_norm(h, momentum=0.3)", 3)
    gamma, bias = torch.tensor(1.7, dtype=F64), torch.tensor([0.2, -0.4, 0.1], dtype=F64)
    set_param(module, ".scale", gamma)
    set_param(module, ".bias", bias)
    run_mean, run_var = torch.zeros(3, dtype=F64), torch.tensor(1.0, dtype=F64)
    for step in range(4):  # several training steps: the running statistics move each time
        x = BALL.exp0(last(field(2 + step, seed=step)) + torch.tensor([0.3, 0.0, -0.2], dtype=F64))
        out = module(a=BALL.log0(x).movedim(-1, 1))
        pts = x.reshape(-1, 3)
        mu = BALL.midpoint(pts)
        var = BALL.frechet_var(pts, mu)
        ref = BALL.batch_norm(x, mu, var, gamma, bias)
        assert (BALL.exp0(last(out["y"])) - ref).abs().max() < 1e-10
        run_mean = BALL.midpoint(torch.stack([run_mean, mu]), torch.tensor([0.7, 0.3], dtype=F64))
        run_var = 0.7 * run_var + 0.3 * var
        assert (param(module, "running_mean") - run_mean).abs().max() < 1e-10
        assert (param(module, "running_var") - run_var).abs() < 1e-10
    module.eval()
    kept = param(module, "running_mean").clone()
    x = BALL.exp0(last(field(3, seed=9)))
    out = module(a=BALL.log0(x).movedim(-1, 1))
    assert (
        BALL.exp0(last(out["y"])) - BALL.batch_norm(x, run_mean, run_var, gamma, bias)
    ).abs().max() < 1e-10
    assert torch.equal(param(module, "running_mean"), kept)  # eval mode: no update


def test_midpoint_pools_the_grid_and_the_copies() -> None:
    module = compiled("poincare_midpoint(concat(h, mobius_add(h, h)))", 3)
    a = field(2, seed=4)
    out = module(a=a)
    x = BALL.exp0(last(a))
    x2 = BALL.add(x, x)
    pair = torch.stack([x.reshape(-1, 3), x2.reshape(-1, 3)])  # [2, points, 3]
    ref_copies = torch.stack([BALL.midpoint(pair[:, i]) for i in range(pair.shape[1])])
    assert (BALL.exp0(last(out["y"])).reshape(-1, 3) - ref_copies).abs().max() < 1e-10
    pooled = torch.stack([BALL.midpoint(ref_copies.reshape(2, -1, 3)[b]) for b in range(2)])
    assert (out["g"] - pooled).abs().max() < 1e-10


def test_beta_ratio_is_the_beta_function() -> None:
    from geoc.backends.torch_fx.manifold.poincare_grid_kernels import log_beta

    for n, k in [(1, 1), (3, 9), (16, 25), (64, 9)]:
        assert math.isclose(
            math.exp(log_beta(k * n / 2, 0.5)), beta_fn(k * n / 2, 0.5), rel_tol=1e-12
        )


# --- equivariance ------------------------------------------------------------------------------

BLOCK = "poincare_midpoint_batch_norm(mobius_add(poincare_conv(h, 3, kernel=3), h))"


def _moved_statistics(module: torch.nn.Module) -> None:
    set_param(module, "running_mean", torch.tensor([0.3, -0.1, 0.2], dtype=F64))
    set_param(module, "running_var", torch.tensor(0.7, dtype=F64))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_shifts_and_batch_reordering_commute(training: bool) -> None:
    module = compiled(BLOCK, 3).train(training)
    _moved_statistics(module)
    a = field(4, seed=5)
    out = module(a=a)
    for shift in [(1, 0), (2, 5), (4, 3)]:
        moved = module(a=torch.roll(a, shift, dims=(2, 3)))
        assert (moved["y"] - torch.roll(out["y"], shift, dims=(2, 3))).abs().max() < 1e-12
        assert (moved["g"] - out["g"]).abs().max() < 1e-12
    perm = torch.tensor([2, 0, 3, 1])
    reordered = module(a=a[perm])
    assert (reordered["y"] - out["y"][perm]).abs().max() < 1e-12
    if training:  # the running statistics moved the same way for every call above
        assert torch.isfinite(param(module, "running_mean")).all()


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_geoc_check_passes_in_both_modes(training: bool) -> None:
    module = compiled(BLOCK, 3).train(training)
    _moved_statistics(module)
    kept = param(module, "running_mean").clone()
    report = check_module(module, trials=3)
    assert report.passed, report.render()
    assert torch.equal(param(module, "running_mean"), kept)  # the trials ran on a copy


# --- derivatives, depth, empty batches ---------------------------------------------------------


@pytest.mark.parametrize("tie", ["origin", "equal", "one-point"])
def test_first_and_second_derivatives_are_finite_at_ties(tie: str) -> None:
    module = compiled(BLOCK, 3)
    if tie == "origin":
        a = torch.zeros(2, 3, 5, 6, dtype=F64)
    elif tie == "equal":  # every point of the batch the same
        a = torch.tensor([0.4, -0.2, 0.1], dtype=F64)[None, :, None, None].expand(2, 3, 5, 6)
    else:
        a = torch.zeros(2, 3, 5, 6, dtype=F64)
        a[0, :, 1, 2] = torch.tensor([1e-9, 2e-9, 0.0])
    a = a.clone().requires_grad_(True)
    out = module(a=a)
    loss = out["y"].pow(2).sum() + out["g"].sum()
    params = [p for p in module.parameters() if p.requires_grad]
    for g in torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True):
        assert g is None or torch.isfinite(g).all()
    (grad,) = torch.autograd.grad(loss, a, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), a)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()


def test_derivatives_match_finite_differences() -> None:
    module = compiled(BLOCK, 3)
    a = field(2, seed=8, scale=0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: module(a=t)["y"], (a,), eps=1e-6, atol=1e-6)


DEEP = """model Deep() {
    symmetry T(2)
    domain torus(6, 6)
    input a: 4 x scalar over torus
    h = expmap0(a, manifold=poincare(4, c=1.0))
    repeat 20 {
        h = poincare_midpoint_batch_norm(poincare_conv(h, 4, kernel=3))
    }
    output h: poincare(4, c=1.0) over torus = h
}
"""


@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0])
def test_twenty_conv_and_batch_norm_blocks_stay_in_the_ball_in_float32(scale: float) -> None:
    module = geoc_compile(DEEP, seed=1, dtype=torch.float32)
    a = scale * torch.randn(8, 4, 6, 6, generator=gen(2)).float()
    values = record(module, {"a": a}).values
    for node in module.meta["geoc_ir"].nodes:
        value = values[node.id]
        assert torch.isfinite(value).all(), node.id
        if node.op != "input":
            assert value.pow(2).sum(1).max() < 1.0, node.id  # c = 1: strictly inside


def test_an_empty_batch_in_training_leaves_the_running_statistics() -> None:
    module = compiled(BLOCK, 3)
    out = module(a=torch.zeros(0, 3, 5, 6, dtype=F64))
    assert out["y"].shape == (0, 3, 5, 6)
    assert torch.equal(param(module, "running_mean"), torch.zeros(3, dtype=F64))
    assert torch.equal(param(module, "running_var"), torch.tensor(1.0, dtype=F64))


ONE_AND_THREE_D = """model D() {{
    symmetry T({d})
    domain torus({grid})
    input a: 2 x scalar over torus
    h = expmap0(a, manifold=poincare(2, c=0.5))
    output y: 3 x scalar over torus = logmap0(poincare_midpoint_batch_norm(poincare_conv(h, 3)))
}}
"""


def test_one_d_conv_equals_hnnpp_and_three_d_commutes_with_shifts() -> None:
    one = geoc_compile(ONE_AND_THREE_D.format(d=1, grid="7"), dtype=F64, seed=2)
    a = torch.randn(2, 2, 7, generator=gen(3), dtype=F64)
    x = BALL.exp0(a.movedim(1, -1))[:, :, None]  # [B, 7, 1, 2]: a 7x1 torus
    z = BALL.conv(x, param(one, ".a"), param(one, ".r"), (3, 1), "torus").reshape(-1, 3)
    mu, var = BALL.midpoint(z), BALL.frechet_var(z, BALL.midpoint(z))
    ref = BALL.batch_norm(z, mu, var, param(one, ".scale"), param(one, ".bias"))
    out = BALL.exp0(one(a=a)["y"].movedim(1, -1)).reshape(-1, 3)
    assert (out - ref).abs().max() < 1e-10
    three = geoc_compile(ONE_AND_THREE_D.format(d=3, grid="3, 4, 5"), dtype=F64, seed=2)
    a = torch.randn(2, 2, 3, 4, 5, generator=gen(4), dtype=F64)
    out = three(a=a)["y"]
    moved = three(a=torch.roll(a, (1, 3, 2), dims=(2, 3, 4)))["y"]
    assert (moved - torch.roll(out, (1, 3, 2), dims=(2, 3, 4))).abs().max() < 1e-12


def test_gyromidpoint_is_stable_at_the_balls_margin() -> None:
    """The gyromidpoint of points at the margin (c|x|² = (1 - 1e-5)², where `ball_project`
    puts saturated layers) does not depend on their order beyond rounding: `1 - c|u|²` of the
    Klein mean cancels to ~1e-10 there, so it comes from the pairwise identity (a reordering
    moved a batch norm's output by 3e-6 in float64 before). Inside the ball it equals the
    Klein-mean formula."""
    from geoc.backends.torch_fx.manifold import poincare_grid_kernels as pg

    gen = torch.Generator().manual_seed(0)
    c = 0.5
    near = torch.randn(8, 3, generator=gen, dtype=torch.float64) * 0.01
    direction = near + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    edge = direction / direction.norm(dim=-1, keepdim=True) * (1 - 1e-5) / c**0.5
    mids = [pg.gyromidpoint(edge[torch.randperm(8, generator=gen)], c) for _ in range(6)]
    for mid in mids[1:]:  # the Klein-mean formula: 2e-14 apart (its midpoint lies at 0.988)
        assert (mid - mids[0]).abs().max() < 4e-15
    inside = torch.randn(20, 3, generator=gen, dtype=torch.float64) * 0.3
    weights = torch.rand(20, generator=gen, dtype=torch.float64)
    klein = pg.midpoint_of_sums((pg.klein_terms(inside, c) * weights[:, None]).sum(0), c)
    torch.testing.assert_close(pg.gyromidpoint(inside, c, weights), klein, atol=1e-14, rtol=0)
