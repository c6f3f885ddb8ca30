"""Galerkin attention on fields (``geoc.ops.galerkin``; Cao 2021, arXiv:2105.14995): typing
and its errors, agreement with the paper's equation written in plain PyTorch (float64),
equivariance under every cyclic shift, discretisation independence, derivatives, meta and fake
tensors, capture; and ``specs/galerkin_no.geo`` against its equations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_captures, run_exported

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.grid import kernels as rt_grid
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
QKV = "linear(a, 4 x scalar), linear(a, 4 x scalar), linear(a, 6 x scalar)"


def spec(body: str, grid: tuple[int, ...], group: str = "T({d})", out: str = "6") -> str:
    return (
        f"model M() {{\n    symmetry {group.format(d=len(grid))}\n"
        f"    domain torus({', '.join(map(str, grid))})\n"
        f"    input a: 2 x scalar over torus\n"
        f"    output u: {out} x scalar over torus = {body}\n}}\n"
    )


def error(text: str) -> tuple[str, str]:
    with pytest.raises(GeoError) as info:
        frontend(text)
    diag = info.value.diagnostics[0]
    assert diag.help and diag.span is not None, "a code, a span and a help line"
    return diag.code, info.value.render()


def paper(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, p: dict) -> torch.Tensor:
    """Cao (2021), eq. (5), per head on ``[n, d]`` rows: ``Q (LN(K)ᵀ LN(V)) / n``, with
    ``torch.nn.functional.layer_norm`` (eps 1e-5) and the head's scale and shift."""
    b, _, *grid = q.shape
    n = math.prod(grid)
    rows = [x.flatten(2).transpose(1, 2) for x in (q, k, v)]  # [B, n, C]
    outs = []
    for h in range(heads):
        qh, kh, vh = (x.chunk(heads, dim=-1)[h] for x in rows)
        kn = F.layer_norm(kh, kh.shape[-1:], p["norm_k.weight"][h], p["norm_k.bias"][h], 1e-5)
        vn = F.layer_norm(vh, vh.shape[-1:], p["norm_v.weight"][h], p["norm_v.bias"][h], 1e-5)
        outs.append(qh @ (kn.transpose(1, 2) @ vn) / n)
    return torch.cat(outs, dim=-1).transpose(1, 2).reshape(b, v.shape[1], *grid)


def module_and_reference(grid: tuple[int, ...], heads: int, seed: int = 0):
    module = geoc_compile(spec(f"galerkin_attention({QKV}, heads={heads})", grid), dtype=F64)
    params = dict(module.named_parameters())
    # the norms start at 1 and 0: move them so that the reference checks their use
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        for name, p in params.items():
            if "norm_" in name:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=F64))

    def reference(a: torch.Tensor) -> torch.Tensor:
        qkv = [
            torch.einsum("oc,bc...->bo...", params[f"u.{n}.weight"], a)
            + params[f"u.{n}.bias"].reshape(-1, *[1] * len(grid))
            for n in ("linear", "linear_1", "linear_2")
        ]
        norms = {n.removeprefix("u."): p for n, p in params.items() if "norm_" in n}
        return paper(*qkv, heads, norms)

    return module, reference


# --- typing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [(9,), (6, 5), (4, 5, 3)])
def test_types_on_every_torus(grid):
    graph = frontend(spec(f"galerkin_attention({QKV}, heads=2)", grid))
    assert str(graph.outputs["u"].type) == "6 x scalar over torus"


@pytest.mark.parametrize(
    ("body", "group", "code", "says"),
    [
        (f"galerkin_attention({QKV}, heads=4)", "T(2)", "GEO379", "heads"),
        ("galerkin_attention(linear(a, 4 x scalar), linear(a, 2 x scalar), a)", "T(2)",
         "GEO379", "must be equal"),
        ("galerkin_attention(a, a, restrict(a, 2 x scalar))", "trivial", "GEO222",
         "torus_over2"),
        ("galerkin_attention(lift_conv(a, 2 x regular), a, a)", "C(4)", "GEO416",
         "invariant"),
        ("galerkin_attention(a, a, a)", "S(nodes)", "GEO315", "flat grid"),
    ],
)  # fmt: skip
def test_errors(body, group, code, says):
    text = spec(body, (8, 8), group, out="2")
    if group == "S(nodes)":
        text = text.replace("torus(8, 8)", "set(nodes)").replace("over torus", "over nodes")
    found, shown = error(text)
    assert found == code and says in shown, shown


