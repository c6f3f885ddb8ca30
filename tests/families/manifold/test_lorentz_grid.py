"""HCNN on grids (Bdeir, Schwethelm & Landwehr, ICLR 2024): `lorentz_conv`, `lorentz_batch_norm`
and `lorentz_residual` against the paper's equations written in plain PyTorch (1e-10, float64),
the batch norm in train and eval modes with its running statistics after several steps; exact
shift-equivariance and batch-reorder equivariance in both modes; finite first and second
derivatives at ties; 20 stacked conv + batch-norm blocks on the hyperboloid in float32; typing,
including errors with their codes and spans."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers import assert_captures, assert_fails_at, checked_type, run_exported

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.manifold.verify import membership_error
from geoc.backends.torch_fx.verify import check, check_module, record
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
K = 0.5  # the curvature -k of every test spec: lorentz(n, k=0.5)

# The statements under test start on line 6.
SPEC = """model H(n: int = 3) {{
    symmetry {group}
    domain {domain}
    input a: n x scalar over {axis}
    h = expmap0(a, manifold=lorentz(n, k=0.5))
{body}
}}
"""
TORUS = {"group": "T(2)", "domain": "torus(5, 6)", "axis": "torus"}
ZERO_GRID = {"group": "trivial", "domain": "grid(5, 6, boundary=zero)", "axis": "grid"}
REFLECT_GRID = {**ZERO_GRID, "domain": "grid(5, 6, boundary=reflect)"}


def _spec(body: str, **where: str) -> str:
    filled = {**TORUS, **where}
    return SPEC.format(body=body.format(axis=filled["axis"]), **filled)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the paper's equations, in plain PyTorch -------------------------------------------------


def inner(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Minkowski ``<x, y>_L`` over the last dimension (keepdim)."""
    return (x[..., 1:] * y[..., 1:]).sum(-1, keepdim=True) - x[..., :1] * y[..., :1]


def ref_expmap0(v: torch.Tensor, k: float) -> torch.Tensor:
    r = v.norm(dim=-1, keepdim=True) * math.sqrt(k)
    return torch.cat([torch.cosh(r) / math.sqrt(k), torch.sinh(r) * v / r], -1)


def origin(n: int, k: float) -> torch.Tensor:
    return torch.cat([torch.full((1,), k**-0.5, dtype=F64), torch.zeros(n, dtype=F64)])


def ref_lfc(x, weight, bias, log_scale, k):  # Chen et al. (2022), Eq. 3
    z = x @ weight.T + bias
    space = log_scale.exp() * torch.sigmoid(z[..., :1]) * z[..., 1:]
    space = space / z[..., 1:].norm(dim=-1, keepdim=True)
    time = (space.pow(2).sum(-1, keepdim=True) + 1 / k).sqrt()
    return torch.cat([time, space], -1)


