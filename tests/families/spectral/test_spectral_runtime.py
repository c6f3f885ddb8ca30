# ruff: noqa: E741 - `l` is the degree of a spherical harmonic
"""The spectral kernels (``runtime_spectral``), their plans (``sht_plan``) and the sphere
rotations of the checker (``sphere_rotation``): against torch-harmonics and the FNO paper's
code, their gradients, and the symmetries that hold exactly or on band-limited fields."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fno_reference import fno_reference_1d, fno_reference_2d, fno_reference_nd

from geoc.backends.torch_fx.spectral import kernels as rt
from geoc.backends.torch_fx.spectral import plan as sht_plan
from geoc.backends.torch_fx.spectral.rotation import (
    band_limited_field,
    evaluate,
    grid_points,
    polar_rotation,
    rotate_coefficients,
    rotate_field,
    wigner_blocks,
    z_rotation_steps,
)
from geoc.groups import random_rotation

pytestmark = pytest.mark.usefixtures("one_thread")

th = pytest.importorskip("torch_harmonics")
from torch_harmonics.examples.models._layers import SpectralConvS2  # noqa: E402
from torch_harmonics.quadrature import clenshaw_curtiss_weights  # noqa: E402

GRIDS = ("equiangular", "legendre_gauss")
#: (nlat, nlon, lmax, mmax): default bandwidths, a Nyquist order (mmax = nlon/2 + 1), odd nlon
SIZES = [(16, 32, 8, 8), (17, 32, 16, 17), (12, 23, 10, 7)]


def tables(nlat: int, nlon: int, lmax: int, mmax: int, grid: str, dtype: torch.dtype):
    forward, inverse = sht_plan.sht_tables(nlat, nlon, lmax, mmax, grid)
    return torch.as_tensor(forward, dtype=dtype), torch.as_tensor(inverse, dtype=dtype)


def transforms(nlat: int, nlon: int, lmax: int, mmax: int, grid: str, dtype: torch.dtype):
    name = sht_plan.GRIDS[grid]
    forward = th.RealSHT(nlat, nlon, lmax, mmax, grid=name).to(dtype)
    inverse = th.InverseRealSHT(nlat, nlon, lmax, mmax, grid=name).to(dtype)
    return forward, inverse


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


# --- plans -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 8, 33])
def test_clenshaw_curtis_weights_equal_torch_harmonics(n):
    cos, weights = sht_plan.quadrature(n, "equiangular")
    _, reference = clenshaw_curtiss_weights(n, -1.0, 1.0)
    assert np.allclose(weights, reference.numpy(), atol=1e-14)
    assert math.isclose(weights.sum(), 2.0) and cos[0] == 1.0 and cos[-1] == -1.0


@pytest.mark.parametrize("grid", GRIDS)
def test_legendre_tables_are_orthonormal_under_the_quadrature(grid):
    nlat, nlon = 12, 24
    lmax = sht_plan.default_lmax(nlat, grid)
    forward, inverse = sht_plan.sht_tables(nlat, nlon, lmax, lmax, grid)
    gram = np.einsum("mlk,mjk->mlj", forward, inverse) * nlon  # ∫ P̄_lm P̄_jm 2π dx
    for m in range(lmax):
        assert np.allclose(gram[m, m:, m:], np.eye(lmax - m), atol=1e-13)
    assert sht_plan.default_lmax(12, "equiangular") == 6 and sht_plan.default_mmax(40, 24) == 13
    assert sht_plan.resolved_lmax(16, 30, "legendre_gauss") == 15


# --- sht / isht against torch-harmonics ------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("size", SIZES)
def test_sht_and_isht_equal_torch_harmonics(size, grid, dtype):
    forward, inverse = tables(*size, grid, dtype)
    th_forward, th_inverse = transforms(*size, grid, dtype)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, size[0], size[1], dtype=dtype, generator=gen)
    coeffs = torch.randn(2, 3, size[2], size[3], dtype=th_forward(x).dtype, generator=gen)
    assert rel(rt.sht(x, forward, size[3]), th_forward(x)) < tol(dtype)
    assert rel(rt.isht(coeffs, inverse, size[1]), th_inverse(coeffs)) < tol(dtype)


@pytest.mark.parametrize("grid", GRIDS)
def test_isht_of_sht_is_the_identity_on_band_limited_fields(grid):
    nlat, nlon = 13, 24
    lmax = sht_plan.default_lmax(nlat, grid)
    mmax = sht_plan.default_mmax(lmax, nlon)
    forward, inverse = tables(nlat, nlon, lmax, mmax, grid, torch.float64)
    x = band_limited_field(np.random.default_rng(0), (2, 3), nlat, nlon, grid, lmax)
    assert (rt.isht(rt.sht(x, forward, mmax), inverse, nlon) - x).abs().max() < 1e-12


# --- sfno_conv against torch-harmonics' SpectralConvS2 ---------------------------------------


def our_weight(th_weight: torch.Tensor, kind: str, mode_major: bool) -> torch.Tensor:
    """torch-harmonics' complex ``[out, in, lmax(, mmax)]`` in our layouts."""
    w = th_weight.real.contiguous() if kind == "real" else torch.view_as_real(th_weight)
    if mode_major:
        order = (2, 1, 0) if kind == "real" else (2, 1, 0, 3)
        w = w.permute(3, 2, 1, 0, 4) if kind == "diagonal" else w.permute(*order)
    return w.contiguous()


