"""``attention(q, k, v, over=E, heads=h)`` over an edge set between two axes (cross-attention):
typing and each diagnostic (code and caret), agreement with ``torch.nn.MultiheadAttention``
(queries from one set, keys and values from another, weights copied, 1e-6 float32, a key
padding mask for a batch), with a plain segment-softmax reference on knn edges (1e-12 float64)
and with the same heads written by hand through ``softmax(s, over=E, into=B)`` and ``sum``;
equivariance under independent permutations of both axes and E(3) in float64 (batches, empty
graphs); finite first and second derivatives."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_captures, assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.attention import cross_kernels as rt_cross
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

#: torch.nn.MultiheadAttention with queries from `queries`, keys and values from `points`.
CROSS = """
model Cross(heads: int = 2) {
    symmetry E(3) x S(points) x S(queries)
    domain pointcloud(points, dim=3)
    domain pointcloud(queries, dim=3)
    domain edges(E, src=points, dst=queries, rule=RULE)
    input f: 8 x scalar over points
    input x: point(3) over points
    input c: point(3) over queries
    input g: 8 x scalar over queries
    q = linear(g, 8 x scalar, bias=true)
    k = linear(f, 8 x scalar, bias=true)
    v = linear(f, 8 x scalar, bias=true)
    a = attention(q, k, v, over=E, heads=heads)
    output y: 8 x scalar over queries = linear(a, 8 x scalar, bias=true)
}
"""

#: Values that transform (whole vectors per head) and per-edge queries from relative positions.
MOVING = """
model Moving(heads: int = 2) {
    symmetry E(3) x S(points) x S(queries)
    domain pointcloud(points, dim=3)
    domain pointcloud(queries, dim=3)
    domain edges(E, src=points, dst=queries, rule=RULE)
    input f: 4 x scalar over points
    input x: point(3) over points
    input c: point(3) over queries
    r = x[src(E)] - c[dst(E)]
    s = mlp(concat(f[src(E)], sqnorm(r)), [8, 4], act=silu)
    k = linear(f, 4 x scalar)
    w = linear(r, 4 x vector)
    output vs: 4 x vector over queries = attention(s, k, w, over=E, heads=heads)
    output one: vector over queries = attention(s, k, r, over=E)
}
"""


def _rule(text: str, rule: str) -> str:
    return text.replace("rule=RULE", f"rule={rule}")


def test_the_result_is_over_the_destination_axis() -> None:
    assert str(elaborated(_rule(CROSS, "full")).outputs["y"].type) == "8 x scalar over queries"
    moving = elaborated(_rule(MOVING, "knn(3)"))
    assert str(moving.outputs["vs"].type) == "4 x vector over queries"


def _moving(line: str) -> str:
    return _rule(MOVING, "full").replace("    output vs:", f"{line}\n    output vs:")


ERRORS = [
    ("    z = attention(@k, k, w, over=E)", "GEO390"),  # queries over the src axis
    ("    z = attention(s, @linear(c, 4 x scalar), w, over=E)", "GEO390"),  # keys over dst
    ("    z = attention(s, k, @sum(w, over=E), over=E)", "GEO390"),  # a global value
    ("    z = attention(@r, k, w, over=E)", "GEO487"),  # a vector query
    ("    z = attention(s, k, @r, over=E, heads=2)", "GEO519"),  # one vector in two heads
    ("    z = @attention(s, k, w, over=E, heads=3)", "GEO379"),  # 4 channels, 3 heads
    ("    z = attention(s, k, @x, over=E)", "GEO404"),  # a query without edges would get 0
]


@pytest.mark.parametrize(("line", "code"), ERRORS)
def test_misuses_of_cross_attention(line: str, code: str) -> None:
    assert_fails_at(_moving(line), code)


# --- numbers ----------------------------------------------------------------------------------


def _copy_mha(module, mha: torch.nn.MultiheadAttention, dim: int) -> None:
    w, b = mha.in_proj_weight.detach(), mha.in_proj_bias.detach()
    with torch.no_grad():
        for i, name in enumerate("qkv"):
            getattr(module, name).weight.copy_(w[i * dim : (i + 1) * dim])
            getattr(module, name).bias.copy_(b[i * dim : (i + 1) * dim])
        module.y.weight.copy_(mha.out_proj.weight)
        module.y.bias.copy_(mha.out_proj.bias)


def _padded(x: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of graphs of ``sizes`` as ``[graphs, max, C]`` and the padding mask."""
    out = torch.zeros(len(sizes), max(sizes), x.shape[1])
    pad = torch.ones(len(sizes), max(sizes), dtype=torch.bool)
    start = 0
    for g, n in enumerate(sizes):
        out[g, :n], pad[g, :n] = x[start : start + n], False
        start += n
    return out, pad


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_full_cross_attention_equals_torch_multihead_attention(heads: int) -> None:
    """Queries from one set, keys and values from another: one graph, then a batch of graphs
    of unequal sizes on each axis (padded for torch, a key padding mask), 1e-6 float32."""
    torch.manual_seed(heads)
    dim, points, queries = 8, [5, 2, 7], [3, 4, 1]
    module = compile(_rule(CROSS, "full"), {"heads": heads})
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    _copy_mha(module, mha, dim)
    f, x = torch.randn(sum(points), dim), torch.randn(sum(points), 3)
    g, c = torch.randn(sum(queries), dim), torch.randn(sum(queries), 3)
    one = module(f=f[:5], x=x[:5], g=g[:3], c=c[:3])["y"]
    want, _ = mha(g[None, :3], f[None, :5], f[None, :5], need_weights=False)
    torch.testing.assert_close(one, want[0], rtol=0, atol=1e-6)
    keys, pad = _padded(f, points)
    rows, _ = _padded(g, queries)
    want, _ = mha(rows, keys, keys, key_padding_mask=pad, need_weights=False)
    batch = {"batch": batch_of(points), "batch_queries": batch_of(queries), "num_graphs": 3}
    got = module(f=f, x=x, g=g, c=c, **batch)["y"]
    torch.testing.assert_close(got, torch.cat([want[i, :n] for i, n in enumerate(queries)]),
                               rtol=0, atol=1e-6)  # fmt: skip


