"""Group convolutions on a square torus (docs/gcnn.md; Cohen & Welling 2016): typing rules and
errors, agreement with a plain-PyTorch reference written from the paper's equations, and exact
equivariance of each layer and of ``specs/p4cnn.geo`` under every element of C(4) and D(4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paths
import pytest
import torch
import torch.nn.functional as F
from cases import cases
from helpers import assert_captures

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.domains.fields import GridMove
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.groups import Group, MatrixFactor
from geoc.pipeline import frontend
from geoc.types import FeatureType

HERE = Path(__file__).parent

pytestmark = pytest.mark.usefixtures("one_thread")

N = 8  # grid size of the small specs


def spec(body: str, out: str, group: str = "C(4)", domain: str = f"torus({N}, {N})") -> str:
    return (
        f"model M() {{\n    symmetry {group}\n    domain {domain}\n"
        f"    input x: 2 x scalar over torus\n    input r: 3 x regular over torus\n"
        f"    output y: {out} = {body}\n}}\n"
    )


def codes(text: str) -> list[str]:
    with pytest.raises(GeoError) as info:
        frontend(text)
    diag = info.value.diagnostics[0]
    assert diag.help or diag.code == "GEO302", "every diagnostic of this family has a help line"
    return info.value.codes


# --- the group on the grid ----------------------------------------------------------------------


def elements(family: str) -> np.ndarray:
    return MatrixFactor(family, 4).solver.elements


ROT = np.array([[0.0, -1.0], [1.0, 0.0]])
FLIP = np.diag([1.0, -1.0])


def decompose(m: np.ndarray) -> tuple[int, bool]:
    """``m = ROT^k @ FLIP^f``: (k, f)."""
    for f in (False, True):
        for k in range(4):
            candidate = np.linalg.matrix_power(ROT, k) @ (FLIP if f else np.eye(2))
            if np.allclose(candidate, m):
                return k, f
    raise AssertionError(m)


def turn_kernel(psi: torch.Tensor, m: np.ndarray) -> torch.Tensor:
    """``(g·ψ)(u) = ψ(g⁻¹u)`` for a centred odd kernel, by torch.rot90 and flip."""
    k, f = decompose(m)
    return torch.rot90(psi.flip(-1) if f else psi, k, dims=(-2, -1))


def turn_field(x: torch.Tensor, m: np.ndarray) -> torch.Tensor:
    """``(g·f)(p) = f(g⁻¹p mod n)``: rot90 and flip turn about the grid's centre, so a roll by
    one step brings the turn back to the origin."""
    k, f = decompose(m)
    if f:
        x = torch.roll(x.flip(-1), 1, -1)
    for _ in range(k):
        x = torch.roll(torch.rot90(x, 1, dims=(-2, -1)), 1, -2)
    return x


def permute_regular(x: torch.Tensor, m: np.ndarray, family: str) -> torch.Tensor:
    """Each copy's |G| channels times ρ(g) of ``geoc.groups`` (``e_x -> e_{gx}``)."""
    rho = torch.as_tensor(MatrixFactor(family, 4).solver.regular_matrix(m), dtype=x.dtype)
    order = len(rho)
    grouped = x.unflatten(1, (-1, order))
    return torch.einsum("yx,bcx...->bcy...", rho, grouped).flatten(1, 2)


def move(
    x: torch.Tensor, m: np.ndarray, shift: tuple[int, int], family: str | None
) -> torch.Tensor:
    x = turn_field(permute_regular(x, m, family) if family else x, m)
    return torch.roll(x, shift, (-2, -1))


