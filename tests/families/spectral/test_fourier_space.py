"""Nonlinearities in Fourier space (geoc.ops.fourier): `fft`, `ifft`, `mod_act`, `mode_linear`,
`mode_filter` on the Fourier coefficients of torus fields, typed over `fourier<m>`.

Typing (accepted types, GEO337 for maps of the real and imaginary parts, GEO305, GEO312,
GEO314, GEO531), the kernels against plain torch.fft formulas (1e-12, float64), exact
equivariance under random cyclic shifts (float64), finite first and second derivatives at
zero modes, an empty batch, GEO622, and specs/fno_modact.geo against its equations."""

from __future__ import annotations

import pytest
import torch

import geoc
from geoc.backends.torch_fx.spectral import fourier_kernels as rt
from geoc.backends.torch_fx.verify import check_module
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

F64 = torch.float64
SPEC = """model F(width: int = 4) {{
    symmetry {group}
    domain torus({grid})
    input a: 2 x scalar over torus
    input g: scalar
    z = linear(a, width x scalar)
    k = {body}
    output u: 2 x scalar over torus = linear(act(k + z, gelu), 2 x scalar)
}}
"""
LAYER = "ifft(mode_linear(mod_act(mode_filter(fft(z, modes={modes})), {fn}), width x scalar))"


def spec(body: str, group: str = "T(2)", grid: str = "8, 6") -> str:
    return SPEC.format(group=group, grid=grid, body=body)


# --- typing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("modes", "axis"), [("3", "fourier3"), ("[3, 2]", "fourier3_2")])
def test_coefficients_are_typed_over_their_kept_modes(modes: str, axis: str) -> None:
    graph = frontend(spec(f"ifft(mod_act(fft(z, modes={modes}), relu))"))
    types = {n.op: str(n.out_types[0]) for n in graph.nodes}
    assert types["fft"] == f"4 x scalar over {axis}"
    assert types["mod_act"] == f"4 x scalar over {axis}"
    assert types["ifft"] == "4 x scalar over torus"


@pytest.mark.parametrize(
    ("body", "op"),
    [
        ("ifft(act(fft(z, modes=3), relu))", "act"),
        ("ifft(linear(fft(z, modes=3), 4 x scalar))", "linear"),
        ("ifft(mlp(fft(z, modes=3), [4, 4], act=silu))", "mlp"),
        ("ifft(fft(z, modes=3) * fft(z, modes=3))", "mul"),
    ],
)
def test_maps_of_the_real_and_imaginary_parts_are_rejected(body: str, op: str) -> None:
    """A shift multiplies each mode by a phase; these maps do not commute with it (GEO337,
    at the coefficients' argument, with a help naming the fix)."""
    with pytest.raises(GeoError) as err:
        frontend(spec(body))
    found = err.value.diagnostics[0]
    assert found.code == "GEO337" and f"`{op}`" in found.message
    assert found.span is not None and found.span.line == 7
    assert "mod_act" in found.help and "ifft" in found.help


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("ifft(fft(z, modes=3) + fft(z, modes=2))", "GEO305"),  # two truncations
        ("ifft(z)", "GEO312"),
        ("mod_act(z, relu)", "GEO312"),
        ("ifft(fft(z, modes=5))", "GEO313"),  # past the Nyquist limit of the 8x6 grid
        ("ifft(fft(z, modes=3) + g)", "GEO314"),  # a global value is no set of coefficients
        ("ifft(mod_act(fft(z, modes=3), nope))", "GEO302"),
    ],
)
def test_misuses_are_diagnostics(body: str, code: str) -> None:
    with pytest.raises(GeoError) as err:
        frontend(spec(body))
    assert err.value.diagnostics[0].code == code
    assert err.value.diagnostics[0].span is not None


def test_under_grid_rotations_it_is_not_built() -> None:
    with pytest.raises(GeoError) as err:
        frontend(spec(LAYER.format(modes=3, fn="relu"), group="C(4) x T(2)", grid="8, 8"))
    assert err.value.diagnostics[0].code == "GEO531"


