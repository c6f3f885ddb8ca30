"""The non-periodic ``grid(n1, ..., boundary=zero | reflect)`` domain: its typing (no group but
``trivial`` acts on it), ``conv`` against PyTorch's zero and reflect padding in float64,
multigrid on it, and what ``geoc check`` says it verifies."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_captures

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

GRIDS = {1: (9,), 2: (6, 5), 3: (4, 5, 3)}
PADDING = {"zero": "zeros", "reflect": "reflect"}


def spec(body: str, grid: tuple[int, ...], boundary: str, group: str = "trivial") -> str:
    return (
        f"model M() {{\n    symmetry {group}\n"
        f"    domain grid({', '.join(map(str, grid))}, boundary={boundary})\n"
        f"    input a: 2 x scalar over grid\n    output u: 3 x scalar over grid = {body}\n}}\n"
    )


def test_the_domain_parses_and_prints():
    assert str(Domain.parse("grid(8, 4)")) == "grid(8, 4, boundary=zero)"
    assert str(Domain.parse("grid(8, boundary=reflect)")) == "grid(8, boundary=reflect)"
    for bad in ("grid()", "grid(4, 4, 4, 4)", "grid(8, boundary=circular)", "grid(8, wrap=1)"):
        with pytest.raises(GeoError) as info:
            Domain.parse(bad)
        assert info.value.codes == ["GEO204"]


@pytest.mark.parametrize("group", ["T(2)", "C(4)", "T(2) x C(4)", "SO(2)"])
def test_no_group_moves_a_non_periodic_grid(group):
    with pytest.raises(GeoError) as info:
        frontend(spec("conv(a, 3 x scalar)", (8, 8), "zero", group))
    diag = info.value.diagnostics[0]
    assert diag.code == "GEO408" and diag.span is not None
    assert "no translation group" in diag.help


def test_spectral_and_coordinate_operators_stay_on_the_torus():
    for body in (
        "spectral_conv(a, 3 x scalar, modes=2)",
        "linear(concat(a, grid_coords(a)), 3 x scalar)",
    ):
        with pytest.raises(GeoError) as info:
            frontend(spec(body, (8, 8), "zero"))
        assert info.value.codes[0] == "GEO312"


@pytest.mark.parametrize("boundary", ["zero", "reflect"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_equals_torch_padding(d, boundary):
    grid = GRIDS[d]
    kernel = "[3, 5]" if d == 2 else "3"
    module = geoc_compile(
        spec(f"conv(a, 3 x scalar, kernel={kernel})", grid, boundary), dtype=torch.float64, seed=d
    )
    weight, bias = module.get_parameter("u.weight"), module.get_parameter("u.bias")
    size = tuple(weight.shape[2:])
    layer = getattr(torch.nn, f"Conv{d}d")(
        2,
        3,
        size,
        padding=tuple(k // 2 for k in size),
        padding_mode=PADDING[boundary],
        dtype=torch.float64,
    )
    with torch.no_grad():
        layer.weight.copy_(weight), layer.bias.copy_(bias)
    x = torch.randn(3, 2, *grid, dtype=torch.float64)
    assert (module(a=x)["u"] - layer(x)).abs().max() < 1e-12


def test_zero_boundary_is_not_shift_equivariant():
    """Why the domain carries no translations: a shift changes what the edge points read."""
    module = geoc_compile(spec("conv(a, 3 x scalar)", (8, 8), "zero"), dtype=torch.float64)
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    moved = module(a=torch.roll(x, (1, 0), (2, 3)))["u"]
    assert (moved - torch.roll(module(a=x)["u"], (1, 0), (2, 3))).abs().max() > 1e-3


@pytest.mark.parametrize("boundary", ["zero", "reflect"])
def test_multigrid_on_a_grid_checks_and_captures(boundary):
    body = "prolong(act(conv(restrict(a, 4 x scalar), 4 x scalar), gelu), 3 x scalar)"
    text = spec(body + " + conv(a, 3 x scalar)", (8, 6), boundary)
    report = check(frontend(text), trials=2)
    assert report.passed
    assert "no translation group" in report.render()
    module = geoc_compile(text)
    assert_captures(module, {"a": torch.randn(2, 2, 8, 6)}, atol=1e-5)
    x = torch.randn(2, 2, 8, 6, dtype=torch.float64, requires_grad=True)
    module = geoc_compile(text, dtype=torch.float64)
    (grad,) = torch.autograd.grad(module(a=x)["u"].square().sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.square().sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