def _knn_pairs(x, c, bx, bc, k):
    return [
        (s, d)
        for d in range(c.shape[0])
        for s in sorted(
            (s for s in range(x.shape[0]) if bx[s] == bc[d]),
            key=lambda s: float((x[s] - c[d]).norm()),
        )[:k]
    ]


def reference(q, k, v, pairs, size, heads):
    """Plain segment softmax, destination by destination and head by head."""
    d, dv = q.shape[1] // heads, v.shape[1] // heads
    out = torch.zeros(size, v.shape[1], dtype=v.dtype)
    for b in range(size):
        srcs = [s for s, t in pairs if t == b]
        for h in range(heads):
            if srcs:
                kh, vh = k[srcs, h * d : (h + 1) * d], v[srcs, h * dv : (h + 1) * dv]
                w = torch.softmax(kh @ q[b, h * d : (h + 1) * d] / d**0.5, 0)
                out[b, h * dv : (h + 1) * dv] = w @ vh
    return out


@pytest.mark.parametrize("heads", [1, 2])
def test_knn_cross_attention_equals_a_plain_segment_softmax(heads: int) -> None:
    """knn(3) edges (a graph without points: its queries get 0), 1e-12 float64."""
    module = compile(_rule(CROSS, "knn(3)"), {"heads": heads}, dtype=F64)
    gen = torch.Generator().manual_seed(heads)
    points, queries = [5, 0, 4], [2, 3, 3]
    f, x = (torch.randn(9, n, generator=gen, dtype=F64) for n in (8, 3))
    g, c = (torch.randn(8, n, generator=gen, dtype=F64) for n in (8, 3))
    bx, bc = batch_of(points), batch_of(queries)
    got = module(f=f, x=x, g=g, c=c, batch=bx, batch_queries=bc, num_graphs=3)["y"]
    lin = {n: getattr(module, n) for n in "qkvy"}
    q, k, v = (torch.nn.functional.linear(a, lin[n].weight, lin[n].bias) for n, a in
               (("q", g), ("k", f), ("v", f)))  # fmt: skip
    att = reference(q, k, v, _knn_pairs(x, c, bx, bc, 3), 8, heads)
    want = torch.nn.functional.linear(att, lin["y"].weight, lin["y"].bias).detach()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got[2:5], lin["y"].bias.detach().expand(3, 8), rtol=0, atol=0)