def ref_lorentz_conv(x, kernel, boundary, weight, bias, log_scale, k):
    """HCNN Eq. (Lorentz convolution): the direct concatenation of the neighbourhood
    ``[sqrt(Σ x_i,0² - (K-1)/k), x_1,s, ..., x_K,s]`` then the Lorentz FC layer; ``x`` is
    ``[B, H, W, n + 1]``; past a zero edge every neighbour is the origin, past a reflecting
    one the mirror image."""
    (kh, kw), (_, h, w, c) = kernel, x.shape
    padded = torch.zeros(x.shape[0], h + kh - 1, w + kw - 1, c, dtype=F64)
    padded[...] = origin(c - 1, k)
    padded[:, kh // 2 : kh // 2 + h, kw // 2 : kw // 2 + w] = x
    if boundary == "reflect":
        pads = (kw // 2, kw // 2, kh // 2, kh // 2)
        padded = torch.nn.functional.pad(x.movedim(-1, 1), pads, mode="reflect").movedim(1, -1)
    periodic = boundary == "circular"
    taps = []
    for u in range(kh):  # row-major offsets (u - r, v - r), the order of a conv's taps
        for v in range(kw):
            if periodic:
                taps.append(torch.roll(x, (kh // 2 - u, kw // 2 - v), (1, 2)))
            else:
                taps.append(padded[:, u : u + h, v : v + w])
    pts = torch.stack(taps, -2)  # [B, H, W, K, n + 1]
    time = (pts[..., 0].pow(2).sum(-1, keepdim=True) - (pts.shape[-2] - 1) / k).sqrt()
    return ref_lfc(torch.cat([time, pts[..., 1:].flatten(-2)], -1), weight, bias, log_scale, k)


def ref_centroid(points: torch.Tensor, weights: torch.Tensor, k: float) -> torch.Tensor:
    """Law et al. (2019): ``Σ w_i x_i / (sqrt(k) sqrt(|<s, s>_L|))``."""
    s = (weights.view(-1, *(1,) * (points.dim() - 1)) * points).sum(0)
    return s / (math.sqrt(k) * inner(s, s).abs().sqrt())


def ref_log(mu, x, k):  # log_μ(x) = d(μ, x) u / |u|_L, u = x + k <μ, x> μ
    a = inner(mu, x)
    u = x + k * a * mu
    dist = torch.acosh(-k * a) / math.sqrt(k)
    return dist * u / inner(u, u).sqrt()


def ref_transport(x, y, v, k):  # PT_{x→y}(v) = v + k <y, v> / (1 - k <x, y>) (x + y)
    return v + k * inner(y, v) / (1 - k * inner(x, y)) * (x + y)


def ref_exp(p, w, k):  # exp_p(w) = cosh(sqrt(k)|w|) p + sinh(sqrt(k)|w|) w / (sqrt(k)|w|)
    r = inner(w, w).sqrt() * math.sqrt(k)
    return torch.cosh(r) * p + torch.sinh(r) * w / r


def ref_distance(mu, x, k):
    return torch.acosh(-k * inner(mu, x)).squeeze(-1) / math.sqrt(k)


def ref_batch_norm(points, mean, var, gamma, beta, k, eps=1e-5):
    """HCNN Alg. 1: ``exp_β(PT_{0→β}(γ / sqrt(σ² + eps) PT_{μ→0}(log_μ x)))``."""
    o = origin(points.shape[-1] - 1, k)
    at_origin = ref_transport(mean, o, ref_log(mean, points, k), k)
    scaled = gamma / (var + eps).sqrt() * at_origin
    return ref_exp(beta, ref_transport(o, beta, scaled, k), k)


# --- lorentz_conv -----------------------------------------------------------------------------


def _state(module: torch.nn.Module, suffix: str) -> torch.Tensor:
    (value,) = [v for name, v in module.state_dict().items() if name.endswith(suffix)]
    return value


@pytest.mark.parametrize("kernel", [(3, 3), (1, 3), (5, 5)])
@pytest.mark.parametrize(
    ("where", "boundary"),
    [(TORUS, "circular"), (ZERO_GRID, "zero"), (REFLECT_GRID, "reflect")],
    ids=["torus", "zero_grid", "reflect_grid"],
)
def test_lorentz_conv_equals_the_papers_equations(
    kernel: tuple, where: dict, boundary: str
) -> None:
    conv = f"lorentz_conv(h, 4, kernel={list(kernel)})"
    body = f"    output o: lorentz(4, k=0.5) over {{axis}} = {conv}"
    module = geoc_compile(_spec(body, **where), seed=3, dtype=F64)
    with torch.no_grad():  # a length scale that keeps the outputs apart
        _state(module, "log_scale").fill_(0.3)
    a = torch.randn(2, 3, 5, 6, generator=gen(1), dtype=F64)
    got = module(a=a)["o"].movedim(1, -1)
    weight, bias, log_scale = (_state(module, s) for s in ("weight", "bias", "log_scale"))
    x = ref_expmap0(a.movedim(1, -1), K)
    want = ref_lorentz_conv(x, kernel, boundary, weight, bias, log_scale, K)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


def test_lorentz_conv_is_exactly_shift_equivariant_on_every_shift() -> None:
    body = "    output o: lorentz(4, k=0.5) over torus = lorentz_conv(h, 4, kernel=3)"
    module = geoc_compile(_spec(body), seed=2, dtype=F64)
    a = torch.randn(3, 3, 5, 6, generator=gen(4), dtype=F64)
    out = module(a=a)["o"]
    for s in range(5):
        for t in range(6):
            moved = module(a=torch.roll(a, (s, t), (2, 3)))["o"]
            # exact up to the rounding of a matmul over another memory layout
            torch.testing.assert_close(moved, torch.roll(out, (s, t), (2, 3)), atol=1e-12, rtol=0)


# --- lorentz_batch_norm -----------------------------------------------------------------------

NORM = "    output o: lorentz(3, k=0.5) over {axis} = lorentz_batch_norm(h, momentum=0.3)"


def _norm_module(seed: int = 0) -> torch.nn.Module:
    module = geoc_compile(_spec(NORM), seed=seed, dtype=F64)
    with torch.no_grad():  # a learned scale and bias point away from their start
        _state(module, "gamma").fill_(1.7)
        _state(module, "beta").copy_(torch.tensor([0.4, -0.8, 0.25], dtype=F64))
    return module


def test_lorentz_batch_norm_equals_algorithm_1_in_train_and_eval_modes() -> None:
    """Three training steps (outputs and running centroid and variance after each), then eval
    mode with the running statistics."""
    module = _norm_module()
    gamma, beta_space = _state(module, "gamma"), _state(module, "beta")
    beta = torch.cat([(beta_space.pow(2).sum() + 1 / K).sqrt()[None], beta_space])
    run_mean, run_var, eta = origin(3, K), torch.tensor(1.0, dtype=F64), 0.3
    for step in range(3):
        a = torch.randn(4, 3, 5, 6, generator=gen(10 + step), dtype=F64) * (1 + step)
        points = ref_expmap0(a.movedim(1, -1), K).reshape(-1, 4)
        mean = ref_centroid(points, torch.ones(len(points), dtype=F64), K)
        var = ref_distance(mean, points, K).pow(2).mean()
        want = ref_batch_norm(points, mean, var, gamma, beta, K)
        got = module(a=a)["o"].movedim(1, -1).reshape(-1, 4)
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
        weights = torch.tensor([1 - eta, eta], dtype=F64)
        run_mean = ref_centroid(torch.stack([run_mean, mean]), weights, K)
        run_var = (1 - eta) * run_var + eta * var
        torch.testing.assert_close(_state(module, "running_mean"), run_mean, atol=1e-12, rtol=0)
        torch.testing.assert_close(_state(module, "running_var"), run_var, atol=1e-12, rtol=0)
    module.eval()
    a = torch.randn(2, 3, 5, 6, generator=gen(20), dtype=F64)
    points = ref_expmap0(a.movedim(1, -1), K).reshape(-1, 4)
    want = ref_batch_norm(points, run_mean, run_var, gamma, beta, K)
    got = module(a=a)["o"].movedim(1, -1).reshape(-1, 4)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    torch.testing.assert_close(_state(module, "running_var"), run_var, atol=0, rtol=0)


def test_the_batch_is_centred_at_beta_with_the_scaled_variance() -> None:
    """The paper's goal: the output's centroid is β and its Fréchet variance γ² σ² / (σ² + eps)."""
    module = _norm_module()
    a = torch.randn(3, 3, 5, 6, generator=gen(5), dtype=F64)
    out = module(a=a)["o"].movedim(1, -1).reshape(-1, 4)
    beta_space = _state(module, "beta")
    mean = ref_centroid(out, torch.ones(len(out), dtype=F64), K)
    # the centroid minimises the squared Lorentzian distance, not the geodesic one: close to β
    torch.testing.assert_close(mean[1:], beta_space, atol=0.1, rtol=0)
    points = ref_expmap0(a.movedim(1, -1), K).reshape(-1, 4)
    in_mean = ref_centroid(points, torch.ones(len(points), dtype=F64), K)
    var_in = ref_distance(in_mean, points, K).pow(2).mean()
    beta = out.new_tensor([(beta_space.pow(2).sum() + 1 / K).sqrt(), *beta_space])
    var_out = ref_distance(beta, out, K).pow(2).mean()
    torch.testing.assert_close(var_out, 1.7**2 * var_in / (var_in + 1e-5), atol=1e-10, rtol=0)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_lorentz_batch_norm_is_shift_and_reorder_equivariant(training: bool) -> None:
    module = _norm_module()
    for step in range(2):  # running statistics away from their start
        module(a=torch.randn(2, 3, 5, 6, generator=gen(30 + step), dtype=F64))
    module.train(training)
    a = torch.randn(4, 3, 5, 6, generator=gen(7), dtype=F64)
    state = {n: v.clone() for n, v in module.state_dict().items()}
    out = module(a=a)["o"]
    for shift in [(1, 0), (2, 5), (4, 3)]:
        module.load_state_dict(state)
        moved = module(a=torch.roll(a, shift, (2, 3)))["o"]
        torch.testing.assert_close(moved, torch.roll(out, shift, (2, 3)), atol=1e-13, rtol=0)
    perm = torch.tensor([2, 0, 3, 1])
    module.load_state_dict(state)
    torch.testing.assert_close(module(a=a[perm])["o"], out[perm], atol=1e-13, rtol=0)


def test_an_empty_batch_in_training_leaves_the_running_statistics() -> None:
    module = _norm_module()
    before = {n: v.clone() for n, v in module.state_dict().items()}
    out = module(a=torch.zeros(0, 3, 5, 6, dtype=F64))["o"]
    assert out.shape == (0, 4, 5, 6)
    for name, value in module.state_dict().items():
        assert torch.equal(value, before[name]), name


# --- a whole HCNN block: residual, derivatives, deep stacks, check ----------------------------

BLOCK = """    c = lorentz_batch_norm(lorentz_conv(h, 4, kernel=3))
    r = lorentz_act(lorentz_residual(c, lorentz_conv(h, 4, kernel=1)), relu)
    output o: lorentz(4, k=0.5) over {axis} = r
    output g: 3 x scalar = lorentz_mlr(lorentz_centroid(r, over={axis}), 3)"""


def test_lorentz_residual_adds_the_space_parts() -> None:
    body = "    output o: lorentz(3, k=0.5) over {axis} = lorentz_residual(h, lorentz_act(h, relu))"
    module = geoc_compile(_spec(body), dtype=F64)
    a = torch.randn(2, 3, 5, 6, generator=gen(8), dtype=F64)
    x = ref_expmap0(a.movedim(1, -1), K)
    space = x[..., 1:] + torch.relu(x[..., 1:])
    want = torch.cat([(space.pow(2).sum(-1, keepdim=True) + 1 / K).sqrt(), space], -1)
    torch.testing.assert_close(module(a=a)["o"].movedim(1, -1), want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("where", [TORUS, ZERO_GRID], ids=["torus", "zero_grid"])
def test_check_passes_in_train_and_eval_modes(where: dict[str, str]) -> None:
    ir = frontend(_spec(BLOCK, **where))
    report = check(ir, trials=3)
    assert report.passed, report.render()
    assert "lorentz:" in report.render()


@pytest.mark.parametrize(
    "a",
    [
        torch.zeros(2, 3, 5, 6, dtype=F64),  # every point at the origin
        torch.tensor([0.3, -0.2, 0.5], dtype=F64).view(1, 3, 1, 1).expand(2, 3, 5, 6),  # all equal
    ],
    ids=["origin", "all_equal"],
)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_first_and_second_derivatives_are_finite_at_ties(a: torch.Tensor, training: bool) -> None:
    module = geoc_compile(_spec(BLOCK), seed=1, dtype=F64)
    module.train(training)
    a = a.clone().requires_grad_()
    params = list(module.parameters())
    out = module(a=a)
    loss = out["o"].pow(2).sum() + out["g"].sum()
    grads = torch.autograd.grad(loss, [a, *params], create_graph=True)
    assert all(torch.isfinite(g).all() for g in grads)
    second = torch.autograd.grad(sum(g.pow(2).sum() for g in grads), [a, *params])
    assert all(torch.isfinite(g).all() for g in second)


def test_first_and_second_derivatives_match_finite_differences() -> None:
    from geoc.backends.torch_fx.manifold import lorentz_grid_kernels as rtl

    x = ref_expmap0(torch.randn(2, 3, 4, 2, generator=gen(9), dtype=F64), K).requires_grad_()
    gamma = torch.tensor(1.3, dtype=F64, requires_grad=True)
    beta = torch.tensor([0.2, -0.1], dtype=F64, requires_grad=True)

    def loss(x, gamma, beta):
        out = rtl.lorentz_batch_norm(
            x, origin(2, K), torch.tensor(1.0, dtype=F64), gamma, beta, True, K, 0.1, 1e-5
        )
        return (out * torch.arange(3, dtype=F64)).sum() + out.pow(2).sum()

    assert torch.autograd.gradcheck(loss, (x, gamma, beta))
    assert torch.autograd.gradgradcheck(loss, (x, gamma, beta))


DEEP = """model Deep(n: int = 3) {
    symmetry T(2)
    domain torus(6, 6)
    input a: n x scalar over torus
    h = expmap0(a, manifold=lorentz(8, k=0.5))
    repeat 20 {
        h = lorentz_act(lorentz_batch_norm(lorentz_conv(h, 8, kernel=3)), relu)
    }
    output o: lorentz(8, k=0.5) over torus = h
}
""".replace("expmap0(a,", "expmap0(linear(a, 8 x scalar),")


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_twenty_conv_and_batch_norm_blocks_stay_on_the_hyperboloid_in_float32(
    training: bool,
) -> None:
    module = geoc_compile(DEEP, seed=1, dtype=torch.float32)
    a = torch.randn(4, 3, 6, 6, generator=gen(11)).float() * 3
    if not training:
        module(a=a)  # running statistics of one batch
        module.eval()
    values = record(module, {"a": a}).values
    ir = module.meta["geoc_ir"]
    measured = 0
    for node in ir.nodes:
        ftype = node.out_types[0]
        if ftype.has_manifold:
            error = membership_error(values[node.id], ftype, ir.group)
            assert error <= 1e-4, (node.id, error)
            measured += 1
    assert measured == 1 + 3 * 20


# --- typing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "typed"),
    [
        ("lorentz_conv(h, 6)", "lorentz(6, k=0.5) over torus"),
        ("lorentz_conv(h, 2, kernel=[5, 1], bias=false)", "lorentz(2, k=0.5) over torus"),
        ("lorentz_batch_norm(h)", "lorentz(3, k=0.5) over torus"),
        ("lorentz_batch_norm(h, momentum=1.0, eps=1e-3)", "lorentz(3, k=0.5) over torus"),
        ("lorentz_residual(h, lorentz_act(h, relu))", "lorentz(3, k=0.5) over torus"),
        ("lorentz_residual(h, lorentz_centroid(h, over=torus))", "lorentz(3, k=0.5) over torus"),
    ],
)
def test_hcnn_operators_type_on_torus_fields(expr: str, typed: str) -> None:
    text = _spec(f"    y = {expr}\n    output o: n x scalar over torus = a")
    assert checked_type(text) == typed


SET = {"group": "S(set)", "domain": "set(set)", "axis": "set"}


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        ("    y = lorentz_conv(@a, 4)", "GEO322", TORUS),
        ("    y = lorentz_conv(@concat(h, h), 4)", "GEO323", TORUS),
        ("    y = lorentz_conv(@h, 4)", "GEO315", SET),
        ("    y = @lorentz_conv(h, 4, kernel=4)", "GEO316", TORUS),
        ("    y = @lorentz_conv(h, 4, kernel=7)", "GEO316", TORUS),
        ("    y = @lorentz_conv(h, 0)", "GEO324", TORUS),
        ("    y = lorentz_batch_norm(h, momentum=@0.0)", "GEO332", TORUS),
        ("    y = lorentz_batch_norm(h, eps=@0.0)", "GEO332", TORUS),
        ("    y = lorentz_batch_norm(@h)", "GEO315", SET),
        ("    y = lorentz_batch_norm(@a)", "GEO322", TORUS),
        ("    y = lorentz_residual(h, @lorentz_conv(h, 4))", "GEO323", TORUS),
        ("    y = lorentz_residual(h, @a)", "GEO322", TORUS),
        ("    y = conv(@h, 4 x scalar, kernel=3)", "GEO321", TORUS),
    ],
)
def test_hcnn_operator_errors(body: str, code: str, where: dict[str, str]) -> None:
    text = _spec(body + "\n    output o: n x scalar over {axis} = a", **where)
    error = assert_fails_at(text, code)
    assert error.diagnostics[0].help


# --- specs/hcnn_resnet.geo ----------------------------------------------------------------------

SMALL = {"width": 4, "depth": 1}


def _resnet_reference(module: torch.nn.Module, img: torch.Tensor) -> torch.Tensor:
    """The spec in plain PyTorch from the equations above, with the module's weights: every
    batch norm with its batch's statistics (training mode)."""
    p = dict(module.named_parameters())

    def conv(x, prefix):
        w, b, ls = (p[f"{prefix}.{s}"] for s in ("weight", "bias", "log_scale"))
        return ref_lorentz_conv(x, (3, 3), "circular", w, b, ls, 1.0)

    def norm(x, prefix):
        pts = x.reshape(-1, x.shape[-1])
        mean = ref_centroid(pts, torch.ones(len(pts), dtype=F64), 1.0)
        var = ref_distance(mean, pts, 1.0).pow(2).mean()
        b = p[f"{prefix}.beta"]
        beta = torch.cat([(b.pow(2).sum() + 1).sqrt()[None], b])
        return ref_batch_norm(pts, mean, var, p[f"{prefix}.gamma"], beta, 1.0).reshape(x.shape)

    def relu(x):
        space = torch.relu(x[..., 1:])
        return torch.cat([(space.pow(2).sum(-1, keepdim=True) + 1).sqrt(), space], -1)

    names = sorted(n.removesuffix(".weight") for n in p if n.endswith("conv.weight"))
    norms = sorted(n.removesuffix(".gamma") for n in p if n.endswith(".gamma"))
    h = ref_expmap0(img.movedim(1, -1), 1.0)
    h = relu(norm(conv(h, names[0]), norms[0]))
    r = relu(norm(conv(h, names[1]), norms[1]))
    r = norm(conv(r, names[2]), norms[2])
    # the residual adds the space parts; the ReLU reads only them and recomputes the time
    h = relu(torch.cat([torch.zeros_like(r[..., :1]), r[..., 1:] + h[..., 1:]], -1))
    g = ref_centroid(h.flatten(1, 2).transpose(0, 1), torch.ones(32 * 32, dtype=F64), 1.0)
    a, z = (p[n] for n in sorted(n for n in p if n.endswith((".a", ".z"))))
    sk, zn = 1.0, z.norm(dim=-1)
    alpha = torch.cosh(sk * a) * (g[..., 1:] @ z.T) - torch.sinh(sk * a) * zn * g[..., :1]
    return zn / sk * torch.asinh(sk * alpha / zn)  # Lorentz MLR, Bdeir et al. Eq. 9


def test_hcnn_resnet_equals_its_reference() -> None:
    module = geoc_compile("hcnn_resnet", params=SMALL, seed=4, dtype=F64)
    img = torch.randn(3, 3, 32, 32, generator=gen(12), dtype=F64)
    want = _resnet_reference(module, img)
    torch.testing.assert_close(module(img=img)["logits"], want, atol=1e-10, rtol=0)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_hcnn_resnet_checks_in_both_modes(training: bool) -> None:
    module = geoc_compile("hcnn_resnet", params=SMALL, seed=1, dtype=F64)
    module(img=torch.randn(2, 3, 32, 32, generator=gen(13), dtype=F64))
    module.train(training)
    report = check_module(module, trials=2)
    assert report.passed, report.render()


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_hcnn_resnet_captures_whole_in_both_modes(training: bool) -> None:
    module = geoc_compile("hcnn_resnet", params=SMALL).train(training)
    img = torch.randn(2, 3, 32, 32, generator=gen(14))
    assert_captures(module, {"img": img}, atol=1e-5)


@pytest.mark.slow
def test_exported_hcnn_resnet_keeps_its_running_statistics(tmp_path: Path) -> None:
    model = geoc_compile("hcnn_resnet", params=SMALL, seed=2)
    img = torch.randn(2, 3, 32, 32, generator=gen(15))
    model(img=img)  # one training step: the running statistics move
    model.eval()
    folder = write_folder(model, tmp_path / "hcnn_resnet", "specs/hcnn_resnet.geo")
    assert (folder / "geoc_runtime_lorentz_grid.py").is_file()
    saved = torch.load(folder / "weights.pt", weights_only=True)
    variances = [k for k in saved if k.endswith("running_var")]
    assert len(variances) == 3 and all(
        torch.equal(saved[k], model.get_buffer(k)) for k in variances
    )
    out = run_exported(folder, {"img": img}, tmp_path)  # loads in training mode, as compiled
    assert torch.allclose(out["logits"], model.train()(img=img)["logits"], atol=1e-5)
