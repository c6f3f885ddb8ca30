"""Grid moves of `geoc check` on a torus that is not square (issue 12): `C(1)`, `C(2)`, `D(1)`,
`D(2)` (the identity, the half turn and the axis flips map any rectangle onto itself) crashed
with an IndexError; `C(4)` / `D(4)` need a square grid and are rejected (GEO408)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.core import lower as core
from geoc.backends.torch_fx.domains.fields import draw_grid_element
from geoc.backends.torch_fx.verify import check_module
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend
from geoc.types import FeatureType

RECTANGLE_GROUPS = ["C(1)", "C(2)", "D(1)", "D(2)", "C(2) x T(2)", "D(2) x T(2)", "D(1) x T(2)"]


def spec(group: str, grid: str = "8, 6") -> str:
    return f"""model M() {{
    symmetry {group}
    domain torus({grid})
    input a: 2 x scalar over torus
    input nu: 2 x scalar
    h = act(linear(a, 4 x scalar) + linear(nu, 4 x scalar), relu)
    u = linear(concat(h, mean(h, over=torus)), 2 x scalar)
    output u: 2 x scalar over torus = u
    output s: 2 x scalar = mean(u, over=torus)
}}
"""


def random_parameters(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return module


def moved_by_flips(
    value: torch.Tensor, linear: np.ndarray, shifts: tuple[int, ...]
) -> torch.Tensor:
    """``f'(p) = f(g⁻¹ p)`` then a shift, for a diagonal ``g`` of signs, written with flips:
    ``f(-i mod n)`` is ``f`` flipped along the axis and rolled by one."""
    assert np.array_equal(linear, np.diag(np.diag(linear)))  # a rectangle has no axis swap
    for axis, sign in zip((-2, -1), np.diag(linear), strict=True):
        if sign < 0:
            value = torch.roll(torch.flip(value, [axis]), 1, axis)
    return torch.roll(value, shifts, (-2, -1))


@pytest.mark.parametrize("group", RECTANGLE_GROUPS)
def test_moves_of_a_rectangle_are_its_flips_and_half_turn(group: str) -> None:
    ir = frontend(spec(group))
    rng = np.random.default_rng(0)
    value = torch.randn(3, 2, 8, 6, dtype=torch.float64)
    ftype = FeatureType.parse("2 x scalar over torus")
    for _ in range(6):
        move = draw_grid_element(ir, rng).grid_move
        want = moved_by_flips(value, move.linear, move.shifts)
        torch.testing.assert_close(move.apply(value, ftype), want, rtol=0, atol=0)


@pytest.mark.parametrize("group", RECTANGLE_GROUPS)
def test_check_passes_on_a_rectangle_with_random_parameters(group: str) -> None:
    module = random_parameters(compile(spec(group), dtype=torch.float64), seed=len(group))
    report = check_module(module, trials=3)
    assert report.passed, report.render()


def _roll_last_axis(x: torch.Tensor) -> torch.Tensor:
    return torch.roll(x, 1, -1)  # commutes with shifts, not with flips or the half turn


@pytest.mark.parametrize("group", ["C(2)", "D(1)", "D(2) x T(2)"])
def test_check_fails_a_model_that_is_not_flip_equivariant(
    group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(core.ACTIVATION_FNS, "relu", _roll_last_axis)
    module = random_parameters(compile(spec(group), dtype=torch.float64), seed=1)
    report = check_module(module, trials=3)
    assert not report.passed
    assert report.first_failure is not None and report.first_failure.op == "act"


@pytest.mark.parametrize("group", ["C(4)", "D(4) x T(2)"])
def test_quarter_turns_need_a_square_grid(group: str) -> None:
    with pytest.raises(GeoError) as info:
        frontend(spec(group))
    assert info.value.codes == ["GEO408"] and "8x6 grid onto itself only when it is square" in (
        info.value.render()
    )
    assert info.value.diagnostics[0].span.line == 2  # the `symmetry` statement
