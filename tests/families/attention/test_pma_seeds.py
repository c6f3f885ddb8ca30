"""``attention_pool(k, v, over=A, heads=h, seeds=n)``: the Set Transformer's PMA_n (Lee et al.
2019). Typing (n copies of the values' type, seed-major) and its errors, agreement with
``torch.nn.MultiheadAttention`` whose queries are n learned seeds (1e-6 float32, a key padding
mask for a batch), invariance under S(set) and E(3) x S(nodes) in float64 (batches, empty
graphs)."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64

#: PMA_3 without its out-projection (applied seed by seed in the test).
PMA = """
model Pma(heads: int = 2, seeds: int = 3) {
    symmetry S(set)
    domain set(set)
    input z: 8 x scalar over set
    k = linear(z, 8 x scalar, bias=true)
    v = linear(z, 8 x scalar, bias=true)
    output y: 24 x scalar = attention_pool(k, v, over=set, heads=heads, seeds=seeds)
}
"""

MOVING = """
model Moving(heads: int = 2) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    r = x - mean(x, over=nodes)
    s = linear(concat(h, sqnorm(r)), 8 x scalar)
    w = linear(r, 4 x vector)
    output g: 8 x vector = attention_pool(s, w, over=nodes, heads=heads, seeds=2)
    m = attention_pool(s, concat(sqnorm(r), r), over=nodes, seeds=2)
    output mixed: scalar + vector + scalar + vector = m
}
"""


def test_seeds_give_that_many_copies_of_the_values() -> None:
    assert str(elaborated(PMA).outputs["y"].type) == "24 x scalar"
    moving = elaborated(MOVING)
    assert str(moving.outputs["g"].type) == "8 x vector"
    assert str(moving.outputs["mixed"].type) == "scalar + vector + scalar + vector"


def _moving(line: str) -> str:
    return MOVING.replace("    output g:", f"{line}\n    output g:")


ERRORS = [
    ("    z = attention_pool(s, w, over=nodes, seeds=@0)", "GEO391"),
    ("    z = attention_pool(s, @r, over=nodes, heads=2, seeds=2)", "GEO519"),
    ("    z = attention_pool(s, @x, over=nodes, seeds=2)", "GEO404"),
    ("    z = attention_pool(@r, w, over=nodes, seeds=2)", "GEO487"),
]


@pytest.mark.parametrize(("line", "code"), ERRORS)
def test_misuses_of_seeds(line: str, code: str) -> None:
    assert_fails_at(_moving(line), code)


@pytest.mark.parametrize(("heads", "seeds"), [(1, 1), (2, 3), (4, 2)])
def test_equals_multihead_attention_with_learned_seed_queries(heads: int, seeds: int) -> None:
    """MHA(S, Z, Z) with S the seeds (n x dim): geoc's seeds are MHA's projected queries
    S W_qᵀ + b_q; the out-projection applied to each seed's pool. One set, then a batch of
    unequal sets with a key padding mask, 1e-6 float32."""
    torch.manual_seed(seeds)
    dim, sizes = 8, [5, 2, 7]
    text = PMA.replace("24 x scalar", f"{8 * seeds} x scalar")
    module = compile(text, {"heads": heads, "seeds": seeds})
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    s = torch.randn(seeds, dim)
    w, b = mha.in_proj_weight.detach(), mha.in_proj_bias.detach()
    seed = next(p for name, p in module.named_parameters() if name.endswith("seed"))
    with torch.no_grad():
        seed.copy_((s @ w[:dim].T + b[:dim]).reshape(-1))
        for i, name in ((1, "k"), (2, "v")):
            getattr(module, name).weight.copy_(w[i * dim : (i + 1) * dim])
            getattr(module, name).bias.copy_(b[i * dim : (i + 1) * dim])

    def projected(pools: torch.Tensor) -> torch.Tensor:
        return mha.out_proj(pools.reshape(*pools.shape[:-1], seeds, dim))

    z = torch.randn(sum(sizes), dim)
    want, _ = mha(s[None], z[None, :5], z[None, :5], need_weights=False)
    one = projected(module(z=z[:5])["y"])
    torch.testing.assert_close(one, want[0], rtol=0, atol=1e-6)
    padded = torch.zeros(len(sizes), max(sizes), dim)
    pad = torch.ones(len(sizes), max(sizes), dtype=torch.bool)
    for g, (start, n) in enumerate(zip([0, 5, 7], sizes, strict=True)):
        padded[g, :n], pad[g, :n] = z[start : start + n], False
    want, _ = mha(s.expand(3, seeds, dim), padded, padded, key_padding_mask=pad)
    got = projected(module(z=z, batch=batch_of(sizes), num_graphs=3)["y"])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_an_empty_set_pools_to_zero_for_every_seed() -> None:
    module = compile(PMA, dtype=F64)
    z = torch.randn(6, 8, dtype=F64)
    out = module(z=z, batch=batch_of([3, 0, 3]), num_graphs=3)["y"]
    assert torch.equal(out[1], torch.zeros(24, dtype=F64))
    assert not torch.allclose(out[0, :8], out[0, 8:16])  # the seeds differ


@pytest.mark.parametrize("graphs", [1, 3])
def test_seeded_pools_are_invariant(graphs: int) -> None:
    for text in (PMA, MOVING):
        report = check(text, graphs=graphs, trials=6, every_value=True, seed=graphs)
        assert report.passed, report
