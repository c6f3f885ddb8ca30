"""`specs/poincare_resnet.geo` (van Spengler et al. 2023): equal to the paper's network written
from the equations in plain PyTorch with the module's weights (float64, training mode, batch
statistics), exactly shift-equivariant in training and eval modes, `geoc check` passes, and the
exported folder, `torch.compile(fullgraph=True)` and `torch.export` give the eager outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_captures, run_exported
from poincare_reference import Ball, norm

from geoc import cli
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check_module

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
SMALL = {"width": 4, "depth": 1}
BALL = Ball(0.1)


def image(batch: int, seed: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed)).to(dtype)


def randomised(seed: int = 1) -> torch.nn.Module:
    """The small model with every scale, offset and bias point away from its start."""
    module = geoc_compile("poincare_resnet", SMALL, dtype=F64, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in module.named_parameters():
            if name.endswith((".r", ".bias")):
                value.copy_(0.3 * torch.randn(value.shape, generator=gen, dtype=F64))
            elif name.endswith(".scale"):
                value.copy_(torch.tensor(1.5, dtype=F64))
    return module


def reference(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Conv (HNN++) -> midpoint batch norm -> ReLU in the tangent space; a residual block
    ``relu(log₀(f(p) ⊕ p))``; the gyromidpoint of every grid point; Ganea's MLR."""
    w = dict(module.named_parameters())

    def conv_bn(p: torch.Tensor, name: str) -> torch.Tensor:
        z = BALL.conv(
            p, w[f"{name}.poincare_conv.a"], w[f"{name}.poincare_conv.r"], (3, 3), "torus"
        )
        pts = z.reshape(-1, z.shape[-1])
        mu = BALL.midpoint(pts)
        var = BALL.frechet_var(pts, mu)
        return BALL.batch_norm(z, mu, var, w[f"{name}.scale"], w[f"{name}.bias"])

    t = torch.relu(BALL.log0(conv_bn(BALL.exp0(x.movedim(1, -1)), "h_1")))
    p = BALL.exp0(t)
    h = BALL.exp0(torch.relu(BALL.log0(conv_bn(p, "layers.0.residual.h"))))
    h = conv_bn(h, "layers.0.residual.h_2")
    t = torch.relu(BALL.log0(BALL.add(h, p)))
    g = torch.stack([BALL.midpoint(s.reshape(-1, 4)) for s in BALL.exp0(t)])
    return _mlr(g, w["logits.p"], w["logits.a"])


def _mlr(x: torch.Tensor, p: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Ganea et al. (2018), Eq. 25."""
    c = BALL.c
    diff = BALL.add(-p, x[:, None])
    an = a.norm(dim=-1)
    inner = (diff * a).sum(-1)
    lam = 2 / (1 - c * p.pow(2).sum(-1))
    den = (1 - c * norm(diff).squeeze(-1) ** 2) * an
    return lam * an / c**0.5 * torch.asinh(2 * c**0.5 * inner / den)


def test_equals_the_paper_in_plain_pytorch() -> None:
    module = randomised()
    x = image(2, seed=0)
    out = module(x=x)["logits"]
    assert (out - reference(module, x)).abs().max() < 1e-10


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_every_cyclic_shift_commutes_in_both_modes(training: bool) -> None:
    module = randomised()
    module(x=image(3, seed=5))  # a training step: running statistics away from their start
    module.train(training)
    x = image(2, seed=6)
    out = module(x=x)["logits"]
    for shift in [(1, 0), (0, 31), (7, 13), (16, 16)]:
        moved = module(x=torch.roll(x, shift, dims=(2, 3)))["logits"]
        assert (moved - out).abs().max() < 1e-12
    reordered = module(x=x.flip(0))["logits"]
    assert (reordered - out.flip(0)).abs().max() < 1e-12


def test_geoc_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "poincare_resnet", "-p", "width=4"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "T(2)" in out and "poincare:" in out


def test_geoc_check_passes_in_eval_mode() -> None:
    module = randomised()
    module(x=image(3, seed=5))
    report = check_module(module.eval(), trials=2)
    assert report.passed, report.render()


@pytest.mark.slow
def test_exported_folder_keeps_the_running_statistics(tmp_path: Path) -> None:
    module = randomised()
    module(x=image(3, seed=5))
    folder = write_folder(module, tmp_path / "poincare_resnet")
    x = image(2, seed=7)
    out = run_exported(folder, {"x": x}, tmp_path)  # loads in training mode, as compiled
    assert (out["logits"] - module(x=x)["logits"]).abs().max() < 1e-12


@pytest.mark.slow
def test_compiles_fullgraph_and_exports() -> None:
    """`torch.compile(fullgraph=True)` (aot_eager) and `torch.export` give the eager outputs."""
    module = geoc_compile("poincare_resnet", SMALL).eval()
    assert_captures(module, {"x": image(2, seed=3, dtype=torch.float32)}, atol=1e-5)
