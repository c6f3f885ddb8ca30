"""``attention(q, k, v, heads=h, over=A)``: dense multi-head attention within each graph. Typing
and each diagnostic (code and caret), agreement with ``torch.nn.MultiheadAttention`` (weights
copied into geoc ``linear``s) with and without a key padding mask (a batch of unequal graphs),
equivariance under S(set) in float64 (batches, empty graphs), second derivatives in float64."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.attention import kernels as rt_attention
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

#: torch.nn.MultiheadAttention written with geoc linears: in-projections, the op, out-projection.
MHA = """
model Mha(dim: int = 8, heads: int = 2) {
    symmetry S(set)
    domain set(set)
    input x: dim x scalar over set
    q = linear(x, dim x scalar, bias=true)
    k = linear(x, dim x scalar, bias=true)
    v = linear(x, dim x scalar, bias=true)
    a = attention(q, k, v, over=set, heads=heads)
    output y: dim x scalar over set = linear(a, dim x scalar, bias=true)
}
"""

POINTS = """
model P(heads: int = 2) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    r = x - mean(x, over=nodes)
    s = concat(h, sqnorm(r), sqnorm(r), sqnorm(r), sqnorm(r))
    output y: 8 x scalar over nodes = attention(s, s, s, over=nodes, heads=heads)
}
"""


def test_the_result_is_typed_as_the_values() -> None:
    assert str(elaborated(MHA).outputs["y"].type) == "8 x scalar over set"
    assert str(elaborated(POINTS).outputs["y"].type) == "8 x scalar over nodes"


def _points(line: str) -> str:
    return POINTS.replace("    output y:", f"{line}\n    output y:")


ERRORS = [
    ("    z = attention(@r, s, s, over=nodes)", "GEO487"),  # a vector query
    ("    z = attention(s, s, @r, over=nodes, heads=2)", "GEO519"),  # a vector split in two
    ("    z = attention(s, s, @concat(h, r), over=nodes, heads=2)", "GEO519"),  # mixed types
    ("    z = @attention(s, s, s, over=nodes, heads=3)", "GEO379"),  # 8 channels, 3 heads
    ("    z = @attention(s, h, s, over=nodes)", "GEO379"),  # 8 query, 4 key channels
    ("    z = attention(s, s, @sum(s, over=nodes), over=nodes)", "GEO203"),  # a global value
]


@pytest.mark.parametrize(("line", "code"), ERRORS)
def test_misuses_of_attention(line: str, code: str) -> None:
    assert_fails_at(_points(line), code)


def test_attention_over_an_edge_set_attends_along_its_edges() -> None:
    """Over a graph's own edges (tests/families/attention/test_cross_attention.py for edge
    sets between two axes): the result is over the edges' destination axis."""
    text = """
model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input s: 4 x scalar over edges
    input h: 4 x scalar over nodes
    output y: 4 x scalar over nodes = attention(h, s, s, over=edges)
}
"""
    assert str(elaborated(text).outputs["y"].type) == "4 x scalar over nodes"
    wrong = text.replace("attention(h, s, s,", "attention(h, s, @sum(s, over=edges),")
    error = assert_fails_at(wrong, "GEO390")
    assert "dst" in error.diagnostics[0].help


# --- numbers ----------------------------------------------------------------------------------