def test_the_fused_and_edge_forms_agree_on_full_edges() -> None:
    """Full pairs per graph, with empty graphs on either axis, the fused form (float32 and
    float64) and the segment-softmax form over the explicit pair list agree."""
    gen = torch.Generator().manual_seed(3)
    bq, bk = batch_of([2, 3, 0, 2]), batch_of([3, 0, 4, 2])
    q, k = (torch.randn(len(b), 6, generator=gen, dtype=F64) for b in (bq, bk))
    v = torch.randn(len(bk), 9, generator=gen, dtype=F64)
    src, dst = torch.nonzero(bk.unsqueeze(0) == bq.unsqueeze(1), as_tuple=True)[::-1]
    edges = (src, dst, None)
    want = rt_cross.edge_attention(q, k, v, edges, len(bq), 3, (True, True, True))
    got = rt_cross.full_cross_attention(q, k, v, bq, bk, 3)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    fused = rt_cross.full_cross_attention(q.float(), k.float(), v.float(), bq, bk, 3)
    torch.testing.assert_close(fused.double(), want, rtol=0, atol=1e-6)
    assert torch.equal(got[2:5], torch.zeros(3, 9, dtype=F64))  # graph 1 has no key
    nothing = rt_cross.full_cross_attention(q.float(), k[:0].float(), v[:0].float(), None, None, 3)
    assert torch.equal(nothing, torch.zeros(len(bq), 9))


#: The same two heads written by hand: per-edge scores from gathered queries and keys, one
#: `softmax(s, over=E, into=queries)` per head, weighted values summed into the queries; and
#: both heads at once through `head_scale`.
BY_HAND = """
model ByHand() {
    symmetry E(3) x S(points) x S(queries)
    domain pointcloud(points, dim=3)
    domain pointcloud(queries, dim=3)
    domain edges(E, src=points, dst=queries, rule=knn(3))
    input f: 8 x scalar over points
    input x: point(3) over points
    input c: point(3) over queries
    input g: 8 x scalar over queries
    q1 = linear(g, 4 x scalar)
    q2 = linear(g, 4 x scalar)
    k1 = linear(f, 4 x scalar)
    k2 = linear(f, 4 x scalar)
    v1 = linear(f, 3 x scalar)
    v2 = linear(f, 3 x scalar)
    s1 = linear(dot(q1[dst(E)], k1[src(E)]), scalar)
    s2 = linear(dot(q2[dst(E)], k2[src(E)]), scalar)
    a1 = softmax(s1, over=E, into=queries)
    a2 = softmax(s2, over=E, into=queries)
    o1 = sum(a1 * v1[src(E)], over=E, into=queries)
    o2 = sum(a2 * v2[src(E)], over=E, into=queries)
    output y: 6 x scalar over queries = concat(o1, o2)
    z = attention(concat(q1, q2), concat(k1, k2), concat(v1, v2), over=E, heads=2)
    output z: 6 x scalar over queries = z
    a = softmax(concat(s1, s2), over=E, into=queries)
    v6 = linear(f, 6 x scalar)
    w = sum(head_scale(a, v6[src(E)]), over=E, into=queries)
    output w: 6 x scalar over queries = w
}
"""


