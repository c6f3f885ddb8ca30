"""Kernels that apply a function singular somewhere gate the degenerate input before it
(issue 14): first and second derivatives finite at the degenerate point, values unchanged
elsewhere, exact second derivatives (gradgradcheck) around it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.manifold import kernels as rt_manifold
from geoc.backends.torch_fx.o3 import kernels as rt_o3
from geoc.backends.torch_fx.o3 import so2_kernels as rt_so2

F64 = torch.float64
CUTOFF = 5.0


def _first_and_second(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """The gradient of a random projection of ``fn`` and a Hessian-vector product, at ``x``."""
    x = x.clone().requires_grad_(True)
    y = fn(x)
    weights = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(0))
    (first,) = torch.autograd.grad((y * weights).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first, x, torch.ones_like(x), allow_unused=True)
    return first, torch.zeros_like(x) if second is None else second


def _lorentz_linear(z: Tensor) -> Tensor:
    eye = torch.eye(z.shape[-1], dtype=z.dtype)
    return rt_manifold.lorentz_linear(z, eye, None, torch.zeros(1, dtype=z.dtype), 1.0)


#: Kernels of a vector with no value or no derivative at 0 (a direction), by name.
DIRECTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "unit_vector": rt.unit_vector,
    "spherical_harmonics": lambda v: rt_o3.spherical_harmonics(v, 3, True),
    "edge_rotation": rt_so2.edge_rotation,
    "sphere normalize": lambda v: rt_manifold.normalize(v, 1),
    "lorentz_linear": _lorentz_linear,
}


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("of_tiny", [0.0, 0.5, 1e-5])  # zero, and subnormal vectors
@pytest.mark.parametrize("name", DIRECTIONS)
def test_directions_have_finite_derivatives_at_zero(name: str, of_tiny: float, dtype) -> None:
    v = torch.tensor([[0.6, -0.48, 0.64]], dtype=dtype) * torch.finfo(dtype).tiny * of_tiny
    first, second = _first_and_second(DIRECTIONS[name], v)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    assert not first.any() and not second.any()  # no direction: nothing moves it


@pytest.mark.parametrize("name", DIRECTIONS)
def test_directions_have_finite_derivatives_at_every_scale(name: str) -> None:
    """First derivatives ~|v|^-1 at every normal scale, second ones ~|v|^-2 wherever that is
    a float (``|v|² >= tiny``; ``x / sqrt(|x|²)`` was NaN or inf from ``|v| < 1e-103``)."""
    scales = torch.logspace(-307, 0, 60, dtype=F64).unsqueeze(-1)
    v = torch.tensor([0.6, -0.48, 0.64], dtype=F64) * scales
    first, second = _first_and_second(DIRECTIONS[name], v)
    assert torch.isfinite(first).all()
    assert torch.isfinite(second[scales.squeeze(-1) >= 1e-150]).all()


@pytest.mark.parametrize("scale", [1e-150, 1e-20, 1.0, 1e150])
def test_unit_vector_is_v_over_its_norm_with_exact_second_derivatives(scale: float) -> None:
    v = torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    v = torch.cat([v, torch.tensor([[0.0, -2.0, 0.0], [1e-30, 0.0, 0.0]], dtype=F64)]) * scale
    exact = v / v.abs().amax(-1, keepdim=True)  # |v|² neither under- nor overflows
    exact = exact / exact.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(rt.unit_vector(v), exact, rtol=0, atol=4e-16)
    first, second = _first_and_second(rt.unit_vector, v)
    # the second derivative is ~|v|^-2: a float where |v| is above ~sqrt(tiny), 1e-154
    representable = v.abs().amax(-1) >= 1e-150
    assert torch.isfinite(first).all() and torch.isfinite(second[representable]).all()
    unit = v[:4].clone().requires_grad_(True) / scale
    assert torch.autograd.gradgradcheck(rt.unit_vector, (unit,))


def test_the_changed_directions_keep_their_values() -> None:
    """``x / safe_norm(x)``, what sphere normalize and lorentz_linear computed before."""
    x = torch.randn(32, 6, dtype=F64, generator=torch.Generator().manual_seed(2))
    before = x.unflatten(-1, (2, 3)) / rt.safe_norm(x.unflatten(-1, (2, 3)), keepdim=True)
    torch.testing.assert_close(rt_manifold.normalize(x, 2), before.flatten(-2), rtol=0, atol=4e-16)
    z = x[:, :4]
    length = torch.sigmoid(z[:, :1])
    space = length * z[:, 1:] / rt.safe_norm(z[:, 1:], keepdim=True)
    expected = rt_manifold.lorentz_from_space(space, 1.0)
    torch.testing.assert_close(_lorentz_linear(z), expected, rtol=0, atol=4e-16)


# --- the radial basis: sinc at 0, the envelope from the cutoff on ------------------------------


def _sinc_second_derivative(u: Tensor) -> Tensor:
    """``d²/du² sin(πu) / (πu)``, float64, from its series where the quotient cancels."""
    a = torch.pi * u.to(F64)
    quotient = ((2 - a * a) * torch.sin(a) - 2 * a * torch.cos(a)) / a**3
    series = -1 / 3 + a * a / 10 - a**4 / 168 + a**6 / 6480
    return torch.pi**2 * torch.where(a.abs() < 1e-2, series, quotient)


@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_sinc_has_accurate_second_derivatives_near_zero(dtype) -> None:
    u = torch.tensor([0.0, 1e-6, 1e-3, 2e-3, 0.05, 0.0999, 0.1, 0.1001, 0.5, 2.3], dtype=dtype)
    u.requires_grad_(True)
    (first,) = torch.autograd.grad(rt_o3.smooth_sinc(u).sum(), u, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), u)
    exact = _sinc_second_derivative(u)
    tolerance = 1e-13 if dtype == F64 else 1e-5
    torch.testing.assert_close(second.to(F64), exact, rtol=tolerance, atol=tolerance)
    wide = torch.linspace(-10, 10, 20001, dtype=F64)
    torch.testing.assert_close(rt_o3.smooth_sinc(wide), torch.sinc(wide), rtol=0, atol=2e-16)


@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_the_radial_basis_is_zero_and_flat_from_the_cutoff_on(dtype) -> None:
    """Masked pairs of a static layout may be far beyond the cutoff: their powers overflow,
    and ``0 * inf`` would be NaN in a derivative."""
    d = torch.tensor([[CUTOFF], [CUTOFF * 1.5], [1e7], [1e30], [float("inf")]], dtype=dtype)
    first, second = _first_and_second(lambda t: rt_o3.bessel_basis(t, 8, CUTOFF), d)
    assert not first.any() and not second.any()
    assert not rt_o3.bessel_basis(d, 8, CUTOFF).any()
    x = torch.tensor([1.0, 2.0, 1e5, 1e38], dtype=dtype)
    first, second = _first_and_second(rt_o3.polynomial_envelope, x)
    assert not first.any() and not second.any()


def test_the_radial_basis_keeps_its_values_and_second_derivatives_inside() -> None:
    d = torch.linspace(0.0, CUTOFF * 0.999, 500, dtype=F64).unsqueeze(-1)
    k = torch.arange(1, 9, dtype=F64)
    x = d / CUTOFF
    envelope = 1 - 28 * x**6 + 48 * x**7 - 21 * x**8
    before = (2 / CUTOFF) ** 0.5 * (k * torch.pi / CUTOFF) * torch.sinc(k * x) * envelope
    torch.testing.assert_close(rt_o3.bessel_basis(d, 8, CUTOFF), before, rtol=0, atol=1e-15)
    near_cutoff = torch.tensor([[0.3], [4.9], [CUTOFF - 1e-4]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: rt_o3.bessel_basis(t, 8, CUTOFF), near_cutoff)


def test_a_coincident_pair_feeds_finite_derivatives_through_the_edge_kernels() -> None:
    """A self-pair or coincident points, ``r = 0``: harmonics, the norm and the radial basis of
    a NequIP message, and eSCN's frame, have finite first and second derivatives."""
    r = torch.zeros(2, 3, dtype=F64)

    def message(r: Tensor) -> Tensor:
        sh = rt_o3.spherical_harmonics(r, 2, True)
        radial = rt_o3.bessel_basis(rt.copy_norm(r, ((1, 3),)), 8, CUTOFF)
        frame = rt_so2.edge_rotation(sh[:, 1:4]).flatten(1)
        return torch.cat([sh * radial[:, :1], radial, frame], -1)

    first, second = _first_and_second(message, r)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()