@pytest.mark.parametrize("family", ["C", "D"])
def test_turns_match_the_matrices_and_the_grid_move(family):
    n = 6
    x = torch.randn(2, 3 * len(elements(family)), n, n, dtype=torch.float64)
    ftype = FeatureType.parse("3 x regular over torus")
    for m in elements(family):
        g = np.rint(m).astype(int)
        i, j = 1, 4
        q = g @ np.array([i, j]) % n  # the point (i, j) goes to g (i, j)
        assert torch.equal(turn_field(x, m)[..., q[0], q[1]], x[..., i, j])
        grid_move = GridMove(
            Domain.parse(f"torus({n}, {n})"),
            (2, 5),
            linear=g,
            regular=MatrixFactor(family, 4).solver.regular_matrix(m),
        )
        assert torch.equal(grid_move.apply(x, ftype), move(x, m, (2, 5), family))


# --- typing -------------------------------------------------------------------------------------


def test_layer_types():
    g4 = "4 x regular over torus"
    for body, out in [
        ("lift_conv(x, 4 x regular)", g4),
        ("group_conv(r, 4 x regular, kernel=5)", g4),
        ("act(group_conv(lift_conv(x, 3 x regular, kernel=1), 4 x regular), relu)", g4),
        ("group_pool(r)", "3 x scalar over torus"),
        ("group_pool(r, reduce=mean) + x[0:3]", "3 x scalar over torus"),
        ("mean(group_pool(r), over=torus)", "3 x scalar"),
        ("max(x, over=torus)", "2 x scalar"),
        ("sum(r, over=torus)", "3 x regular"),
        ("linear(r, 4 x regular)", g4),
    ]:
        text = spec(body, out).replace(" + x[0:3]", "")
        for group in ("C(4)", "D(4)", "T(2) x C(4)", "T(2) x D(4)"):
            graph = frontend(text.replace("C(4)", group))
            assert str(graph.outputs["y"].type) == out


@pytest.mark.parametrize(
    ("body", "code"),
    cases(HERE / "test_gcnn.cases", "layer_errors"),
)
def test_layer_errors(body, code):
    found = codes(spec(body, "4 x regular over torus"))
    assert found[0] == code


@pytest.mark.parametrize(
    ("head", "over"),
    [("symmetry C(4)", ""), ("symmetry D(4) x S(nodes)\n    domain set(nodes)", " over nodes")],
)
def test_group_convolutions_need_a_torus(head, over):
    text = (
        f"model M() {{\n    {head}\n    input x: 2 x scalar{over}\n"
        f"    output y: 2 x regular{over} = lift_conv(x, 2 x regular)\n}}\n"
    )
    assert codes(text) == ["GEO440"]


def test_regular_output_under_shifts_alone_has_no_group():
    text = spec("x", "2 x scalar over torus", "T(2)").replace(
        "input r: 3 x regular", "input r: 3 x scalar"
    )
    text = text.replace("= x", "= group_pool(lift_conv(x, 2 x regular))")
    assert codes(text) == ["GEO330"]  # `regular` needs a finite channel group


@pytest.mark.parametrize(
    ("group", "domain", "why"),
    cases(HERE / "test_gcnn.cases", "rotation_groups_need_a_square_2d_torus"),
)
def test_rotation_groups_need_a_square_2d_torus(group, domain, why):
    with pytest.raises(GeoError) as info:
        frontend(spec("x", "2 x scalar over torus", group, domain).replace(" over torus", ""))
    assert info.value.codes == ["GEO408"] and why in info.value.render()


def test_regular_fields_need_a_rotation_group():
    text = spec("x", "2 x scalar over torus", "T(2)")
    assert codes(text) == ["GEO310"]


def test_wallpaper_groups_parse_and_others_stay_single():
    assert str(Group.parse("T(2) x D(4)")) == "T(2) x D(4)"
    for text in ("SO(2) x C(4)", "T(3) x C(4)", "T(2) x S(4)"):
        with pytest.raises(GeoError):
            Group.parse(text)


def test_pooling_over_a_sphere_is_rejected():
    text = (
        "model M() {\n    symmetry SO(3)\n    domain sphere(nlat=8, nlon=16)\n"
        "    input x: 2 x scalar over sphere\n    output y: 2 x scalar = mean(x, over=sphere)\n}\n"
    )
    assert codes(text) == ["GEO311"]


