"""``specs/vcycle.geo`` against the same V-cycle written with ``torch.nn.functional`` in
float64, its verdict (``T(2, step=4)``), its exactness under every shift by a multiple of 4,
and that a shift by 1 or 2 is not among them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

PARAMS = {"channels": 2, "width": 4}
F64 = torch.float64


def reference(p: dict[str, torch.Tensor], a: torch.Tensor) -> torch.Tensor:
    """The V-cycle from its equations: circular 3x3 convolutions, stride-2 convolutions down,
    stride-2 transposed convolutions up, skips added before each upward convolution."""

    def conv(x: torch.Tensor, name: str) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="circular")
        return F.gelu(F.conv2d(padded, p[f"{name}.weight"], p[f"{name}.bias"]))

    def down(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv2d(x, p[f"{name}.weight"], p[f"{name}.bias"], stride=2)

    def up(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv_transpose2d(x, p[f"{name}.weight"], p[f"{name}.bias"], stride=2)

    lifted = torch.einsum("oc,bchw->bohw", p["z0.conv.linear.weight"], a)
    z0 = conv(lifted + p["z0.conv.linear.bias"][:, None, None], "z0.conv")
    z1 = conv(down(z0, "z1.conv.restrict"), "z1.conv")
    z2 = conv(down(z1, "z2.conv.restrict"), "z2.conv")
    u1 = conv(up(z2, "u1.conv.add.prolong") + z1, "u1.conv")
    u0 = conv(up(u1, "u0.conv.add.prolong") + z0, "u0.conv")
    return torch.einsum("oc,bchw->bohw", p["u.weight"], u0) + p["u.bias"][:, None, None]


def test_vcycle_equals_its_equations() -> None:
    module = geoc_compile("vcycle", PARAMS, dtype=F64)
    params = dict(module.named_parameters())
    a = torch.randn(3, 2, 64, 64, dtype=F64)
    got = module(a=a)["u"]
    assert (got - reference(params, a)).abs().max() < 1e-12
    # other resolutions: any size divisible by 4
    a = torch.randn(2, 2, 16, 24, dtype=F64)
    assert (module(a=a)["u"] - reference(params, a)).abs().max() < 1e-12


def test_vcycle_verdict_and_shifts() -> None:
    graph = frontend("vcycle", PARAMS)
    assert str(graph.group) == "T(2, step=4)"
    report = check("vcycle", PARAMS, trials=3)
    assert report.passed and "multiples of 4" in report.render()
    module = geoc_compile("vcycle", PARAMS, dtype=F64)
    a = torch.randn(1, 2, 16, 16, dtype=F64)
    out = module(a=a)["u"]
    errors = {}
    for shift in [(i, j) for i in range(16) for j in range(16)]:
        moved = module(a=torch.roll(a, shift, (2, 3)))["u"]
        errors[shift] = (moved - torch.roll(out, shift, (2, 3))).abs().max().item()
    exact = {s for s, e in errors.items() if e < 1e-12}
    assert exact == {s for s in errors if s[0] % 4 == 0 and s[1] % 4 == 0}