def _copy_mha(module, mha: torch.nn.MultiheadAttention, dim: int) -> None:
    """MultiheadAttention's packed in-projection into the three geoc linears."""
    w, b = mha.in_proj_weight.detach(), mha.in_proj_bias.detach()
    layers = {name: getattr(module, name) for name in ("q", "k", "v", "y")}
    with torch.no_grad():
        for i, name in enumerate("qkv"):
            layers[name].weight.copy_(w[i * dim : (i + 1) * dim])
            layers[name].bias.copy_(b[i * dim : (i + 1) * dim])
        layers["y"].weight.copy_(mha.out_proj.weight)
        layers["y"].bias.copy_(mha.out_proj.bias)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_equals_torch_multihead_attention_with_a_key_padding_mask(heads: int) -> None:
    """One graph, then a batch of unequal graphs (padded for torch, with a key padding mask),
    to 1e-6 in float32."""
    torch.manual_seed(heads)
    dim, sizes = 8, [5, 2, 7]
    module = compile(MHA, {"heads": heads})
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    _copy_mha(module, mha, dim)
    x = torch.randn(sum(sizes), dim)
    single = module(x=x[:5])["y"]
    want, _ = mha(x[None, :5], x[None, :5], x[None, :5], need_weights=False)
    torch.testing.assert_close(single, want[0], rtol=0, atol=1e-6)
    padded = torch.zeros(len(sizes), max(sizes), dim)
    pad = torch.ones(len(sizes), max(sizes), dtype=torch.bool)
    starts = [0, 5, 7]
    for g, (start, n) in enumerate(zip(starts, sizes, strict=True)):
        padded[g, :n], pad[g, :n] = x[start : start + n], False
    want, _ = mha(padded, padded, padded, key_padding_mask=pad, need_weights=False)
    got = module(x=x, batch=batch_of(sizes), num_graphs=3)["y"]
    rows = torch.cat([want[g, :n] for g, n in enumerate(sizes)])
    torch.testing.assert_close(got, rows, rtol=0, atol=1e-6)


def test_fused_and_composite_forms_agree() -> None:
    gen = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(9, 6, generator=gen, dtype=F64) for _ in range(3))
    index = batch_of([4, 0, 5])
    composite = rt_attention.dense_attention(q, k, v, index, 3)
    fused = rt_attention.dense_attention(q.float(), k.float(), v.float(), index, 3)
    torch.testing.assert_close(fused.double(), composite, rtol=0, atol=1e-6)
    empty = rt_attention.dense_attention(q[:0], k[:0], v[:0], index[:0], 3)
    assert empty.shape == (0, 6)


@pytest.mark.parametrize("sizes", [None, [6, 4]])
def test_float32_training_derivatives_equal_the_composite_forms(sizes) -> None:
    """On a CPU, float32 with autograd recording runs aten's fused forward and backward, and the
    composite backward where a second derivative is asked for: both equal float64's."""
    gen = torch.Generator().manual_seed(7)
    index = None if sizes is None else batch_of(sizes)
    q, k, v = (torch.randn(10, 16, generator=gen, requires_grad=True) for _ in range(3))
    wide = [t.detach().double().requires_grad_() for t in (q, k, v)]

    def derivatives(inputs: list[torch.Tensor], create_graph: bool) -> tuple:
        out = rt_attention.dense_attention(*inputs, index, 4)
        first = torch.autograd.grad(out.pow(2).sum(), inputs, create_graph=create_graph)
        if not create_graph:
            return first, None
        second = torch.autograd.grad(first[0].sum() + first[1].pow(2).sum(), inputs)
        return first, second

    fused_first, _ = derivatives([q, k, v], create_graph=False)
    first, second = derivatives([q, k, v], create_graph=True)
    want_first, want_second = derivatives(wide, create_graph=True)
    pairs = [*zip(fused_first, want_first, strict=True), *zip(first, want_first, strict=True)]
    for got, want in pairs:
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-5)
    for got, want in zip(second, want_second, strict=True):
        torch.testing.assert_close(got.double(), want, rtol=1e-3, atol=1e-4)


def test_second_derivatives_are_finite_in_float64() -> None:
    module = compile(POINTS, dtype=F64)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(6, 3, generator=gen, dtype=F64).requires_grad_()
    h = torch.randn(6, 4, generator=gen, dtype=F64)
    (first,) = torch.autograd.grad(module(x=x, h=h)["y"].pow(2).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.pow(2).sum(), x)
    assert torch.isfinite(second).all()


