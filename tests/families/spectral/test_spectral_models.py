"""Compiled spectral models: layers against their references, the symmetry checks on grids
(exact and band-limited), discretisation invariance, tracing and export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fno_reference import fno_reference_2d
from helpers import assert_captures

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.domains.fields import BAND_LIMITED_RTOL
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")

FNO_SMALL = {"width": 8, "modes": 6, "depth": 2}
SFNO_SMALL = {"width": 8, "depth": 2}


def layer_spec(domain: str, field: str, body: str, group: str, width: int = 4) -> str:
    return (
        f"model L() {{\n    symmetry {group}\n    domain {domain}\n"
        f"    input u: 3 x scalar over {field}\n"
        f"    output v: {width} x scalar over {field} = {body}\n}}\n"
    )


# --- the FNO layer against the paper's equations ------------------------------------------------


def fno_layer_reference(
    x: torch.Tensor,
    weights1: torch.Tensor,
    weights2: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    modes: int,
) -> torch.Tensor:
    """v' = σ(W v + K v) of Li et al. 2021 (eq. 2, 4), 2-D, as in the original code: two weight
    blocks for the non-negative and the negative first frequency, gelu as σ."""
    spectral = fno_reference_2d(x, weights1, weights2, modes, modes)
    pointwise = torch.einsum("oi,bixy->boxy", w, x) + b[None, :, None, None]
    return F.gelu(spectral + pointwise)


def test_compiled_fno_layer_equals_the_paper():
    modes = 5
    body = f"act(spectral_conv(u, 4 x scalar, modes={modes}) + linear(u, 4 x scalar), gelu)"
    spec = layer_spec("torus(24, 20)", "torus", body, "T(2)")
    module = geoc_compile(spec, seed=3, dtype=torch.float64)
    params = dict(module.named_parameters())
    spectral = torch.view_as_complex(params["v.add.spectral_conv.weight"].detach())
    weights1, weights2 = spectral[:, :, :modes], spectral[:, :, modes:]
    w, b = params["v.add.linear.weight"].detach(), params["v.add.linear.bias"].detach()
    x = torch.randn(2, 3, 24, 20, dtype=torch.float64)
    want = fno_layer_reference(x, weights1, weights2, w, b, modes)
    assert torch.allclose(module(u=x)["v"], want, atol=1e-10)
    got32 = geoc_compile(spec, seed=3)(u=x.float())["v"]
    assert torch.allclose(got32, want.float(), atol=1e-5)


# --- the SFNO layer against torch-harmonics -----------------------------------------------------


@pytest.mark.parametrize("grid", ["equiangular", "legendre_gauss"])
@pytest.mark.parametrize("filt", ["degree", "degree_order"])
def test_compiled_sfno_layer_equals_torch_harmonics(grid, filt):
    th = pytest.importorskip("torch_harmonics")
    from torch_harmonics.examples.models._layers import SpectralConvS2

    nlat, nlon = 12, 24
    lmax = (nlat + 1) // 2 if grid == "equiangular" else nlat
    domain = f"sphere(nlat={nlat}, nlon={nlon}, grid={grid})"
    group = "SO(3)" if filt == "degree" else "SO(2)"
    module = geoc_compile(
        layer_spec(domain, "sphere", f"sfno_conv(u, 4 x scalar, filter={filt})", group), seed=1
    )
    th_grid = "legendre-gauss" if grid == "legendre_gauss" else grid
    sht = th.RealSHT(nlat, nlon, lmax=lmax, mmax=lmax, grid=th_grid).float()
    isht = th.InverseRealSHT(nlat, nlon, lmax=lmax, mmax=lmax, grid=th_grid).float()
    operator = "driscoll-healy" if filt == "degree" else "diagonal"
    reference = SpectralConvS2(sht, isht, 3, 4, operator_type=operator)
    weight = dict(module.named_parameters())["v.weight"].detach()
    with torch.no_grad():  # degree filters are real (see test_complex_degree_filter_...)
        complex_weight = torch.view_as_complex(weight) if filt == "degree_order" else weight
        reference.weight.copy_(complex_weight)
    x = torch.randn(2, 3, nlat, nlon)
    want, _ = reference(x)
    assert torch.allclose(module(u=x)["v"], want, atol=1e-5)


# --- symmetry: exact on the grid, band-limited on the sphere ------------------------------------


def test_fno_spec_is_exactly_shift_equivariant():
    report = check("fno", params=FNO_SMALL, trials=3)
    assert report.passed, report.render()
    assert report.max_error < 1e-10
    assert "cyclic shifts of the 64x64 grid" in report.render()


def test_sfno_spec_is_exact_under_grid_rotations_and_reports_band_limited_error():
    report = check("sfno", params=SFNO_SMALL, trials=2)
    text = report.render()
    assert report.passed, text
    assert report.max_error < 1e-10  # polar rotations by whole longitude steps
    assert "exact: rotations about the pole" in text and "band-limited:" in text
    (row,) = report.band_limited
    assert 0 < row.rel_error < BAND_LIMITED_RTOL


def test_linear_spherical_layers_are_rotation_equivariant_to_rounding():
    body = "isht(sht(u)) + sfno_conv(u, 3 x scalar) + linear(u, 3 x scalar)"
    spec = layer_spec("sphere(nlat=16, nlon=32)", "sphere", body, "SO(3)", width=3)
    report = check(spec, trials=2)
    assert report.passed, report.render()
    assert report.band_limited[0].rel_error < 1e-9


def test_per_order_filter_fails_the_band_limited_rotation_check():
    """The type rules reject it under SO(3) (GEO409); compiled under SO(2), it is exact for
    polar rotations, and a forced SO(3) check measures how far it is from rotation-equivariant."""
    from geoc.backends.torch_fx.domains.fields import band_limited_rows

    spec = layer_spec(
        "sphere(nlat=16, nlon=32)", "sphere", "sfno_conv(u, 3 x scalar, filter=degree_order)",
        "SO(2)", width=3,
    )  # fmt: skip
    report = check(spec, trials=2)
    assert report.passed and report.max_error < 1e-10, report.render()
    assert report.band_limited == []  # SO(2) has no rotation beyond the grid's own
    module = geoc_compile(spec, dtype=torch.float64)
    ir = module.meta["geoc_ir"]
    rows = band_limited_rows(module, ir, np.random.default_rng(0), 2, torch.float64)
    assert rows[0].rel_error > 1e-2


# --- discretisation invariance ------------------------------------------------------------------


def fourier_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The trigonometric interpolation of a periodic field onto a grid ``factor`` times finer."""
    n1, n2 = x.shape[-2:]
    spectrum = torch.fft.rfft2(x)
    out = torch.zeros(*x.shape[:-2], n1 * factor, n2 * factor // 2 + 1, dtype=spectrum.dtype)
    half = n1 // 2
    out[..., :half, : n2 // 2] = spectrum[..., :half, : n2 // 2]
    out[..., -half:, : n2 // 2] = spectrum[..., -half:, : n2 // 2]
    return torch.fft.irfft2(out, s=(n1 * factor, n2 * factor)) * factor**2


def test_fno_compiled_for_64_runs_on_128_with_the_same_weights():
    module = geoc_compile("fno", params=FNO_SMALL, seed=0)
    out64 = module(a=torch.randn(2, 1, 64, 64))["u"]
    out128 = module(a=torch.randn(2, 1, 128, 128))["u"]
    assert out64.shape == (2, 1, 64, 64) and out128.shape == (2, 1, 128, 128)
    assert torch.isfinite(out128).all()


def test_linear_fourier_layer_is_resolution_invariant_on_band_limited_inputs():
    """Without the pointwise non-linearity, the layer on the finer grid is exactly the
    interpolation of the coarse result: the same operator, sampled finer."""
    body = "spectral_conv(u, 4 x scalar, modes=6) + linear(u, 4 x scalar)"
    module = geoc_compile(layer_spec("torus(32, 32)", "torus", body, "T(2)"), dtype=torch.float64)
    coarse = fourier_upsample(torch.randn(2, 3, 16, 16, dtype=torch.float64), 2)  # band-limited
    fine = fourier_upsample(coarse, 2)
    out_coarse, out_fine = module(u=coarse)["v"], module(u=fine)["v"]
    assert torch.allclose(out_fine[..., ::2, ::2], out_coarse, atol=1e-10)


def test_full_fno_on_a_finer_grid_approximates_the_coarse_output():
    module = geoc_compile("fno", params=FNO_SMALL, seed=0, dtype=torch.float64)
    coarse = fourier_upsample(torch.randn(1, 1, 8, 8, dtype=torch.float64), 8)  # smooth, 64x64
    fine = fourier_upsample(coarse, 2)
    out_coarse, out_fine = module(a=coarse)["u"], module(a=fine)["u"]
    rel = (out_fine[..., ::2, ::2] - out_coarse).norm() / out_coarse.norm()
    assert rel < 0.05, f"relative difference {rel:.2e}"


# --- tracing and export -------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "name", "shape"), [
    ("fno", "a", (2, 1, 64, 64)),
    ("sfno", "u", (2, 3, 32, 64)),
])  # fmt: skip
def test_fullgraph_capture_and_export(spec, name, shape):
    params = FNO_SMALL if spec == "fno" else SFNO_SMALL
    model = geoc_compile(spec, params=params)
    inputs = {name: torch.randn(*shape)}
    assert_captures(model, inputs, atol=1e-5)


def test_spectral_weights_train():
    model = geoc_compile("fno", params=FNO_SMALL)
    x = torch.randn(2, 1, 64, 64)
    model(a=x)["u"].square().mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert math.isfinite(float(grads["layers.0.z.add.spectral_conv.weight"].norm()))


def test_complex_degree_filter_is_not_rotation_equivariant():
    """Why geoc's degree filters are real: torch-harmonics' Driscoll-Healy layer with its
    complex weights commutes with polar rotations only; with real weights, with all of SO(3)."""
    th = pytest.importorskip("torch_harmonics")
    from torch_harmonics.examples.models._layers import SpectralConvS2

    from geoc.backends.torch_fx.spectral.rotation import band_limited_field, rotate_field
    from geoc.groups import random_rotation

    nlat, nlon, lmax = 16, 32, 8
    sht = th.RealSHT(nlat, nlon, lmax=lmax, mmax=lmax).double()
    isht = th.InverseRealSHT(nlat, nlon, lmax=lmax, mmax=lmax).double()
    layer = SpectralConvS2(sht, isht, 2, 2).double()
    rng = np.random.default_rng(0)
    x = band_limited_field(rng, (1, 2), nlat, nlon, "equiangular", lmax // 2)
    rotation = random_rotation(rng, 3, reflect=False)

    def rotation_error() -> float:
        with torch.no_grad():
            moved = layer(rotate_field(x, rotation, nlat, nlon, "equiangular", lmax))[0]
            want = rotate_field(layer(x)[0], rotation, nlat, nlon, "equiangular", lmax)
        return float((moved - want).abs().max() / want.abs().max())

    assert rotation_error() > 1e-2
    with torch.no_grad():
        layer.weight.imag.zero_()
    assert rotation_error() < 1e-5  # its forward computes in float32
