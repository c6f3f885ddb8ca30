"""Edge cases of the spectral kernels: an empty batch (MKL's FFT refuses one, so the kernels
answer it before transforming) and a grid too coarse for the kept Fourier modes (GEO622)."""

from __future__ import annotations

import pytest
import torch

import geoc
from geoc.backends.torch_fx.spectral import kernels as rt
from geoc.backends.torch_fx.spectral import plan

F64 = torch.float64
SPHERE = (
    "model S() {{\n    symmetry {group}\n    domain sphere(nlat=16, nlon=32)\n"
    "    input u: 2 x scalar over sphere\n"
    "    output v: 3 x scalar over sphere = {body}\n}}\n"
)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sfno_takes_an_empty_batch(dtype: torch.dtype) -> None:
    """No sample, no output row, and every weight of specs/sfno.geo still gets a (zero)
    gradient."""
    module = geoc.compile("sfno", params={"width": 8, "depth": 2}, dtype=dtype)
    out = module(u=torch.randn(0, 3, 32, 64, dtype=dtype))["v"]
    assert out.shape == (0, 3, 32, 64) and out.dtype == dtype
    out.sum().backward()
    assert all(p.grad is not None and not p.grad.any() for p in module.parameters())


@pytest.mark.parametrize(
    ("group", "body"),
    [
        ("SO(3)", "linear(isht(sht(u)), 3 x scalar) + sfno_conv(u, 3 x scalar)"),
        ("SO(2)", "sfno_conv(u, 3 x scalar, filter=degree_order)"),
    ],
)
def test_sht_isht_and_both_filters_take_an_empty_batch(group: str, body: str) -> None:
    module = geoc.compile(SPHERE.format(group=group, body=body), dtype=F64)
    out = module(u=torch.randn(0, 2, 16, 32, dtype=F64))["v"]
    assert out.shape == (0, 3, 16, 32)
    out.sum().backward()
    assert all(p.grad is not None and not p.grad.any() for p in module.parameters())


def test_sht_kernels_keep_their_shapes_on_an_empty_batch() -> None:
    forward, inverse = (torch.as_tensor(t) for t in plan.sht_tables(8, 16, 4, 4, "equiangular"))
    x = torch.randn(0, 5, 8, 16, dtype=F64, requires_grad=True)
    coeffs = rt.sht(x, forward, 4)
    assert coeffs.shape == (0, 5, 4, 4) and coeffs.dtype == torch.complex128
    back = rt.isht(coeffs, inverse, 16)
    assert back.shape == (0, 5, 8, 16) and back.dtype == F64
    back.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


@pytest.mark.parametrize("name", ["fno", "fno_stable"])
@pytest.mark.parametrize("grid", [(8, 64), (23, 64), (64, 8), (64, 21)])
def test_a_grid_coarser_than_the_modes_is_an_input_error(name: str, grid: tuple) -> None:
    """12 modes need 24 points on the first axis and 22 on the last (the rfft's half
    spectrum); 64x22 and 24x64 are enough."""
    module = geoc.compile(name, params={"width": 4, "depth": 2})
    with pytest.raises(geoc.InputError) as err:
        module(a=torch.randn(2, 1, *grid))
    assert err.value.code == "GEO622" and err.value.input == "a"
    assert "at least 24x22" in str(err.value) and "fewer `modes`" in str(err.value)
    for fine in [(64, 22), (24, 64)]:
        assert module(a=torch.randn(2, 1, *fine))["u"].shape == (2, 1, *fine)


def test_the_check_stays_without_input_validation() -> None:
    """The kernels check the grid themselves: `validate=False` leaves out the module's input
    checks, not this one."""
    module = geoc.compile("fno", params={"width": 4, "depth": 1}, validate=False)
    with pytest.raises(geoc.InputError, match="GEO622"):
        module(a=torch.randn(1, 1, 16, 16))
