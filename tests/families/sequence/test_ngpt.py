"""``specs/ngpt.geo`` against a plain-PyTorch nGPT written from the paper's equations
(Loshchilov et al. 2024, arXiv:2410.01131, section 2) with the compiled module's weights; hidden
states on the unit sphere after 12 blocks; the causality law, exact; and the small operators
it added (``channel_scale``, ``head_normalize``): typing, numbers, second derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import assert_captures, assert_fails_at, batch_of

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.transformer import kernels as rt_transformer
from geoc.backends.torch_fx.verify import check
from geoc.backends.torch_fx.verify.params import random_parameters

pytestmark = pytest.mark.usefixtures("one_thread")
PARAMS = {"vocab": 32, "dim": 16, "heads": 2, "hidden": 32, "depth": 2}
INV_ROOT, ROOT, HEAD_DIM = 0.25, 4.0, 8.0  # the spec's defaults for dim 16, 2 heads


def _norm(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def _rope(x: torch.Tensor, heads: int) -> torch.Tensor:
    """RoPE (Su et al. 2021) in complex form, pairs (x_i, x_{i+d/2}) of each head, base 1e4."""
    n, width = x.shape
    d = width // heads
    pos = torch.arange(n, dtype=x.dtype)[:, None]
    theta = 10000.0 ** (-2 * torch.arange(d // 2, dtype=x.dtype) / d)
    parts = x.reshape(n, heads, d)
    zc = torch.complex(parts[..., : d // 2], parts[..., d // 2 :])
    zc = zc * torch.exp(1j * (pos * theta))[:, None, :]
    return torch.cat([zc.real, zc.imag], -1).reshape(n, width)


def _reference(z: torch.Tensor, p: dict[str, torch.Tensor], depth: int) -> tuple:
    """One sequence: h = Norm(E[z]); per block the attention and MLP updates of eqs. 10-11 with
    alpha = p · alpha_init / alpha_scale, s_qk, s_u, s_v (times sqrt(d)), logits times s_z."""
    heads, dim = PARAMS["heads"], PARAMS["dim"]
    dk, n = dim // heads, z.shape[0]
    h = _norm(p["h.embed.weight"][z])
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    for layer in range(depth):
        w = {k.split("ngpt_block.")[1]: v for k, v in p.items() if f"layers.{layer}." in k}
        q = _rope(h @ w["q.linear.weight"].T, heads)
        k = _rope(h @ w["k.linear.weight"].T, heads)
        v = h @ w["v.weight"].T
        sqk = (w["qs.channel_scale.scale"] / INV_ROOT).reshape(heads, dk)  # init 1, scale 1/√d
        qh = _norm(q.reshape(n, heads, dk)) * sqk  # one s_qk on both q and k
        kh = _norm(k.reshape(n, heads, dk)) * sqk
        scores = torch.einsum("ihd,jhd->hij", qh, kh) * math.sqrt(dk)  # softmax scale √d_k
        weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        att = torch.einsum("hij,jhd->ihd", weights, v.reshape(n, heads, dk)).reshape(n, dim)
        h_a = _norm(att @ w["ha.linear.weight"].T)
        alpha_a = w["h.add.channel_scale.scale"] * 0.05 / INV_ROOT
        h = _norm(h + alpha_a * (h_a - h))
        u = (h @ w["u.linear.weight"].T) * w["u.scale"]
        nu = (h @ w["nu.linear.weight"].T) * w["nu.scale"] * math.sqrt(dim)
        h_m = _norm((u * torch.nn.functional.silu(nu)) @ w["hm.linear.weight"].T)
        alpha_m = w["return_.add.channel_scale.scale"] * 0.05 / INV_ROOT
        h = _norm(h + alpha_m * (h_m - h))
    logits = (h @ p["logits.linear.weight"].T) * p["logits.scale"] / INV_ROOT
    return h, logits


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-6), (torch.float64, 1e-10)])
def test_ngpt_equals_the_papers_equations(dtype: torch.dtype, tol: float) -> None:
    """Random parameters (not the initial ones), a batch of two sequences of unequal length."""
    module = compile("ngpt", PARAMS, dtype=torch.float64)
    module = random_parameters(module, np.random.default_rng(0))
    module = module.to(dtype)
    p = {k: v.detach() for k, v in module.named_parameters()}
    sizes = [7, 4]
    z = torch.randint(0, PARAMS["vocab"], (sum(sizes),), generator=torch.Generator().manual_seed(1))
    out = module(z=z, batch=batch_of(sizes), num_graphs=2)
    start = 0
    for n in sizes:
        h, logits = _reference(z[start : start + n], p, PARAMS["depth"])
        got_h, got_logits = out["hidden_state"][start : start + n], out["logits"][start : start + n]
        torch.testing.assert_close(got_h, h, rtol=0, atol=tol)
        scale = max(1.0, float(logits.abs().max()))
        torch.testing.assert_close(got_logits, logits, rtol=0, atol=tol * scale)
        start += n


def test_hidden_states_stay_on_the_sphere_after_12_blocks() -> None:
    module = compile("ngpt", {**PARAMS, "depth": 12})
    z = torch.randint(0, PARAMS["vocab"], (40,), generator=torch.Generator().manual_seed(2))
    h = module(z=z, batch=batch_of([25, 15]), num_graphs=2)["hidden_state"]
    assert h.dtype == torch.float32
    assert float((h.detach().norm(dim=-1) - 1).abs().max()) < 1e-6


def test_ngpt_passes_geoc_check_with_the_causality_law_exact() -> None:
    report = check("ngpt", graphs=3)
    assert report.passed, report.render()
    assert report.causality is not None and report.causality.max_change == 0.0
    assert all(row.passed for row in report.membership)


# --- channel_scale and head_normalize -----------------------------------------------------------

SCALES = """
model S(heads: int = 2) {
    symmetry O(3)
    domain set(set)
    input h: 8 x scalar over set
    input r: vector over set
    y = channel_scale(head_normalize(h, heads=heads), init=0.5, base=2.0)
    output y: 8 x scalar over set = y
}
"""

ERRORS = [
    ("channel_scale(head_normalize(h, heads=heads), init=0.5, base=@-2.0)", "GEO492"),
    ("channel_scale(head_normalize(h, heads=@3), init=0.5, base=2.0)", "GEO379"),
    ("channel_scale(@r, init=0.5, base=2.0)", "GEO491"),
    ("head_normalize(@r)", "GEO491"),
    ("channel_scale(h, init=0.5, base=2.0, power=@3)", "GEO492"),
]


@pytest.mark.parametrize(("call", "code"), ERRORS)
def test_misuses_of_the_ngpt_operators(call: str, code: str) -> None:
    text = SCALES.replace("channel_scale(head_normalize(h, heads=heads), init=0.5, base=2.0)", call)
    if "@r" in call:
        text = text.replace("output y: 8 x scalar", "output y: vector")
    assert_fails_at(text, code)


def test_channel_scale_and_head_normalize_numbers_and_invariance() -> None:
    """Scaled parametrisation: p starts at base, the scale at init; per-head unit norms; the
    set's permutations and O(3) in float64 (random parameters, batches)."""
    module = compile(SCALES, dtype=torch.float64)
    p = dict(module.named_parameters())
    (name,) = p
    assert torch.equal(p[name], torch.full((8,), 2.0, dtype=torch.float64))
    h = torch.randn(5, 8, dtype=torch.float64)
    got = module(h=h, r=torch.randn(5, 3, dtype=torch.float64))["y"]
    want = torch.cat([_norm(h[:, :4]), _norm(h[:, 4:])], 1) * 0.5
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)
    assert check(SCALES, graphs=3).passed
    squared = compile(SCALES.replace("base=2.0)", "base=2.0, power=2)"), dtype=torch.float64)
    got = squared(h=h, r=torch.randn(5, 3, dtype=torch.float64))["y"]
    torch.testing.assert_close(got, want * 0.5, rtol=0, atol=1e-15)  # (0.5)^2


def test_head_normalize_has_finite_second_derivatives_at_zero() -> None:
    x = torch.zeros(2, 8, dtype=torch.float64, requires_grad=True)
    y = rt_transformer.head_normalize(x * torch.tensor([1.0, 0.0]).repeat_interleave(4)[None], 2)
    (grad,) = torch.autograd.grad(y.square().sum() + y.sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()


@pytest.mark.slow
def test_ngpt_compiles_fullgraph_and_exports() -> None:
    """`torch.compile(fullgraph=True)` (aot_eager) and `torch.export` give the eager outputs."""
    module = compile("ngpt", PARAMS)
    z = torch.randint(0, 32, (17,), generator=torch.Generator().manual_seed(2))
    assert_captures(module, {"z": z, "batch": batch_of([10, 7]), "num_graphs": 2}, atol=1e-5)