def test_a_sphere_field_is_refused_and_a_plain_grid_taken():
    """A sphere grid's points are not equal-weight quadrature nodes, and SO(3) does not
    permute them: refused (GEO315). A non-periodic grid carries the trivial group."""
    text = spec("galerkin_attention(a, a, a)", (8, 8), "SO(3)", out="2")
    text = text.replace("torus(8, 8)", "sphere(8, 16)").replace("over torus", "over sphere")
    assert error(text)[0] == "GEO315"
    text = spec("galerkin_attention(a, a, a)", (8, 8), "trivial", out="2")
    text = text.replace("torus(8, 8)", "grid(8, 8, boundary=zero)").replace("torus", "grid")
    assert str(frontend(text).outputs["u"].type) == "2 x scalar over grid"


# --- numeric reference and symmetry ---------------------------------------------------------------


@pytest.mark.parametrize(("grid", "heads"), [((9,), 1), ((6, 5), 2), ((4, 5, 3), 2)])
def test_equals_the_papers_equation(grid, heads):
    module, reference = module_and_reference(grid, heads)
    for batch in (3, 1):
        a = torch.randn(batch, 2, *grid, dtype=F64)
        got = module(a=a)["u"]
        assert got.shape == (batch, 6, *grid)
        assert torch.allclose(got, reference(a), rtol=0, atol=1e-12)


def test_commutes_with_every_cyclic_shift_and_rotation():
    module, _ = module_and_reference((6, 5), 2)
    a = torch.randn(2, 2, 6, 5, dtype=F64)
    out = module(a=a)["u"]
    for shift in [(i, j) for i in range(6) for j in range(5)]:
        moved = module(a=torch.roll(a, shift, (2, 3)))["u"]
        assert (moved - torch.roll(out, shift, (2, 3))).abs().max() < 1e-12, shift
    body = "galerkin_attention(linear(a, 4 x scalar), linear(a, 4 x scalar), a, heads=2)"
    coarse = "prolong(galerkin_attention(restrict(a, 4 x scalar), restrict(a, 4 x scalar), "
    coarse += "restrict(a, 2 x scalar), heads=2), 2 x scalar)"
    for text, group in ((body, "T(2)"), (body, "D(4)"), (coarse, "T(2, step=2)")):
        report = check(frontend(spec(text, (6, 6), group, out="2")), trials=3)
        assert report.passed, report.render()


def test_discretisation_independence():
    """The same weights on 32, 64 and 128 points per dimension of a smooth periodic field: the
    `1/n` sum is the rectangle rule, spectrally accurate on smooth periodic integrands, so the
    outputs on the common points agree to 1e-4 (32 vs 64; measured 4.5e-5) and 1e-8 (64 vs
    128; measured 3.5e-9). One head of 4 channels: a layer norm over 2 channels is a sign
    function of their difference, not smooth, and converges only algebraically."""
    module, reference = module_and_reference((32, 32), 1)

    def field(n: int) -> torch.Tensor:
        x = torch.arange(n, dtype=F64) / n * 2 * math.pi
        gx, gy = torch.meshgrid(x, x, indexing="ij")
        a0 = torch.sin(gx) * torch.cos(2 * gy) + 0.3 * torch.cos(3 * gx + gy)
        a1 = torch.exp(torch.sin(gx + gy)) - 1.0
        return torch.stack([a0, a1])[None]

    outs = {n: module(a=field(n))["u"] for n in (32, 64, 128)}
    assert (outs[64][..., ::2, ::2] - outs[32]).abs().max() < 1e-4
    assert (outs[128][..., ::2, ::2] - outs[64]).abs().max() < 1e-8
    assert (reference(field(128)) - outs[128]).abs().max() < 1e-12