def test_fields_of_manifold_points_are_not_transformed() -> None:
    """`fft` computes in coordinates: a field of Lorentz points is GEO321, naming the
    hyperbolic convolution or the tangent space."""
    text = spec("ifft(fft(z, modes=3))").replace(
        "input a: 2 x scalar over torus",
        "input a: 2 x scalar over torus\n    input p: lorentz(2) over torus",
    )
    text = text.replace("fft(z, modes=3)", "fft(p, modes=3)")
    with pytest.raises(GeoError) as err:
        frontend(text)
    assert err.value.diagnostics[0].code == "GEO321"
    assert "logmap0" in err.value.diagnostics[0].help


def test_isht_does_not_take_fourier_coefficients() -> None:
    with pytest.raises(GeoError) as err:
        frontend(spec("ifft(fft(z, modes=3))").replace("k + z", "isht(fft(z, modes=3)) + z"))
    assert err.value.diagnostics[0].code == "GEO312"


# --- kernels against torch.fft ------------------------------------------------------------------


def _full_kept(x: torch.Tensor, m: tuple[int, int]) -> torch.Tensor:
    """The kept coefficients from torch.fft.fft2 (the full spectrum, norm="forward")."""
    full = torch.fft.fft2(x, norm="forward")
    rows = torch.cat([torch.arange(m[0]), torch.arange(-m[0], 0)])
    return full[..., rows, :][..., : m[1]]