# --- against the paper's equations --------------------------------------------------------------


def circular(x: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    r = psi.shape[-1] // 2
    return F.conv2d(F.pad(x, (r, r, r, r), mode="circular"), psi)


def lift_reference(x, psi, bias, family):
    """Eq. 10: [f ⋆ ψ](g) = Σ_y Σ_k f_k(y) ψ_k(g⁻¹ y) — one correlation per element g."""
    out = []
    for c in range(psi.shape[0]):
        for m in elements(family):
            out.append(circular(x, turn_kernel(psi[c : c + 1], m)) + bias[c])
    return torch.cat(out, 1)


def group_reference(x, psi, bias, family):
    """Eq. 11: [f ⋆ ψ](g) = Σ_h Σ_y Σ_k f_k(h, y) ψ_k(g⁻¹ h, g⁻¹ y), loops over g and h."""
    els = elements(family)
    key = lambda m: np.rint(m).astype(int).tobytes()  # noqa: E731
    index = {key(m): i for i, m in enumerate(els)}
    order = len(els)
    z = x.unflatten(1, (-1, order))  # [B, I, G, H, W]
    out = []
    for c in range(psi.shape[0]):
        for g in els:
            acc = bias[c]
            for h_i, h in enumerate(els):
                source = index[key(g.T @ h)]
                filt = turn_kernel(psi[c : c + 1, :, source], g)  # [1, I, K, K]
                acc = acc + circular(z[:, :, h_i], filt)
            out.append(acc)
    return torch.cat(out, 1)


def params_of(module) -> dict[str, torch.Tensor]:
    """``weight`` and ``bias`` of a one-layer spec."""
    return {name.rsplit(".", 1)[-1]: p.detach() for name, p in module.named_parameters()}


@pytest.mark.parametrize("family", ["C", "D"])
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_lift_conv_equals_the_paper(family, kernel):
    text = spec(f"lift_conv(x, 3 x regular, kernel={kernel})", "3 x regular over torus",
                f"{family}(4)")  # fmt: skip
    module = geoc_compile(text, seed=1, dtype=torch.float64)
    p = params_of(module)
    psi = p["weight"].reshape(3, 2, kernel, kernel)
    x = torch.randn(2, 2, N, N, dtype=torch.float64)
    r = torch.randn(2, 3 * len(elements(family)), N, N, dtype=torch.float64)
    want = lift_reference(x, psi, p["bias"], family)
    assert (module(x=x, r=r)["y"] - want).abs().max() < 1e-10


@pytest.mark.parametrize("family", ["C", "D"])
@pytest.mark.parametrize("kernel", [1, 3])
def test_group_conv_equals_the_paper(family, kernel):
    order = len(elements(family))
    text = spec(f"group_conv(r, 2 x regular, kernel={kernel})", "2 x regular over torus",
                f"{family}(4)")  # fmt: skip
    module = geoc_compile(text, seed=2, dtype=torch.float64)
    p = params_of(module)
    psi = p["weight"].reshape(2, 3, order, kernel, kernel)
    x = torch.randn(2, 2, N, N, dtype=torch.float64)
    r = torch.randn(2, 3 * order, N, N, dtype=torch.float64)
    want = group_reference(r, psi, p["bias"], family)
    assert (module(x=x, r=r)["y"] - want).abs().max() < 1e-10


def test_group_pool_and_grid_pool():
    text = spec("group_pool(r, reduce=mean)", "3 x scalar over torus")
    r = torch.randn(2, 12, N, N, dtype=torch.float64)
    x = torch.randn(2, 2, N, N, dtype=torch.float64)
    got = geoc_compile(text, dtype=torch.float64)(x=x, r=r)["y"]
    assert torch.allclose(got, r.reshape(2, 3, 4, N, N).mean(2), atol=1e-14)
    text = spec("max(group_pool(r), over=torus)", "3 x scalar")
    got = geoc_compile(text, dtype=torch.float64)(x=x, r=r)["y"]
    assert torch.allclose(got, r.reshape(2, 3, 4 * N * N).amax(2), atol=1e-14)


# --- equivariance -------------------------------------------------------------------------------

LAYERS = cases(HERE / "test_gcnn.cases", "layers")


@pytest.mark.parametrize("family", ["C", "D"])
@pytest.mark.parametrize(("body", "out"), LAYERS)
def test_layers_are_equivariant_under_every_element(family, body, out):
    module = geoc_compile(spec(body, out, f"T(2) x {family}(4)"), seed=4, dtype=torch.float64)
    order = len(elements(family))
    x = torch.randn(2, 2, N, N, dtype=torch.float64)
    r = torch.randn(2, 3 * order, N, N, dtype=torch.float64)
    y = module(x=x, r=r)["y"]
    regular_out = "regular" in out
    for m in elements(family):
        for shift in ((0, 0), (3, 5)):
            moved = module(x=move(x, m, shift, None), r=move(r, m, shift, family))["y"]
            if "over torus" in out:
                want = move(y, m, shift, family if regular_out else None)
            else:  # a global value: regular channels permute, nothing moves on the grid
                want = permute_regular(y[..., None, None], m, family)[..., 0, 0]
            assert (moved - want).abs().max() < 1e-10, (m, shift)


def test_rotations_alone_turn_about_the_origin():
    """Without `T(2)` the group fixes the grid's origin; nothing is shifted."""
    report = check(spec("lift_conv(x, 3 x regular)", "3 x regular over torus", "D(4)"), trials=4)
    assert report.passed and "reflections" in report.exact_law
    assert not any("shift" in label for label in report.elements)


@pytest.mark.parametrize("group", ["C(4)", "D(4)", "T(2) x C(4)", "T(2) x D(4)"])
def test_geoc_check_samples_the_grid_group(group):
    body = "group_conv(act(lift_conv(x, 2 x regular), relu), 2 x regular)"
    report = check(spec(body, "2 x regular over torus", group), trials=4, atol=1e-10)
    assert report.passed, report.render()
    assert report.max_error < 1e-10
    turns = {"grid rotation", "grid reflection"} if "D" in group else {"grid rotation"}
    assert {label.split(",")[0] for label in report.elements} <= turns
    assert all(("shift" in label) == ("T(2)" in group) for label in report.elements)


def test_p4cnn_spec_is_invariant_under_p4_and_p4m():
    small = {"width": 4, "hidden": 16}
    report = check("p4cnn", params=small, trials=4, atol=1e-10)
    assert report.passed and report.max_error < 1e-10
    for family in ("C", "D"):
        text = open_spec().replace("T(2) x C(4)", f"T(2) x {family}(4)")
        module = geoc_compile(text, params=small, seed=0, dtype=torch.float64)
        x = torch.randn(2, 1, 28, 28, dtype=torch.float64)
        y = module(x=x)["logits"]
        for m in elements(family):
            moved = module(x=move(x, m, (5, 11), None))["logits"]
            assert (moved - y).abs().max() < 1e-10


def open_spec() -> str:

    return (paths.SPECS / "p4cnn.geo").read_text()


def test_a_broken_filter_transform_is_caught():
    """The check is not vacuous: a bank of unrotated filters fails it."""
    from geoc.backends.torch_fx.verify import check_module

    module = geoc_compile(spec("lift_conv(x, 2 x regular)", "2 x regular over torus"))
    gather = module.gcnn.lift_k3
    gather.copy_(gather[:1].expand_as(gather).clone())
    assert not check_module(module, trials=2).passed


# --- tracing and export -------------------------------------------------------------------------


def test_p4cnn_fullgraph_capture_export_and_training():
    model = geoc_compile("p4cnn", params={"width": 4, "hidden": 16})
    inputs = {"x": torch.randn(2, 1, 28, 28)}
    assert assert_captures(model, inputs, atol=1e-5)["logits"].shape == (2, 10)
    model(**inputs)["logits"].square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