# --- SPD spectral functions: repeated eigenvalues ----------------------------------------------


def _spd(eigenvalues: list[float], seed: int = 0) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(
        torch.randn(len(eigenvalues), len(eigenvalues), generator=gen, dtype=F64)
    )
    return ((q * torch.tensor(eigenvalues, dtype=F64)) @ q.T).reshape(1, -1)


def _through_eigh(x: Tensor, n: int, fn: str, eps: float) -> Tensor:
    """The map differentiated through ``eigh`` (as before: NaN at repeated eigenvalues)."""
    values, vectors = torch.linalg.eigh(rt_manifold.symmetrise(rt_manifold.matrices(x, n)))
    tiny = torch.finfo(x.dtype).tiny
    mapped = {
        "reeig": lambda: values.clamp(min=eps),
        "log": lambda: values.clamp(min=tiny).log(),
        "exp": values.exp,
    }[fn]()
    out = (vectors * mapped.unsqueeze(-2)) @ vectors.transpose(-1, -2)
    return rt_manifold.unmatrices(rt_manifold.symmetrise(out))


SPECTRAL = ["reeig", "log", "exp"]


@pytest.mark.parametrize("fn", SPECTRAL)
@pytest.mark.parametrize(
    "eigenvalues", [[1.0, 1.0, 1.0], [2.0, 2.0, 0.5], [2.0, 2.0 + 1e-7, 0.5 + 1e-13]]
)
def test_eigen_maps_have_exact_second_derivatives_at_repeated_eigenvalues(
    fn: str, eigenvalues: list[float]
) -> None:
    x = _spd(eigenvalues).requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda t: rt_manifold.eigen_map(t, 3, fn, 0.3), (x,))


@pytest.mark.parametrize("fn", SPECTRAL)
def test_eigen_maps_keep_their_values_and_derivatives_at_distinct_eigenvalues(fn: str) -> None:
    x = _spd([3.0, 1.5, 0.7, 0.2], seed=1)
    ours = _first_and_second(lambda t: rt_manifold.eigen_map(t, 4, fn, 0.6), x)
    before = _first_and_second(lambda t: _through_eigh(t, 4, fn, 0.6), x)
    assert torch.equal(rt_manifold.eigen_map(x, 4, fn, 0.6), _through_eigh(x, 4, fn, 0.6))
    for a, b in zip(ours, before, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_eigenvalues_have_finite_second_derivatives_where_they_cross() -> None:
    first, second = _first_and_second(lambda t: rt_manifold.eigvals(t, 3), _spd([1.0, 1.0, 1.0]))
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    x = _spd([3.0, 1.5, 0.7, 0.2], seed=2).requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda t: rt_manifold.eigvals(t, 4), (x,))
