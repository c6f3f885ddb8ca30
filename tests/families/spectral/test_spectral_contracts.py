# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Issue 12: the grid-symmetry contracts of the spectral operators, each checked by a harness
written here (grid moves by index arithmetic, spherical fields evaluated with scipy), with
random parameters in float64.

* `spectral_conv` under rotations and reflections of the torus grid ties real weights over each
  orbit of modes: exactly equivariant; uneven modes are `GEO313`, `regular` channels `GEO413`.
* `sht` / `sfno_conv` under `SO(3)` only within the band the grid transforms exactly
  (`GEO412` past it): a linear SFNO layer within it is equivariant to rounding.
* Coefficients carry their band: `sht(u, lmax=4) + sht(u, lmax=8)` is `GEO305`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_fails_at
from scipy.spatial.transform import Rotation
from scipy.special import sph_harm_y

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check_module


def spec(group: str, domain: str, inputs: str, body: str) -> str:
    return f"model M() {{\n    symmetry {group}\n    domain {domain}\n{inputs}\n{body}\n}}\n"


def compiled(text: str) -> torch.fx.GraphModule:
    module = geoc_compile(text, dtype=torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    return module


# ---------------------------------------------------------------------------------------------
# spectral_conv under grid rotations and reflections

FIELD = "    input u: 2 x scalar over torus"
ROT90 = np.array([[0, -1], [1, 0]])
FLIP = np.array([[1, 0], [0, -1]])


def elements(group: str) -> list[np.ndarray]:
    """The group's linear parts as integer matrices (written here, not read from geoc): C(n) /
    D(n) for n in 1, 2, 4, rotations by 360°/n, D(n) with the reflection of the second axis."""
    n = int(group.split("(")[-1].rstrip(")"))
    rotations = [np.linalg.matrix_power(ROT90, k * 4 // n) for k in range(n)]
    if "D(" in group:
        return rotations + [r @ FLIP for r in rotations]
    return rotations


def move(x: torch.Tensor, g: np.ndarray, shift: tuple[int, int]) -> torch.Tensor:
    """``x'(p) = x(g⁻¹ (p - shift) mod n)`` on the last two axes (an n x n grid)."""
    n = x.shape[-1]
    p = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij")).reshape(2, -1)
    source = (g.T @ (p - np.array(shift)[:, None])) % n  # g⁻¹ = gᵀ
    return x[..., source[0], source[1]].reshape(x.shape)


@pytest.mark.parametrize(
    "group", ["C(4)", "D(4)", "T(2) x C(4)", "T(2) x D(4)", "C(2)", "D(1)", "D(2)"]
)
def test_spectral_conv_commutes_with_grid_rotations(group: str) -> None:
    body = "    output y: 3 x scalar over torus = spectral_conv(u, 3 x scalar, modes=3)"
    module = compiled(spec(group, "torus(8, 8)", FIELD, body))
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    y = module(u=x)["y"]
    rng = np.random.default_rng(0)
    for g in elements(group):
        shift = tuple(rng.integers(0, 8, 2)) if "T(2)" in group else (0, 0)
        moved = module(u=move(x, g, shift))["y"]
        torch.testing.assert_close(moved, move(y, g, shift), rtol=1e-12, atol=1e-12)
    assert check_module(module, trials=3).passed


def test_spectral_conv_keeps_per_mode_weights_under_translations_only() -> None:
    """Under `T(2)` the weights stay complex and per mode (not tied): rotations break it."""
    body = "    output y: 3 x scalar over torus = spectral_conv(u, 3 x scalar, modes=[3, 4])"
    module = compiled(spec("T(2)", "torus(8, 8)", FIELD, body))
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    y = module(u=x)["y"]
    shifted = module(u=move(x, np.eye(2, dtype=int), (3, 5)))["y"]
    torch.testing.assert_close(
        shifted, move(y, np.eye(2, dtype=int), (3, 5)), rtol=1e-12, atol=1e-12
    )
    assert not torch.allclose(module(u=move(x, ROT90, (0, 0)))["y"], move(y, ROT90, (0, 0)))


@pytest.mark.parametrize(
    ("modes", "group", "domain"), [("[3, 4]", "C(4)", "torus(8, 8)"), ("5", "C(2)", "torus(12, 8)")]
)
def test_modes_that_rotations_do_not_keep_are_geo313(modes: str, group: str, domain: str) -> None:
    """Under grid rotations the kept modes are one square band inside every axis's Nyquist
    band (5 fits the 12-point axis and the rfft axis of 8, not the 8-point axis rotated)."""
    text = spec(group, domain, FIELD, f"    y = @spectral_conv(u, 3 x scalar, modes={modes})")
    assert "every axis" in assert_fails_at(text, "GEO313").render()


def test_spectral_conv_of_group_feature_maps_is_geo413() -> None:
    inputs = "    input r: 2 x regular over torus"
    text = spec("C(4)", "torus(8, 8)", inputs, "    y = spectral_conv(@r, 3 x scalar, modes=3)")
    assert "group_pool" in assert_fails_at(text, "GEO413").render()


# ---------------------------------------------------------------------------------------------
# sht / sfno_conv: the exact band of each grid


def grid_angles(nlat: int, nlon: int, grid: str) -> tuple[np.ndarray, np.ndarray]:
    """Colatitudes (north to south) and longitudes of the grid points, ``[nlat, nlon]``."""
    if grid == "legendre_gauss":
        theta = np.arccos(np.polynomial.legendre.leggauss(nlat)[0][::-1])
    else:
        theta = np.pi * np.arange(nlat) / (nlat - 1)
    phi = 2 * np.pi * np.arange(nlon) / nlon
    return np.meshgrid(theta, phi, indexing="ij")


def real_basis(theta: np.ndarray, phi: np.ndarray, lmax: int) -> np.ndarray:
    """Real spherical harmonics of degrees ``l < lmax`` at the points, ``[P, lmax²]`` (scipy)."""
    columns = []
    for l in range(lmax):
        for m in range(-l, l + 1):
            y = sph_harm_y(l, abs(m), theta.ravel(), phi.ravel())
            columns.append(y.real if m == 0 else np.sqrt(2) * (y.real if m > 0 else y.imag))
    return np.stack(columns, axis=1)


def unit_vectors(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)


def angles(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arccos(np.clip(points[..., 2], -1, 1)), np.arctan2(points[..., 1], points[..., 0])


# (nlat, nlon, grid, the exact band): Gauss-Legendre lmax <= nlat, equiangular (nlat + 1) // 2,
# and lmax <= (nlon + 1) // 2 for the orders.
BANDS = [(8, 16, "equiangular", 4), (8, 16, "legendre_gauss", 8), (8, 12, "legendre_gauss", 6)]


@pytest.mark.parametrize(("nlat", "nlon", "grid", "band"), BANDS)
def test_a_linear_sfno_layer_within_the_band_is_equivariant(nlat, nlon, grid, band) -> None:
    """Rotate a band-limited field by evaluating it at ``R⁻¹p``; the layer's output, fitted on
    the grid by least squares, evaluated at ``R⁻¹p`` must equal the layer of the rotated input:
    to 1e-12 relative (the tolerance of exact laws)."""
    domain = f"sphere(nlat={nlat}, nlon={nlon}, grid={grid})"
    body = f"    output y: 2 x scalar over sphere = sfno_conv(u, 2 x scalar, lmax={band})"
    module = compiled(spec("SO(3)", domain, "    input u: 2 x scalar over sphere", body))
    theta, phi = grid_angles(nlat, nlon, grid)
    basis = real_basis(theta, phi, band)
    rng = np.random.default_rng(1)
    coeffs = rng.normal(size=(basis.shape[1], 2))
    x = torch.as_tensor((basis @ coeffs).T.reshape(1, 2, nlat, nlon))
    y = module(u=x)["y"][0].reshape(2, -1).detach().numpy()
    fit = np.linalg.lstsq(basis, y.T, rcond=None)[0]
    assert np.abs(basis @ fit - y.T).max() < 1e-12 * np.abs(y).max()  # band-limited output
    for _ in range(3):
        rotation = Rotation.random(random_state=rng).as_matrix()
        back = real_basis(*angles(unit_vectors(theta, phi) @ rotation), band)  # at R⁻¹p
        rotated = torch.as_tensor((back @ coeffs).T.reshape(1, 2, nlat, nlon))
        got = module(u=rotated)["y"][0].reshape(2, -1).detach().numpy()
        want = (back @ fit).T
        assert np.abs(got - want).max() < 1e-12 * np.abs(want).max()
    report = check_module(module, trials=2)
    assert report.passed, report.render()


@pytest.mark.parametrize(("nlat", "nlon", "grid", "band"), [*BANDS[::2], (9, 18, "equiangular", 5)])
@pytest.mark.parametrize("op", ["sfno_conv(u, 2 x scalar, lmax={})", "sht(u, lmax={})"])
def test_a_band_past_the_grid_is_geo412_under_so3(nlat, nlon, grid, band, op) -> None:
    domain = f"sphere(nlat={nlat}, nlon={nlon}, grid={grid})"
    inputs = "    input u: 2 x scalar over sphere"
    text = spec("SO(3)", domain, inputs, f"    y = @{op.format(band + 1)}")
    err = assert_fails_at(text, "GEO412")
    assert f"lmax <= {band}" in err.diagnostics[0].message


def test_the_issue_layer_is_rejected_and_polar_rotations_keep_any_band() -> None:
    """The reproducer: `lmax=8` on an 8 x 16 equiangular grid (exact band 4)."""
    inputs = "    input u: 2 x scalar over sphere"
    body = "    output y: 2 x scalar over sphere = @sfno_conv(u, 2 x scalar, lmax=8)"
    assert_fails_at(spec("SO(3)", "sphere(nlat=8, nlon=16)", inputs, body), "GEO412")
    module = compiled(spec("SO(2)", "sphere(nlat=8, nlon=16)", inputs, body.replace("@", "")))
    x = torch.randn(2, 2, 8, 16, dtype=torch.float64)
    y = module(u=x)["y"]  # a roll by whole longitude steps is a polar rotation
    torch.testing.assert_close(module(u=x.roll(3, -1))["y"], y.roll(3, -1), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Coefficients carry their band

SPHERE = "sphere(nlat=8, nlon=16, grid=legendre_gauss)"


@pytest.mark.parametrize("group", ["SO(3)", "SO(2)"])
def test_coefficients_of_different_bands_do_not_add(group: str) -> None:
    inputs = "    input u: 2 x scalar over sphere"
    body = "    output y: 2 x scalar over sphere = isht(sht(u, lmax=4) + @sht(u, lmax=8))"
    err = assert_fails_at(spec(group, SPHERE, inputs, body), "GEO305")
    assert "spectrum(lmax=4)" in err.diagnostics[0].message
    assert "same `lmax`" in err.diagnostics[0].help


def test_coefficients_of_one_band_add_and_invert() -> None:
    """`sht(u)` is the exact band (8 here), the same as `lmax=8`; a smaller band adds to
    itself, and `isht` reads the band from the type."""
    inputs = "    input u: 2 x scalar over sphere"
    body = (
        "    output y: 2 x scalar over sphere = isht(sht(u) + sht(u, lmax=8))\n"
        "    output z: 2 x scalar over sphere = isht(sht(u, lmax=3) + sht(u, lmax=3))\n"
        "    output w: 2 x scalar over sphere = isht(sht(u, lmax=3))"
    )
    module = compiled(spec("SO(3)", SPHERE, inputs, body))
    theta, phi = grid_angles(8, 16, "legendre_gauss")
    basis = real_basis(theta, phi, 8)
    x = torch.as_tensor((basis @ np.random.default_rng(2).normal(size=(64, 2))).T)
    out = module(u=x.reshape(1, 2, 8, 16))
    torch.testing.assert_close(out["y"], 2 * x.reshape(1, 2, 8, 16), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["z"], 2 * out["w"], rtol=1e-12, atol=1e-12)
