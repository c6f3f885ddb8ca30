"""Sequences in numbers: causal attention against ``torch.nn.MultiheadAttention`` with a causal
mask, RoPE against the paper's complex form, the position table, the causality law of ``geoc
check`` (exact) and the checks of that check (a forced non-causal op is caught), tracing."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import batch_of

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.attention import kernels as rt_attention
from geoc.backends.torch_fx.sequence import kernels as rt_sequence
from geoc.backends.torch_fx.verify import check, check_module
from geoc.domains import KINDS, DomainKind

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

MHA = """
model Mha(dim: int = 8, heads: int = 2) {
    symmetry trivial
    domain sequence(tokens, causal=true)
    input x: dim x scalar over tokens
    q = linear(x, dim x scalar, bias=true)
    k = linear(x, dim x scalar, bias=true)
    v = linear(x, dim x scalar, bias=true)
    a = attention(q, k, v, over=tokens, heads=heads)
    output y: dim x scalar over tokens = linear(a, dim x scalar, bias=true)
}
"""

DECODER = """
model Tiny(dim: int = 8, heads: int = 2) {
    symmetry trivial
    domain sequence(tokens, causal=true)
    input x: dim x scalar over tokens
    q = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    k = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    v = linear(x, dim x scalar)
    a = attention(q, k, v, over=tokens, heads=heads)
    h = position_embedding(x, over=tokens, max_len=64) + a
    output y: dim x scalar over tokens = mlp(layer_norm(h), [dim, dim])
}
"""


def _copy_mha(module, mha: torch.nn.MultiheadAttention, dim: int) -> None:
    w, b = mha.in_proj_weight.detach(), mha.in_proj_bias.detach()
    with torch.no_grad():
        for i, name in enumerate("qkv"):
            getattr(module, name).weight.copy_(w[i * dim : (i + 1) * dim])
            getattr(module, name).bias.copy_(b[i * dim : (i + 1) * dim])
        module.y.weight.copy_(mha.out_proj.weight)
        module.y.bias.copy_(mha.out_proj.bias)


@pytest.mark.parametrize("heads", [1, 2])
def test_causal_attention_equals_multihead_attention_with_a_causal_mask(heads: int) -> None:
    """One sequence (SDPA's is_causal), then a batch of unequal sequences, to 1e-6 float32."""
    torch.manual_seed(heads)
    dim, sizes = 8, [5, 2, 7]
    module = compile(MHA, {"heads": heads})
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    _copy_mha(module, mha, dim)
    x = torch.randn(sum(sizes), dim)
    with torch.no_grad():
        for start, n in [(0, 5)]:
            got = module(x=x[start : start + n])["y"]
            causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
            want, _ = mha(*[x[None, start : start + n]] * 3, attn_mask=causal, need_weights=False)
            torch.testing.assert_close(got, want[0], rtol=0, atol=1e-6)
        got = module(x=x, batch=batch_of(sizes), num_graphs=3)["y"]
        start = 0
        for n in sizes:
            causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
            seq = x[None, start : start + n]
            want, _ = mha(seq, seq, seq, attn_mask=causal, need_weights=False)
            torch.testing.assert_close(got[start : start + n], want[0], rtol=0, atol=1e-6)
            start += n


def _rope_reference(x: torch.Tensor, positions: torch.Tensor, heads: int, base: float):
    """Su et al. (2021), eq. 34 in complex form: the pair (x_i, x_{i+d/2}) as x_i + i x_{i+d/2},
    multiplied by exp(i p θ_i), θ_i = base^(-2i/d)."""
    d = x.shape[1] // heads
    out = torch.empty_like(x)
    for h in range(heads):
        part = x[:, h * d : (h + 1) * d]
        z = torch.complex(part[:, : d // 2], part[:, d // 2 :])
        theta = base ** (-2 * torch.arange(d // 2, dtype=x.dtype) / d)
        z = z * torch.exp(1j * positions[:, None].to(x.dtype) * theta)
        out[:, h * d : (h + 1) * d] = torch.cat([z.real, z.imag], dim=1)
    return out


@pytest.mark.parametrize("heads", [1, 2])
def test_rotary_equals_the_complex_form(heads: int) -> None:
    """On interleaved sequences: positions are ranks within each sequence, not rows."""
    batch = torch.tensor([0, 1, 1, 0, 2, 0, 1, 0])
    x = torch.randn(8, 8, dtype=F64)
    positions = rt_sequence.token_positions(x, batch, 3)
    assert positions.tolist() == [0, 0, 1, 1, 0, 2, 2, 3]
    got = rt_sequence.rotary(x, positions, heads, 10000.0)
    torch.testing.assert_close(
        got, _rope_reference(x, positions, heads, 10000.0), rtol=0, atol=1e-12
    )
    # relative: q_m · k_n depends only on m - n (the point of RoPE)
    q, k = torch.randn(1, 8, dtype=F64).expand(8, 8), torch.randn(1, 8, dtype=F64).expand(8, 8)
    rows = torch.arange(8)
    dots = rt_sequence.rotary(q, rows, 1, 100.0) * rt_sequence.rotary(k, rows - 3, 1, 100.0)
    torch.testing.assert_close(dots.sum(1), dots.sum(1)[:1].expand(8), rtol=0, atol=1e-12)


def test_position_embedding_adds_the_row_of_each_position_and_refuses_a_long_sequence() -> None:
    module = compile(DECODER, dtype=F64)
    table = module.get_parameter(_param(module, "table"))
    x, batch = torch.zeros(5, 8, dtype=F64), torch.tensor([1, 0, 1, 1, 0])
    positions = rt_sequence.token_positions(x, batch, 2)
    got = rt_sequence.position_embedding(x, positions, table)
    torch.testing.assert_close(got, table[torch.tensor([0, 0, 1, 2, 1])], rtol=0, atol=0)
    with pytest.raises(ValueError, match="GEO650"):
        module(x=torch.randn(65, 8, dtype=F64))


def _param(module: torch.nn.Module, suffix: str) -> str:
    return next(n for n, _ in module.named_parameters() if n.endswith(suffix))


def test_the_decoder_passes_the_causality_law_exactly() -> None:
    report = check(DECODER, graphs=3)
    assert report.passed, report.render()
    assert report.causality is not None and report.causality.max_change == 0.0
    text = report.render()
    assert "no permutation symmetry to check" in text and "causality" in text


def test_second_derivatives_are_finite() -> None:
    module = compile(DECODER, dtype=F64)
    x = torch.randn(6, 8, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(module(x=x)["y"].square().sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.square().sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()


# --- the checks of the check ------------------------------------------------------------------


def test_check_catches_attention_without_its_causal_mask(monkeypatch) -> None:
    """A lowering that forgot the causal mask (all to all within each sequence) fails the law."""
    monkeypatch.setattr(rt_attention, "_causal_mask", lambda n, device, same: same)
    report = check_module(compile(MHA, dtype=F64), graphs=2)
    assert not report.passed and report.causality.max_change > 1e-3
    assert "GEO651" in report.render()


def test_check_catches_a_sum_over_tokens_forced_past_the_proof(monkeypatch) -> None:
    """GEO489 refuses `h + sum(h)` statically; with the proof switched off the law catches it."""
    text = MHA.replace("linear(a, dim x scalar, bias=true)", "a + sum(a, over=tokens)")
    with pytest.raises(Exception, match="GEO489"):
        compile(text)
    rules = dataclasses.replace(KINDS[DomainKind.SEQUENCE], check_graph=lambda graph: [])
    monkeypatch.setitem(KINDS, DomainKind.SEQUENCE, rules)
    report = check_module(compile(text, dtype=F64), graphs=2)
    assert not report.passed and report.causality.max_change > 1e-3, report.render()


# --- tracing ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_decoder_compiles_fullgraph_and_exports() -> None:
    module = compile(DECODER)
    x, batch = torch.randn(9, 8), batch_of([4, 5])
    want = module(x=x, batch=batch, num_graphs=2)["y"]
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    got = compiled(x=x, batch=batch, num_graphs=2)["y"]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    exported = torch.export.export(module, (), {"x": x, "batch": batch, "num_graphs": 2})
    got = exported.module()(x=x, batch=batch, num_graphs=2)["y"]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_a_declared_break_of_the_permutations_is_checked_and_real() -> None:
    from test_sequence_typing import ENCODER

    report = check(ENCODER, graphs=3)
    assert report.passed, report.render()
    assert report.breaking is not None and report.breaking.observed
    assert report.causality is None  # not causal: no causality law


def test_a_per_sequence_global_input_passes_the_law() -> None:
    """A global input (one row per sequence) reads no token: broadcasting it stays causal."""
    text = DECODER.replace(
        "    input x: dim x scalar over tokens",
        "    input x: dim x scalar over tokens\n    input c: dim x scalar",
    ).replace("mlp(layer_norm(h), [dim, dim])", "mlp(layer_norm(h * c), [dim, dim]) + c")
    report = check(text, graphs=3)
    assert report.passed and report.causality.max_change == 0.0, report.render()