# --- equivariance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_is_permutation_equivariant(graphs: int) -> None:
    report = check(MHA, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_of_invariants_of_points_is_invariant(graphs: int) -> None:
    report = check(POINTS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


# --- attention_pool (PMA with one seed) -------------------------------------------------------

POOL = """
model Pool(heads: int = 2) {
    symmetry S(set)
    domain set(set)
    input x: 6 x scalar over set
    k = linear(x, 4 x scalar)
    output y: 6 x scalar = attention_pool(k, x, over=set, heads=heads)
}
"""


def test_attention_pool_is_global_and_typed_as_the_values() -> None:
    assert str(elaborated(POOL).outputs["y"].type) == "6 x scalar"


POOL_ERRORS = [
    ("    z = attention_pool(@r, s, over=nodes)", "GEO487"),
    ("    z = attention_pool(s, @r, over=nodes, heads=2)", "GEO519"),
    ("    z = attention_pool(s, @x, over=nodes)", "GEO404"),  # an empty graph would get 0
    ("    z = @attention_pool(s, h, over=nodes, heads=3)", "GEO379"),
    ("    z = attention_pool(@sum(s, over=nodes), s, over=nodes)", "GEO203"),
]


@pytest.mark.parametrize(("line", "code"), POOL_ERRORS)
def test_misuses_of_attention_pool(line: str, code: str) -> None:
    assert_fails_at(_points(line), code)


def pool_reference(k, v, seed, batch, graphs, heads):
    """The formula graph by graph and head by head: Σ_j softmax_j(s·k_j/√d) v_j."""
    d, dv = k.shape[1] // heads, v.shape[1] // heads
    out = torch.zeros(graphs, v.shape[1], dtype=v.dtype)
    for g in range(graphs):
        rows = batch == g
        for h in range(heads):
            kh, vh = k[rows, h * d : (h + 1) * d], v[rows, h * dv : (h + 1) * dv]
            if len(kh):
                w = torch.softmax(kh @ seed[h * d : (h + 1) * d] / d**0.5, 0)
                out[g, h * dv : (h + 1) * dv] = w @ vh
    return out


@pytest.mark.parametrize("heads", [1, 2])
def test_attention_pool_equals_the_formula_with_an_empty_graph(heads: int) -> None:
    module = compile(POOL, {"heads": heads}, dtype=F64)
    gen = torch.Generator().manual_seed(heads)
    x = torch.randn(9, 6, generator=gen, dtype=F64)
    batch = batch_of([4, 0, 5])
    got = module(x=x, batch=batch, num_graphs=3)["y"]
    seed = next(p for name, p in module.named_parameters() if name.endswith("seed")).detach()
    k = torch.nn.functional.linear(x, module.k.weight, getattr(module.k, "bias", None)).detach()
    torch.testing.assert_close(
        got, pool_reference(k, x, seed, batch, 3, heads), rtol=1e-12, atol=1e-12
    )
    assert torch.equal(got[1], torch.zeros(6, dtype=F64))
    one = module(x=x[:4])["y"]
    torch.testing.assert_close(one, got[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_pool_is_invariant(graphs: int) -> None:
    report = check(POOL, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


#: Values that transform: heads over whole copies of vectors, and points (affine combinations).
MOVING = """
model Moving(heads: int = 2) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    r = x - mean(x, over=nodes)
    s = linear(concat(h, sqnorm(r)), 8 x scalar)
    w = linear(r, 4 x vector)
    output vs: 4 x vector over nodes = attention(s, s, w, over=nodes, heads=heads)
    output ps: point(3) over nodes = attention(s, s, x, over=nodes)
    output g: 4 x vector = attention_pool(s, w, over=nodes, heads=heads)
}
"""


@pytest.mark.parametrize(("graphs", "heads"), [(1, 2), (3, 2), (3, 4)])
def test_attention_over_whole_copies_of_vectors_and_over_points_is_equivariant(
    graphs: int, heads: int
) -> None:
    report = check(MOVING, {"heads": heads}, graphs=graphs, trials=6, every_value=True)
    assert report.passed, report


def test_heads_take_whole_vectors() -> None:
    """Head h of ``4 x vector`` with 2 heads is copies 2h and 2h+1: the kernel's split."""
    gen = torch.Generator().manual_seed(9)
    q = torch.randn(5, 4, generator=gen, dtype=F64)
    v = torch.randn(5, 12, generator=gen, dtype=F64)
    out = rt_attention.dense_attention(q, q, v, None, 2)
    for h in range(2):
        qh = q[:, 2 * h : 2 * h + 2]
        want = torch.softmax(qh @ qh.T / 2**0.5, -1) @ v[:, 6 * h : 6 * h + 6]
        torch.testing.assert_close(out[:, 6 * h : 6 * h + 6], want, rtol=1e-12, atol=1e-12)