def test_an_empty_batch_gives_an_empty_result():
    q, k, v = (torch.randn(0, c, 6, 5, dtype=F64) for c in (4, 4, 6))
    norms = (torch.ones(2, 2, dtype=F64), torch.zeros(2, 2, dtype=F64))
    norms += (torch.ones(2, 3, dtype=F64), torch.zeros(2, 3, dtype=F64))
    assert rt_grid.galerkin_attention(q, k, v, 2, norms, 1e-5).shape == (0, 6, 6, 5)
    module = geoc_compile("galerkin_no")  # the field `linear` around it took no empty batch
    assert module(a=torch.randn(0, 1, 64, 64))["u"].shape == (0, 1, 64, 64)


# --- derivatives, meta tensors, tracing ---------------------------------------------------------


def test_first_and_second_derivatives_are_finite():
    module, _ = module_and_reference((6, 5), 2)
    x = torch.randn(2, 2, 6, 5, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(module(a=x)["u"].square().sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.square().sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
    assert grad.abs().sum() > 0 and second.abs().sum() > 0


def test_runs_on_meta_and_fake_tensors():
    from torch._subclasses.fake_tensor import FakeTensorMode

    text = spec(f"galerkin_attention({QKV}, heads=2)", (8, 6))
    out = geoc_compile(text).to("meta")(a=torch.empty(3, 2, 8, 6, device="meta"))["u"]
    assert out.shape == (3, 6, 8, 6) and out.device.type == "meta"
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = geoc_compile(text)(a=mode.from_tensor(torch.randn(3, 2, 8, 6)))["u"]
    assert fake.shape == (3, 6, 8, 6)


def test_fullgraph_capture():
    module = geoc_compile(spec(f"galerkin_attention({QKV}, heads=2)", (8, 6)))
    assert_captures(module, {"a": torch.randn(2, 2, 8, 6)}, atol=1e-5)


# --- specs/galerkin_no.geo ----------------------------------------------------------------------

PARAMS = {"channels": 2, "width": 8, "heads": 2, "depth": 2}


def galerkin_no(p: dict[str, torch.Tensor], a: torch.Tensor) -> torch.Tensor:
    """The Galerkin Transformer operator from its equations: lift, per layer
    `z + W_o Attn(W_q z, W_k z, W_v z)` and `z + FFN(z)`, projection."""

    def lin(x: torch.Tensor, name: str) -> torch.Tensor:
        return (
            torch.einsum("oc,bchw->bohw", p[f"{name}.weight"], x) + p[f"{name}.bias"][:, None, None]
        )

    z = lin(a, "z")
    for i in range(PARAMS["depth"]):
        pre = f"layers.{i}"
        q, k, v = (lin(z, f"{pre}.h.{n}") for n in ("linear", "linear_1", "linear_2"))
        norms = {n: p[f"{pre}.h.{n}"] for n in ("norm_k.weight", "norm_k.bias")}
        norms |= {n: p[f"{pre}.h.{n}"] for n in ("norm_v.weight", "norm_v.bias")}
        z = z + lin(paper(q, k, v, PARAMS["heads"], norms), f"{pre}.z.linear")
        hidden = F.gelu(lin(z, f"{pre}.z_1.linear.act.linear"))
        z = z + lin(hidden, f"{pre}.z_1.linear")
    return lin(F.gelu(lin(z, "u.act.linear")), "u")


def test_galerkin_no_equals_its_equations_at_two_resolutions():
    module = geoc_compile("galerkin_no", PARAMS, dtype=F64)
    params = dict(module.named_parameters())
    for size in (64, 24):
        a = torch.randn(2, 2, size, size, dtype=F64)
        assert (module(a=a)["u"] - galerkin_no(params, a)).abs().max() < 1e-12


def test_galerkin_no_is_shift_equivariant():
    report = check("galerkin_no", PARAMS, trials=3)
    assert report.passed, report.render()


def test_exported_galerkin_no_equals_the_module(tmp_path):
    module = geoc_compile("galerkin_no", PARAMS, seed=1)
    folder = write_folder(module, tmp_path / "galerkin_no", "specs/galerkin_no.geo")
    inputs = {"a": torch.randn(2, 2, 16, 16)}
    loaded = run_exported(folder, inputs, tmp_path)
    assert torch.equal(loaded["u"], module(**inputs)["u"])