def test_the_operator_equals_its_heads_written_with_softmax_and_sum() -> None:
    """Per head, the sparse form types and, with the score's `linear` set to 1/√d, equals the
    operator (1e-12 float64, a batch with a graph without points)."""
    assert str(elaborated(BY_HAND).outputs["y"].type) == "6 x scalar over queries"
    module = compile(BY_HAND, dtype=F64)
    scale = [module.s1, module.s2]  # the score's sum over a head's 4 channels, over √4
    with torch.no_grad():
        for layer in scale:
            layer.weight.fill_(0.5)  # 1/√4
            if getattr(layer, "bias", None) is not None:
                layer.bias.zero_()
        for h, part in enumerate((module.v1, module.v2)):  # head_scale's v: v1 and v2 stacked
            module.v6.weight[3 * h : 3 * h + 3] = part.weight
            module.v6.bias[3 * h : 3 * h + 3] = part.bias
    gen = torch.Generator().manual_seed(5)
    f, x = (torch.randn(9, n, generator=gen, dtype=F64) for n in (8, 3))
    g, c = (torch.randn(8, n, generator=gen, dtype=F64) for n in (8, 3))
    batch = {"batch": batch_of([5, 0, 4]), "batch_queries": batch_of([2, 3, 3]), "num_graphs": 3}
    out = module(f=f, x=x, g=g, c=c, **batch)
    torch.testing.assert_close(out["y"], out["z"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out["w"], out["z"], rtol=1e-12, atol=1e-12)


# --- equivariance and derivatives ---------------------------------------------------------------


@pytest.mark.parametrize("rule", ["full", "knn(3)", "radius(1.5)", "ball(2.0, 2)"])
@pytest.mark.parametrize("graphs", [1, 3])
def test_cross_attention_is_equivariant(rule: str, graphs: int) -> None:
    """Independent permutations of both axes, E(3) on the positions, whole vectors per head."""
    for text in (CROSS, MOVING):
        report = check(_rule(text, rule), graphs=graphs, trials=4, every_value=True, seed=graphs)
        assert report.passed, report


def test_first_and_second_derivatives_are_finite_with_an_empty_graph() -> None:
    """float64 (the composite form) and float32 training on a CPU (the fused kernel, whose
    backward must not see a fully masked row: the query of a graph without points)."""
    text = _rule(MOVING, "full")
    for dtype in (F64, torch.float32):
        module = compile(text, dtype=dtype)
        gen = torch.Generator().manual_seed(8)
        f = torch.randn(6, 4, generator=gen, dtype=dtype)
        x = torch.randn(6, 3, generator=gen, dtype=dtype).requires_grad_()
        c = torch.randn(5, 3, generator=gen, dtype=dtype).requires_grad_()
        batch = {"batch": batch_of([6, 0]), "batch_queries": batch_of([3, 2]), "num_graphs": 2}
        out = module(f=f, x=x, c=c, **batch)
        assert torch.equal(out["vs"][3:], torch.zeros(2, 12, dtype=dtype))
        first = torch.autograd.grad(out["vs"].pow(2).sum(), (x, c), create_graph=True)
        second = torch.autograd.grad(sum(d.pow(2).sum() for d in first), (x, c))
        assert all(torch.isfinite(d).all() for d in (*first, *second))


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["full", "knn(3)"])
def test_cross_attention_traces_whole_and_exports(rule: str) -> None:
    """The fused form (full) and the edge form (knn), on a batch: aot_eager and torch.export."""
    module = compile(_rule(CROSS, rule))
    gen = torch.Generator().manual_seed(2)
    f, x = (torch.randn(7, n, generator=gen) for n in (8, 3))
    g, c = (torch.randn(5, n, generator=gen) for n in (8, 3))
    batch = {"batch": batch_of([4, 3]), "num_graphs": 2, "batch_queries": batch_of([2, 3])}
    inputs = {"f": f, "x": x, "c": c, "g": g, **batch}  # forward's order, as torch.export wants
    assert_captures(module, inputs, atol=1e-5)


