"""``spectral_conv`` variants for stable autoregressive neural operators (McCabe et al. 2023,
arXiv:2306.10619): depthwise filters, the disc cut-off and bounded filters. Typing (with error
codes and spans), agreement with a plain DFT written from the equations, exact equivariance
under every cyclic shift, finite derivatives, meta and fake tensors, tracing."""

from __future__ import annotations

import itertools

import pytest
import torch
from fno_variants_reference import bounded_reference, disc_reference, reference
from helpers import assert_captures, assert_fails_at, checked_type, elaborated

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.spectral import fno_filter_kernels as rt_filter
from geoc.backends.torch_fx.spectral import kernels as rt
from geoc.diagnostics import GeoError
from geoc.pipeline import check_equivariance

pytestmark = pytest.mark.usefixtures("one_thread")

DEPTHWISE = "spectral_conv(u, 3 x scalar, modes=3, mixing=depthwise, cutoff=disc, bound=0.5)"
FULL = "spectral_conv(u, 3 x scalar, modes=3, cutoff=disc, bound=2.0)"


def spec(body: str, grid: tuple[int, ...] = (8, 6), group: str = "T(2)", out: int = 3) -> str:
    return (
        f"model L() {{\n    symmetry {group}\n    domain torus({', '.join(map(str, grid))})\n"
        f"    input u: 3 x scalar over torus\n"
        f"    output v: {out} x scalar over torus = {body}\n}}\n"
    )


def typed_and_checked(text: str) -> None:
    found = check_equivariance(elaborated(text))
    if found:
        raise GeoError(found[0])


def fails(text: str, code: str) -> GeoError:
    err = assert_fails_at(text, code, run=typed_and_checked)
    assert err.diagnostics[0].help, "every diagnostic has a help line"
    return err


# --- typing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    ["mixing=depthwise", "cutoff=disc", "bound=1.5", "mixing=full, cutoff=box, bound=1"],
)
def test_variants_type_as_the_plain_layer(options):
    body = f"spectral_conv(u, 3 x scalar, modes=3, {options})"
    assert checked_type(spec(body), "v") == "3 x scalar over torus"


def test_depthwise_keeps_the_channels_geo334():
    err = fails(spec("@spectral_conv(u, 4 x scalar, modes=3, mixing=depthwise)", out=4), "GEO334")
    assert "keeps the channels" in err.render()


def test_disc_needs_one_radius_geo335():
    fails(spec("@spectral_conv(u, 3 x scalar, modes=[3, 2], cutoff=disc)"), "GEO335")


@pytest.mark.parametrize("bound", ["-1.0", "-0.001"])
def test_bad_bounds_are_geo336(bound):
    fails(spec(f"@spectral_conv(u, 3 x scalar, modes=3, bound={bound})"), "GEO336")


def test_variants_under_grid_rotations_are_geo531():
    text = spec("@spectral_conv(u, 3 x scalar, modes=3, cutoff=disc)", (8, 8), "C(4) x T(2)")
    err = fails(text, "GEO531")
    assert "T(d)" in err.render()


def test_unknown_mixing_is_refused():
    with pytest.raises(GeoError):
        typed_and_checked(spec("spectral_conv(u, 3 x scalar, modes=3, mixing=grouped)"))


# --- the layer against a plain DFT written from the equations -----------------------------------


CASES = [((12,), (4,)), ((8, 6), (3, 3)), ((9, 7), (4, 4)), ((6, 8, 6), (2, 3, 3))]


@pytest.mark.parametrize(("grid", "modes"), CASES)
@pytest.mark.parametrize("depthwise", [True, False])
@pytest.mark.parametrize("bound", [0.0, 0.7])
def test_kernels_equal_the_equations(grid, modes, depthwise, bound):
    torch.manual_seed(len(grid) + int(depthwise))
    x = torch.randn(2, 3, *grid, dtype=torch.float64)
    kept = (*(2 * m for m in modes[:-1]), modes[-1])
    shape = (3, *kept, 2) if depthwise else (3, 4, *kept, 2)
    weight = torch.randn(shape, dtype=torch.float64)
    disc = len(set(modes)) == 1
    mask = rt_filter.disc_mask(modes) if disc else None
    applied = rt_filter.filtered(weight, mask, bound, 0 if depthwise else 2)
    got = (
        rt_filter.fno_conv_depthwise(x, applied, modes)
        if depthwise
        else rt.fno_conv(x, applied, modes)
    )
    w = torch.view_as_complex(weight).flatten(-len(modes))
    if bound:
        w = bounded_reference(w, bound, depthwise)
    if disc:
        w = w * disc_reference(modes)
    want = reference(x, w, modes, depthwise)
    assert torch.allclose(got, want, rtol=0, atol=1e-12), (got - want).abs().max()