@pytest.mark.parametrize("mode_major", [False, True])
@pytest.mark.parametrize("kind", ["driscoll-healy", "real", "diagonal"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("grid", GRIDS)
def test_sfno_conv_equals_torch_harmonics_spectral_conv(grid, dtype, kind, mode_major):
    nlat, nlon, lmax, mmax = 17, 32, 12, 12
    th_forward, th_inverse = transforms(nlat, nlon, lmax, mmax, grid, dtype)
    torch.manual_seed(1)
    operator = "diagonal" if kind == "diagonal" else "driscoll-healy"
    layer = SpectralConvS2(th_forward, th_inverse, 3, 5, operator_type=operator)
    if kind == "real":  # geoc's SO(3)-equivariant degree filter
        layer.weight.data = layer.weight.data.real.to(layer.weight.dtype)
    x = torch.randn(2, 3, nlat, nlon, dtype=dtype)
    if dtype == torch.float32:
        want = layer(x)[0].detach()
    else:  # the layer computes in float32: its own steps in float64 instead
        w = layer.weight.detach().to(torch.complex128)
        want = th_inverse(torch.einsum(layer.contract_func, th_forward(x), w))
    weight = our_weight(layer.weight.detach(), kind, mode_major).to(dtype)
    forward, inverse = tables(nlat, nlon, lmax, mmax, grid, dtype)
    got = rt.sfno_conv(x, forward, inverse, weight, mmax, nlon, kind == "diagonal", mode_major)
    assert (got - want).abs().max() < tol(dtype) * max(1.0, float(want.abs().max()))


def test_sfno_conv_maps_between_grids():
    """Forward tables of one grid and inverse tables of another: a resampling layer."""
    lmax = mmax = 8
    source, target = (16, 32, "equiangular"), (10, 20, "legendre_gauss")
    forward, _ = tables(source[0], source[1], lmax, mmax, source[2], torch.float64)
    _, inverse = tables(target[0], target[1], lmax, mmax, target[2], torch.float64)
    x = torch.randn(2, 3, 16, 32, dtype=torch.float64)
    weight = torch.randn(4, 3, lmax, dtype=torch.float64)
    got = rt.sfno_conv(x, forward, inverse, weight, mmax, target[1], False)
    coeffs = torch.einsum("bilm,oil->bolm", rt.sht(x, forward, mmax), weight.to(torch.complex128))
    assert got.shape == (2, 4, 10, 20)
    assert (got - rt.isht(coeffs, inverse, target[1])).abs().max() < 1e-12


# --- fno_conv against the paper's code --------------------------------------------------------


def complex_weight(shape, dtype, gen):
    return torch.randn(*shape, dtype=dtype, generator=gen) / shape[0]


@pytest.mark.parametrize("mode_major", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("grid_modes", [((16, 12), (4, 3)), ((12, 14), (6, 8)), ((9, 7), (2, 4))])
def test_fno_conv_equals_the_paper_code_2d(grid_modes, dtype, mode_major):
    (n1, n2), (m1, m2) = grid_modes  # incl. the Nyquist row (2 m1 = n1) and column (m2 = n2/2+1)
    gen = torch.Generator().manual_seed(2)
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    w1 = complex_weight((3, 4, m1, m2), cdtype, gen)
    w2 = complex_weight((3, 4, m1, m2), cdtype, gen)
    weight = torch.view_as_real(torch.cat([w1, w2], dim=2))  # [in, out, 2 m1, m2, 2]
    if mode_major:
        weight = weight.permute(2, 3, 0, 1, 4).contiguous()
    x = torch.randn(2, 3, n1, n2, dtype=dtype, generator=gen, requires_grad=True)
    want = fno_reference_2d(x, w1, w2, m1, m2)
    got = rt.fno_conv(x, weight, (m1, m2), mode_major)
    assert (got - want).abs().max() < tol(dtype)
    if dtype == torch.float64:  # the hand-written backward passes agree with autograd's
        grad = torch.randn_like(want)
        (want_grad,) = torch.autograd.grad(want, x, grad)
        (got_grad,) = torch.autograd.grad(got, x, grad)
        assert (got_grad - want_grad).abs().max() < 1e-12


@pytest.mark.parametrize("n", [16, 15])
def test_fno_conv_equals_the_paper_code_1d(n):
    gen = torch.Generator().manual_seed(3)
    modes = 5
    w = complex_weight((3, 2, modes), torch.complex64, gen)
    x = torch.randn(4, 3, n, generator=gen)
    got = rt.fno_conv(x, torch.view_as_real(w), (modes,))
    assert (got - fno_reference_1d(x, w, modes)).abs().max() < 1e-5


def test_fno_conv_3d_and_its_gradients():
    gen = torch.Generator().manual_seed(4)
    modes = (3, 2, 4)
    weight = torch.randn(2, 3, 6, 4, 4, 2, dtype=torch.float64, generator=gen)
    weight.requires_grad_(True)
    x = torch.randn(2, 2, 8, 6, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    want = fno_reference_nd(x, weight, modes)
    got = rt.fno_conv(x, weight, modes)
    assert (got - want).abs().max() < 1e-12
    grad = torch.randn_like(want)
    for a, b in zip(
        torch.autograd.grad(got, (x, weight), grad),
        torch.autograd.grad(want, (x, weight), grad),
        strict=True,
    ):
        assert (a - b).abs().max() < 1e-12


def test_fno_conv_rejects_modes_the_grid_cannot_hold():
    with pytest.raises(ValueError, match="at least 8"):
        rt.fno_conv(torch.randn(1, 1, 6, 8), torch.randn(1, 1, 8, 3, 2), (4, 3))


# --- gradients of the hand-written backward passes -----------------------------------------------


def test_spectral_kernels_pass_gradcheck():
    gen = torch.Generator().manual_seed(5)
    f64 = {"dtype": torch.float64, "generator": gen}
    forward, inverse = tables(6, 9, 5, 5, "legendre_gauss", torch.float64)
    x = torch.randn(2, 3, 6, 9, **f64, requires_grad=True)
    for shape, per_order in [((4, 3, 5), False), ((4, 3, 5, 2), False), ((4, 3, 5, 5, 2), True)]:
        w = torch.randn(*shape, **f64, requires_grad=True)
        conv = lambda x, w, p=per_order: rt.sfno_conv(x, forward, inverse, w, 5, 9, p)  # noqa: E731
        assert torch.autograd.gradcheck(conv, (x, w), fast_mode=True)
    coeffs = torch.randn(2, 3, 5, 5, dtype=torch.complex128, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: rt.isht(c, inverse, 10), (coeffs,), fast_mode=True)
    y = torch.randn(2, 3, 8, 10, **f64, requires_grad=True)
    w = torch.randn(3, 2, 4, 6, 2, **f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda y, w: rt.fno_conv(y, w, (2, 6)), (y, w), fast_mode=True)


def test_unpaired_imaginary_parts_are_what_cpu_irfft_ignores():
    """Off the CPU the kernels zero them first (cuFFT may not ignore them): same result."""
    assert rt._real_parts_mask(5, 8, torch.float64, "cpu")[:, 1].tolist() == [0, 1, 1, 1, 0]
    assert rt._real_parts_mask(5, 9, torch.float64, "cpu")[:, 1].tolist() == [0, 1, 1, 1, 1]
    h = torch.randn(3, 5, dtype=torch.complex128)
    masked = torch.view_as_complex(
        torch.view_as_real(h) * rt._real_parts_mask(5, 8, torch.float64, "cpu")
    )
    assert torch.allclose(torch.fft.irfft(masked, n=8), rt.irfft_tail(h, 8, "backward"))


def test_kernels_compile_and_export():
    class Layers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            forward, inverse = tables(8, 16, 6, 6, "equiangular", torch.float32)
            self.register_buffer("forward_table", forward)
            self.register_buffer("inverse_table", inverse)
            self.per_order = torch.nn.Parameter(torch.randn(3, 3, 6, 6, 2))
            self.degree = torch.nn.Parameter(torch.randn(3, 3, 6))
            self.fourier = torch.nn.Parameter(torch.randn(3, 3, 4, 3, 2))

        def forward(self, x):
            tables = (self.forward_table, self.inverse_table)
            y = rt.sfno_conv(x, *tables, self.per_order, 6, 16, True)
            y = rt.sfno_conv(y, *tables, self.degree, 6, 16, False)
            return rt.fno_conv(y, self.fourier, (2, 3))

    model = Layers()
    x = torch.randn(2, 3, 8, 16)
    want = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), want, atol=1e-5)
    compiled(x).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    exported = torch.export.export(model, (x,)).module()
    assert torch.allclose(exported(x), want, atol=1e-5)


# --- symmetries of the torus layer ---------------------------------------------------------------


def test_fno_conv_commutes_exactly_with_cyclic_shifts():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 20, 18, dtype=torch.float64, generator=gen)
    weight = torch.randn(3, 4, 10, 6, 2, dtype=torch.float64, generator=gen)
    for shifts in [(1, 0), (7, -5), (0, 11)]:
        moved = rt.fno_conv(torch.roll(x, shifts, (-2, -1)), weight, (5, 6))
        assert (
            moved - torch.roll(rt.fno_conv(x, weight, (5, 6)), shifts, (-2, -1))
        ).abs().max() < 1e-10


def fourier_interpolate(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The trigonometric polynomial through ``x`` (frequencies below Nyquist) on a finer grid."""
    n1, n2 = x.shape[-2:]
    spectrum = torch.fft.rfft2(x, norm="forward")
    k1 = (n1 - 1) // 2
    out = torch.zeros(*x.shape[:-2], size[0], size[1] // 2 + 1, dtype=spectrum.dtype)
    out[..., : k1 + 1, : (n2 - 1) // 2 + 1] = spectrum[..., : k1 + 1, : (n2 - 1) // 2 + 1]
    out[..., -k1:, : (n2 - 1) // 2 + 1] = spectrum[..., -k1:, : (n2 - 1) // 2 + 1]
    return torch.fft.irfft2(out, s=size, norm="forward")


def test_fno_conv_is_discretisation_invariant():
    """Weights shaped for 64x64 on 128x128: the same operator sampled finer."""
    gen = torch.Generator().manual_seed(7)
    modes = (8, 8)
    weight = torch.randn(2, 3, 16, 8, 2, dtype=torch.float64, generator=gen)
    coarse = torch.randn(2, 2, 64, 64, dtype=torch.float64, generator=gen)
    fine = fourier_interpolate(coarse, (128, 128))
    out_fine = rt.fno_conv(fine, weight, modes)
    assert out_fine.shape == (2, 3, 128, 128)
    want = fourier_interpolate(rt.fno_conv(coarse, weight, modes), (128, 128))
    assert (out_fine - want).abs().max() < 1e-10


# --- symmetries of the sphere layers ---------------------------------------------------------


def sphere_layer(nlat, nlon, grid, kind, seed=0):
    lmax = sht_plan.default_lmax(nlat, grid)
    mmax = sht_plan.default_mmax(lmax, nlon)
    forward, inverse = tables(nlat, nlon, lmax, mmax, grid, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    shape = {
        "real": (3, 2, lmax),
        "driscoll-healy": (3, 2, lmax, 2),
        "diagonal": (3, 2, lmax, mmax, 2),
    }
    weight = torch.randn(*shape[kind], dtype=torch.float64, generator=gen)
    return lambda x: rt.sfno_conv(x, forward, inverse, weight, mmax, nlon, kind == "diagonal"), lmax


@pytest.mark.parametrize("kind", ["real", "driscoll-healy", "diagonal"])
@pytest.mark.parametrize("grid", GRIDS)
def test_sfno_conv_commutes_exactly_with_polar_rotations_by_grid_steps(grid, kind):
    nlat, nlon = 12, 24
    layer, _ = sphere_layer(nlat, nlon, grid, kind)
    x = torch.randn(2, 2, nlat, nlon, dtype=torch.float64)
    for steps in [1, 5, -7]:
        moved = layer(z_rotation_steps(x, steps))
        assert (moved - z_rotation_steps(layer(x), steps)).abs().max() < 1e-10


def test_z_rotation_steps_is_the_polar_rotation_of_rotate_field():
    nlat, nlon, grid = 13, 24, "equiangular"
    lmax = sht_plan.default_lmax(nlat, grid)
    x = band_limited_field(np.random.default_rng(1), (1, 2), nlat, nlon, grid, lmax)
    for steps in [1, -3, 10]:
        rotation = polar_rotation(2 * math.pi * steps / nlon)
        rotated = rotate_field(x, rotation, nlat, nlon, grid, lmax)
        assert (rotated - z_rotation_steps(x, steps)).abs().max() < 1e-10


def test_wigner_blocks_are_a_unitary_representation():
    rng = np.random.default_rng(2)
    r1, r2 = random_rotation(rng, 3, reflect=False), random_rotation(rng, 3, reflect=False)
    lmax = 32
    d1, d2, d12 = (wigner_blocks(r, lmax) for r in (r1, r2, r1 @ r2))
    for l in range(lmax):
        assert np.abs(d1[l] @ d1[l].conj().T - np.eye(2 * l + 1)).max() < 1e-12
        assert np.abs(d12[l] - d1[l] @ d2[l]).max() < 1e-12
    assert np.allclose(wigner_blocks(np.eye(3), 4)[3], np.eye(7), atol=1e-13)


@pytest.mark.parametrize("grid", GRIDS)
def test_rotate_field_is_the_rotated_band_limited_field(grid):
    nlat, nlon = 15, 30  # nlon > 2 (lmax - 1): the grid holds every order of the band
    lmax = sht_plan.default_lmax(nlat, grid)
    mmax = sht_plan.default_mmax(lmax, nlon)
    rng = np.random.default_rng(3)
    rotation = random_rotation(rng, 3, reflect=False)
    x = band_limited_field(rng, (2, 2), nlat, nlon, grid, lmax)
    forward, _ = tables(nlat, nlon, lmax, mmax, grid, torch.float64)
    coeffs = rt.sht(x, forward, mmax).numpy()
    preimages = grid_points(nlat, nlon, grid).reshape(-1, 3) @ rotation  # R⁻¹p = Rᵀp
    theta = np.arccos(np.clip(preimages[:, 2], -1.0, 1.0))
    phi = np.arctan2(preimages[:, 1], preimages[:, 0])
    direct = evaluate(coeffs, theta, phi).reshape(2, 2, nlat, nlon)
    rotated = rotate_field(x, rotation, nlat, nlon, grid, lmax)
    assert np.abs(rotated.numpy() - direct).max() < 1e-10
    back = rotate_field(rotated, rotation.T, nlat, nlon, grid, lmax)
    assert (back - x).abs().max() < 1e-10
    moved = rotate_coefficients(torch.as_tensor(coeffs), rotation).numpy()
    twice = np.where(np.arange(mmax) == 0, 1.0, 2.0)  # the implicit orders m < 0
    norm = lambda a: float((np.square(np.abs(a)) * twice).sum())  # noqa: E731
    assert math.isclose(norm(moved), norm(coeffs), rel_tol=1e-12)  # a rotation is unitary


@pytest.mark.parametrize("grid", GRIDS)
def test_degree_filter_commutes_with_band_limited_rotations(grid):
    nlat, nlon = 16, 32
    layer, lmax = sphere_layer(nlat, nlon, grid, "real")
    rng = np.random.default_rng(4)
    x = band_limited_field(rng, (2, 2), nlat, nlon, grid, lmax)
    for _ in range(2):
        rotation = random_rotation(rng, 3, reflect=False)
        moved = layer(rotate_field(x, rotation, nlat, nlon, grid, lmax))
        want = rotate_field(layer(x), rotation, nlat, nlon, grid, lmax)
        assert (moved - want).abs().max() < 1e-9 * want.abs().max()


@pytest.mark.parametrize("kind", ["diagonal", "driscoll-healy"])
def test_complex_filters_break_general_rotations(kind):
    """Per-(l, m) and complex degree filters commute with polar rotations only."""
    nlat, nlon, grid = 16, 32, "equiangular"
    layer, lmax = sphere_layer(nlat, nlon, grid, kind)
    rng = np.random.default_rng(5)
    x = band_limited_field(rng, (2, 2), nlat, nlon, grid, lmax)
    rotation = random_rotation(rng, 3, reflect=False)
    moved = layer(rotate_field(x, rotation, nlat, nlon, grid, lmax))
    want = rotate_field(layer(x), rotation, nlat, nlon, grid, lmax)
    assert (moved - want).abs().max() > 1e-3 * want.abs().max()