@pytest.mark.parametrize(("grid", "modes"), [((8, 6), (3, 3)), ((9, 7), (4, 2)), ((6, 6), (3, 4))])
def test_fft_and_ifft_equal_the_torch_fft_formulas(grid: tuple, modes: tuple) -> None:
    x = torch.randn(3, 2, *grid, dtype=F64)
    c = rt.fft(x, modes)
    assert (c - _full_kept(x, modes)).abs().max() < 1e-12
    # ifft: the real field whose spectrum is the kept modes (and their conjugates), 0 elsewhere
    full = torch.zeros(3, 2, *grid, dtype=torch.complex128)
    rows = torch.cat([torch.arange(modes[0]), torch.arange(-modes[0], 0)])
    full[..., rows, : modes[1]] = c
    want = torch.fft.irfft2(full[..., : grid[1] // 2 + 1], s=grid, norm="forward")
    assert (rt.ifft(c, None, grid) - want).abs().max() < 1e-12
    # fields band-limited to |k_j| < m_j come back exactly (the row -m_1 has no +m_1 partner)
    c[..., modes[0], :] = 0
    band = rt.ifft(c, x, grid)
    assert (rt.ifft(rt.fft(band, modes), None, grid) - band).abs().max() < 1e-12


def test_mod_act_equals_modrelu() -> None:
    c = torch.randn(2, 3, 4, 3, dtype=torch.complex128)
    bias = torch.randn(3, dtype=F64)
    got = rt.mod_rescale(c, torch.relu(rt.modulus_plus(c, bias)))
    r = c.abs()
    want = torch.polar(torch.relu(r + bias.view(1, 3, 1, 1)), c.angle())
    assert (got - want).abs().max() < 1e-12


def test_mode_maps_equal_their_formulas() -> None:
    c = torch.randn(2, 3, 4, 3, dtype=torch.complex128)
    w = torch.randn(3, 5, 2, dtype=F64)
    got = rt.mode_linear(c, w)
    want = (c.unsqueeze(2) * torch.view_as_complex(w).view(1, 3, 5, 1, 1)).sum(1)
    assert (got - want).abs().max() < 1e-12
    f = torch.randn(3, 4, 3, 2, dtype=F64)
    assert (rt.mode_filter(c, f) - c * torch.view_as_complex(f)).abs().max() < 1e-12


# --- equivariance --------------------------------------------------------------------------------


def test_a_shift_turns_each_mode_by_its_phase() -> None:
    """``fft(roll(x, t))_k = exp(-2πi k·t/n) fft(x)_k``: the action the type carries."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 6, dtype=F64, generator=gen)
    for _ in range(5):
        t = [int(v) for v in torch.randint(0, 8, (2,), generator=gen)]
        k1 = torch.tensor([0, 1, 2, -3, -2, -1], dtype=F64).view(-1, 1)
        k2 = torch.arange(3, dtype=F64).view(1, -1)
        phase = torch.polar(
            torch.ones(6, 3, dtype=F64), -2 * torch.pi * (k1 * t[0] / 8 + k2 * t[1] / 6)
        )
        moved = rt.fft(torch.roll(x, t, (2, 3)), (3, 3))
        assert (moved - phase * rt.fft(x, (3, 3))).abs().max() < 1e-12


def test_the_real_and_imaginary_relu_is_not_equivariant() -> None:
    """What GEO337 rejects, measured: ReLU of the parts (AFNO) is off by O(1) under a shift,
    modReLU is exact."""
    x = torch.randn(1, 2, 8, 6, dtype=F64)
    parts = lambda c: torch.view_as_complex(torch.relu(torch.view_as_real(c)))  # noqa: E731

    def modrelu(c: torch.Tensor) -> torch.Tensor:
        bias = torch.full((2,), -0.01, dtype=F64)
        return rt.mod_rescale(c, torch.relu(rt.modulus_plus(c, bias)))

    for f, exact in [(parts, False), (modrelu, True)]:
        y = rt.ifft(f(rt.fft(x, (3, 3))), x, (8, 6))
        moved = rt.ifft(f(rt.fft(torch.roll(x, (1, 2), (2, 3)), (3, 3))), x, (8, 6))
        error = (moved - torch.roll(y, (1, 2), (2, 3))).abs().max()
        assert (error < 1e-12) == exact, (exact, float(error))


@pytest.mark.parametrize("modes", ["3", "[3, 2]", "[4, 4]"])
def test_layers_pass_the_check_with_every_value(modes: str) -> None:
    """``geoc check`` samples random shifts with random parameters; ``every_value`` also moves
    the coefficients by their phases (the checker's action on ``fourier<m>``)."""
    module = geoc.compile(spec(LAYER.format(modes=modes, fn="gelu")), dtype=F64)
    report = check_module(module, trials=4, seed=3, every_value=True)
    assert report.passed, report.render()


# --- derivatives, empty batches, coarse grids -----------------------------------------------------


def test_mod_act_has_finite_first_and_second_derivatives_at_zero_modes() -> None:
    c = torch.zeros(1, 2, 3, 2, dtype=torch.complex128)
    c[0, 0, 1, 1] = 0.5 - 0.25j
    c[0, 1, 0, 0] = 1e-300  # below the epsilon: masked
    c.requires_grad_(True)
    bias = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    out = rt.mod_rescale(c, torch.nn.functional.gelu(rt.modulus_plus(c, bias)))
    (g_c, g_b) = torch.autograd.grad(out.abs().pow(2).sum(), (c, bias), create_graph=True)
    assert torch.isfinite(torch.view_as_real(g_c)).all() and torch.isfinite(g_b).all()
    second = torch.autograd.grad(torch.view_as_real(g_c).sum() + g_b.sum(), (c, bias))
    assert all(torch.isfinite(torch.view_as_real(s) if s.is_complex() else s).all() for s in second)


def test_module_gradients_are_finite_on_a_zero_input() -> None:
    module = geoc.compile(spec(LAYER.format(modes=3, fn="relu")), dtype=F64)
    a = torch.zeros(2, 2, 8, 6, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(
        module(a=a, g=torch.zeros(2, 1, dtype=F64))["u"].sum(), a, create_graph=True
    )
    (second,) = torch.autograd.grad(grad.sum(), a)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()


def test_an_empty_batch_gives_an_empty_result() -> None:
    module = geoc.compile("fno_modact", params={"width": 4, "modes": 4, "depth": 2})
    out = module(a=torch.randn(0, 1, 64, 64))["u"]
    assert out.shape == (0, 1, 64, 64)
    out.sum().backward()
    assert all(p.grad is not None and not p.grad.any() for p in module.parameters())


def test_a_grid_too_coarse_for_the_modes_is_geo622() -> None:
    module = geoc.compile("fno_modact", params={"width": 4, "modes": 12, "depth": 2})
    with pytest.raises(geoc.InputError) as err:
        module(a=torch.randn(1, 1, 16, 64))
    assert err.value.code == "GEO622" and err.value.input == "a"
    assert module(a=torch.randn(1, 1, 24, 22))["u"].shape == (1, 1, 24, 22)  # the smallest grid


# --- specs/fno_modact.geo -----------------------------------------------------------------------

SMALL = {"width": 4, "modes": 3, "depth": 3}


def fno_modact(p: dict[str, torch.Tensor], a: torch.Tensor, depth: int) -> torch.Tensor:
    """The spec's equations in plain PyTorch, with torch.fft (full spectrum, norm="forward")."""
    lin = lambda x, w, b: torch.einsum("bi...,oi->bo...", x, w) + b.view(1, -1, 1, 1)  # noqa: E731
    z = lin(a, p["z.weight"], p["z.bias"])
    for i in range(depth):
        last = i == depth - 1
        pre = "k" if last else f"layers.{i}.k.mod_act"
        c = _full_kept(z, (3, 3)) * torch.view_as_complex(p[f"{pre}.mode_filter.weight"])
        if not last:
            bias = p[f"layers.{i}.k.mod_act.bias"].view(1, -1, 1, 1)
            c = torch.polar(torch.relu(c.abs() + bias), c.angle()) * (c.abs() > 0)
        full = torch.zeros(*z.shape[:2], 64, 64, dtype=torch.complex128)
        full[..., torch.cat([torch.arange(3), torch.arange(-3, 0)]), :3] = c
        k = torch.fft.irfft2(full[..., :33], s=(64, 64), norm="forward")
        name = "z_1.linear" if last else f"layers.{i}.z.add.linear"
        z = k + lin(z, p[f"{name}.weight"], p[f"{name}.bias"])
        z = z if last else torch.nn.functional.gelu(z)
    h = torch.nn.functional.gelu(lin(z, p["u.act.linear.weight"], p["u.act.linear.bias"]))
    return lin(h, p["u.weight"], p["u.bias"])


def test_fno_modact_equals_its_equations() -> None:
    module = geoc.compile("fno_modact", params=SMALL, seed=2, dtype=F64)
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name, p in params.items():  # modReLU biases off zero, so that relu cuts modes
            if name.endswith("mod_act.bias"):
                p.uniform_(-0.05, 0.02)
        a = torch.randn(2, 1, 64, 64, dtype=F64)
        got = module(a=a)["u"]
        want = fno_modact(params, a, SMALL["depth"])
    assert (got - want).abs().max() < 1e-12


def test_fno_modact_is_exactly_shift_equivariant() -> None:
    report = check_module(geoc.compile("fno_modact", params=SMALL, dtype=F64), trials=3)
    assert report.passed, report.render()


def test_a_fourier_space_layer_is_the_same_at_every_resolution() -> None:
    """On a field band-limited to the kept modes, `ifft(mod_act(mode_filter(fft(z))))` gives
    the same coefficients on a 16x12 and a 32x24 grid: the coefficients are normalised per grid
    point, and a nonlinearity in Fourier space creates no frequency past the kept modes."""
    text = spec("ifft(mod_act(mode_filter(fft(z, modes=3)), gelu))", grid="16, 12")
    module = geoc.compile(text, seed=5, dtype=F64)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("mod_act.bias"):
                p.uniform_(-0.1, 0.1)
    c = torch.randn(2, 2, 6, 3, dtype=torch.complex128)
    c[..., 3, :] = 0  # |k_1| < 3: both grids hold every mode and its conjugate
    coarse, fine = rt.ifft(c, None, (16, 12)), rt.ifft(c, None, (32, 24))
    g = torch.zeros(2, 1, dtype=F64)
    with torch.no_grad():
        k_coarse = module(a=coarse, g=g)["u"]
        k_fine = module(a=fine, g=g)["u"]
    # pointwise maps on the grid commute with sampling: the fine output on the coarse points
    assert (k_fine[..., ::2, ::2] - k_coarse).abs().max() < 1e-12