def test_depthwise_is_full_mixing_with_a_diagonal_matrix():
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    weight = torch.randn(3, 6, 3, 2, dtype=torch.float64)
    diagonal = torch.zeros(3, 3, 6, 3, 2, dtype=torch.float64)
    diagonal[range(3), range(3)] = weight
    got = rt_filter.fno_conv_depthwise(x, weight, (3, 3))
    assert torch.allclose(got, rt.fno_conv(x, diagonal, (3, 3)), rtol=0, atol=1e-12)


def test_disc_is_the_modes_inside_the_radius():
    mask = rt_filter.disc_mask((3, 3))
    assert mask.shape == (6, 3) and mask.sum() == 15  # |k| < 3, k_2 = 0, 1, 2: k_1 = -2..2 each
    assert torch.equal(mask, disc_reference((3, 3)).view(6, 3))


def test_bounded_filters_stay_below_the_bound():
    weight = torch.randn(4, 5, 6, 3, 2, dtype=torch.float64) * 100
    norms = rt_filter.bounded(weight, 0.5, 2).pow(2).sum(dim=(0, 1, -1)).sqrt()
    assert norms.max() <= 0.5 * (1 + 1e-12) and norms.min() > 0.49  # saturated, not past B
    small = rt_filter.bounded(weight * 1e-9, 0.5, 0)
    assert torch.allclose(small, 0.5 * weight * 1e-9, rtol=1e-12, atol=0)


def test_bound_has_finite_derivatives_at_zero():
    weight = torch.zeros(3, 6, 3, 2, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(
        rt_filter.bounded(weight, 2.0, 0).sum(), weight, create_graph=True
    )
    (second,) = torch.autograd.grad(grad.pow(2).sum(), weight)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
    assert torch.allclose(grad, torch.full_like(grad, 2.0))


# --- compiled: every cyclic shift, derivatives, meta, fake, trace ------------------------------


def compiled(dtype=torch.float64, grid=(8, 6)):
    return geoc_compile(spec(f"{DEPTHWISE} + {FULL}", grid), seed=2, dtype=dtype)


def test_exact_under_every_cyclic_shift():
    module = compiled()
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    y = module(u=x)["v"]
    assert y.abs().max() > 1e-3
    for s1, s2 in itertools.product(range(8), range(6)):
        shifted = module(u=torch.roll(x, (s1, s2), dims=(2, 3)))["v"]
        assert (shifted - torch.roll(y, (s1, s2), dims=(2, 3))).abs().max() < 1e-12


def test_compiled_layer_equals_the_equations():
    module = compiled()
    params = dict(module.named_parameters())
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    disc = disc_reference((3, 3))
    depth = torch.view_as_complex(params["v.spectral_conv.weight"].detach()).flatten(-2)
    full = torch.view_as_complex(params["v.spectral_conv_1.weight"].detach()).flatten(-2)
    want = reference(x, bounded_reference(depth, 0.5, True) * disc, (3, 3), True)
    want = want + reference(x, bounded_reference(full, 2.0, False) * disc, (3, 3), False)
    assert torch.allclose(module(u=x)["v"], want, rtol=0, atol=1e-12)


def test_first_and_second_derivatives_are_finite():
    module = compiled()
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(module(u=x)["v"].pow(2).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all() and second.abs().sum() > 0


def test_runs_on_meta_and_fake_tensors():
    from torch._subclasses.fake_tensor import FakeTensorMode

    out = compiled(torch.float32).to("meta")(u=torch.empty(3, 3, 8, 6, device="meta"))["v"]
    assert out.shape == (3, 3, 8, 6) and out.device.type == "meta"
    module = compiled(torch.float32)
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = module(u=mode.from_tensor(torch.randn(3, 3, 8, 6)))["v"]
    assert fake.shape == (3, 3, 8, 6)


def test_runs_on_a_finer_grid_and_traces():
    module = compiled(torch.float32)
    assert module(u=torch.randn(1, 3, 16, 12))["v"].shape == (1, 3, 16, 12)
    assert_captures(module, {"u": torch.randn(2, 3, 8, 6)}, atol=1e-5)


@pytest.mark.parametrize("name", ["fno", "fno_stable"])
def test_an_empty_batch_gives_an_empty_result(name: str) -> None:
    """No sample, no output row, and every weight still gets a (zero) gradient: MKL's FFT
    refuses an empty batch, so the kernels answer it before transforming."""
    module = geoc_compile(name)
    out = module(a=torch.randn(0, 1, 64, 64))["u"]
    assert out.shape == (0, 1, 64, 64)
    out.sum().backward()
    assert all(p.grad is not None and not p.grad.any() for p in module.parameters())