#: A window on a sampled axis's ball groups and on a point cloud's own edges, under E(3).
WINDOWED = """
model Windowed() {
    symmetry E(3) x S(points)
    domain pointcloud(points, dim=3)
    domain sample(level1, from=points, rule=fps(3))
    domain edges(ball1, src=points, dst=level1, rule=ball(1.5, 4))
    input x: point(3) over points
    input f: 4 x scalar over points
    c1 = x[from(level1)]
    r = x[src(ball1)] - c1[dst(ball1)]
    q = linear(f[from(level1)], 4 x scalar)
    k = linear(f, 4 x scalar)
    v = linear(r, 2 x vector)
    output y: 2 x vector over level1 = attention(q, k, v, over=ball1, heads=2, window=0.8)
    output z: 4 x scalar over points = attention(f, f, f, over=edges, heads=2, window=0.8)
}
"""


@pytest.mark.parametrize("graphs", [1, 3])
def test_a_windowed_attention_is_equivariant_on_sampled_axes_and_own_edges(graphs: int) -> None:
    report = check(WINDOWED, graphs=graphs, trials=4, every_value=True, seed=graphs)
    assert report.passed, report


def test_the_window_subtracts_squared_distances_over_sigma_squared() -> None:
    """One destination, three sources: softmax(q·k/√d - |p_b - p_a|²/σ²) (1e-12 float64)."""
    gen = torch.Generator().manual_seed(11)
    q, k = torch.randn(1, 4, generator=gen, dtype=F64), torch.randn(3, 4, generator=gen, dtype=F64)
    v = torch.randn(3, 5, generator=gen, dtype=F64)
    at_src, at_dst = torch.randn(3, 2, generator=gen, dtype=F64), torch.zeros(1, 2, dtype=F64)
    edges = (torch.arange(3), torch.zeros(3, dtype=torch.long), None)
    got = rt_cross.edge_attention(q, k, v, edges, 1, 1, (True, True, True), (at_src, at_dst, 0.5))
    scores = k @ q[0] / 2 - at_src.pow(2).sum(-1) / 0.25
    torch.testing.assert_close(got[0], torch.softmax(scores, 0) @ v, rtol=1e-12, atol=1e-12)


WINDOW_ERRORS = [
    ("    z = attention(s, k, w, over=E, window=@-1.0)", "GEO392"),
    ("    z = attention(k, k, k, over=points, window=@1.0)", "GEO393"),  # no edge set
]


@pytest.mark.parametrize(("line", "code"), WINDOW_ERRORS)
def test_misuses_of_the_window(line: str, code: str) -> None:
    assert_fails_at(_moving(line), code)


def test_a_window_over_a_periodic_cell_is_not_built() -> None:
    text = """
model P() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(2.0), cell=true)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    output y: 4 x scalar over nodes = attention(h, h, h, over=edges, window=@1.0)
}
"""
    assert_fails_at(text, "GEO526")


def test_the_fused_form_runs_on_meta_and_fake_tensors() -> None:
    """GPU readiness of the kernel no built-in spec reaches (rule=full between two axes):
    shapes only, no value read on the host."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    for mode in ("meta", "fake"):
        with FakeTensorMode() if mode == "fake" else torch.device("meta"):
            q, k, v = torch.randn(5, 8), torch.randn(7, 8), torch.randn(7, 6)
            bq, bk = torch.zeros(5, dtype=torch.long), torch.zeros(7, dtype=torch.long)
            out = rt_cross.full_cross_attention(q, k, v, bq, bk, 2)
        assert out.shape == (5, 6)


def test_the_fused_form_builds_no_pair_list() -> None:
    """rule=full read only by fused cross-attention: the edge set is left out of the module
    (a mask per graph instead of the pairs, and no host sync for their count)."""
    names = [str(n.target) for n in compile(_rule(CROSS, "full")).graph.nodes]
    assert any("full_cross_attention" in n for n in names)
    assert not any("edges" in n for n in names), names
    assert any("edges" in str(n.target) for n in compile(_rule(CROSS, "knn(3)")).graph.nodes)
