# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""``head_scale(a, v)``: per-head invariant weights on values of any type (docs/language.md,
"Softmax and attention"): typing and each diagnostic (code and caret); agreement with a
plain-PyTorch split / weigh / merge of every degree's channels into heads; equivariance of
multi-head graph attention on irreps under random O(3) elements and node permutations in
float64 with random parameters, nodes without incoming edges included."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3 as e3o3
from helpers import assert_captures, assert_fails_at, elaborated
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
IRREPS = "4x0e + 2x1o + 4x2e + 2x1e"
TERMS = [(4, 0, 1), (2, 1, -1), (4, 2, 1), (2, 1, 1)]

#: Two-head graph attention on irreps: invariant scores, a per-head softmax over each node's
#: incoming edges, the source's irreps weighed per head and summed into the destination.
ATTENTION = f"""
model HeadAtt(hidden: int = 6, heads: int = 2) {{
    symmetry E(3) x S(nodes)
    domain graph(nodes)
    input h: {IRREPS} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    s = mlp(concat(linear(h[src], 3 x 0e), linear(h[dst], 3 x 0e), sqnorm(r)), [hidden, heads])
    a = softmax(s, over=edges, into=nodes)
    output w: heads x scalar over edges = a
    output y: {IRREPS} over nodes = sum(head_scale(a, h[src]), over=edges, into=nodes)
    v = linear(r, 4 x vector)
    output d: 4 x vector over nodes = sum(head_scale(a, v), over=edges, into=nodes)
}}
"""


def _with(line: str) -> str:
    return ATTENTION.replace("    output w:", f"{line}\n    output w:")


# --- typing -----------------------------------------------------------------------------------


def test_typed_as_the_values_on_their_axis() -> None:
    graph = elaborated(ATTENTION)
    assert str(graph.outputs["y"].type) == f"{IRREPS} over nodes"
    assert str(graph.outputs["d"].type) == "4 x vector over nodes"


ERRORS = [
    # 2 heads cannot split 3 copies of a vector
    ("    q = head_scale(a, @linear(r, 3 x vector))", "GEO395"),
    # 4 heads cannot split the 2 copies of 1o
    ("    q = head_scale(linear(a, 4 x scalar), @h[src])", "GEO395"),
    # weights that rotate
    ("    q = head_scale(@r, linear(r, 3 x vector))", "GEO401"),
    # scaling a point is not translation-equivariant
    ("    q = head_scale(linear(a, scalar), @pos[src])", "GEO404"),
    # weights over edges, values over nodes
    ("    q = head_scale(a, @h)", "GEO305"),
]


@pytest.mark.parametrize(("line", "code"), ERRORS)
def test_misuses_of_head_scale(line: str, code: str) -> None:
    error = assert_fails_at(_with(line), code)
    if code == "GEO395":
        assert "multiple of" in error.diagnostics[0].help


def test_one_head_takes_any_type() -> None:
    elaborated(
        _with("    q = head_scale(linear(a, scalar), concat(linear(r, 3 x vector), h[src]))")
    )


# --- numbers ----------------------------------------------------------------------------------


def _graph(seed: int, n: int = 8) -> dict[str, torch.Tensor]:
    """Random edges; nodes 2 and 5 have no incoming edge; a repeated edge gives a score tie."""
    gen = torch.Generator().manual_seed(seed)
    src, dst = torch.randint(0, n, (2, 20), generator=gen)
    dst = torch.where((dst == 2) | (dst == 5), (dst + 1) % n, dst)
    src, dst = torch.cat([src, src[:1]]), torch.cat([dst, dst[:1]])
    dim = sum(mul * (2 * l + 1) for mul, l, _ in TERMS)
    h = torch.randn(n, dim, generator=gen, dtype=F64)
    pos = torch.randn(n, 3, generator=gen, dtype=F64)
    return {"h": h, "pos": pos, "edge_index": torch.stack([src, dst])}


def reference(a: torch.Tensor, v: torch.Tensor, terms: list) -> torch.Tensor:
    """Split, weigh, merge, as EquiformerV2 does per degree: ``[E, mul, 2l+1]`` viewed as
    ``[E, H, mul/H, 2l+1]``, times ``a[:, h]``, flattened back."""
    heads, out, start = a.shape[1], [], 0
    for mul, l, _ in terms:
        width = mul * (2 * l + 1)
        block = v[:, start : start + width].reshape(len(v), heads, mul // heads, 2 * l + 1)
        out.append((block * a[:, :, None, None]).flatten(1))
        start += width
    return torch.cat(out, 1)


def _random_parameters(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def test_equals_split_weigh_merge() -> None:
    module = geoc_compile(ATTENTION, dtype=F64)
    _random_parameters(module, 0)
    g = _graph(1)
    out = module(**g)
    src, dst = g["edge_index"]
    want = torch.zeros_like(g["h"]).index_add(0, dst, reference(out["w"], g["h"][src], TERMS))
    assert want.abs().max() > 0.1
    torch.testing.assert_close(out["y"], want, rtol=0, atol=1e-12)
    assert torch.equal(out["y"][[2, 5]], torch.zeros_like(out["y"][[2, 5]]))


# --- equivariance -----------------------------------------------------------------------------


def _rep(terms: list, matrix: torch.Tensor) -> torch.Tensor:
    irreps = e3o3.Irreps([(mul, (l, p)) for mul, l, p in terms])
    with float64_default():
        return irreps.D_from_matrix(matrix)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equivariant_under_random_o3_elements_and_permutations(seed: int) -> None:
    module = geoc_compile(ATTENTION, dtype=F64)
    _random_parameters(module, seed)
    g = _graph(seed + 10)
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))  # any O(3) element
    perm = torch.randperm(len(g["pos"]), generator=gen)
    inverse = torch.argsort(perm)  # node i of the moved graph is node perm[i]
    moved = {
        "h": (g["h"] @ _rep(TERMS, q).T)[perm],
        "pos": (g["pos"] @ q.T + torch.randn(3, generator=gen, dtype=F64))[perm],
        "edge_index": inverse[g["edge_index"]],
    }
    out, got = module(**g), module(**moved)
    torch.testing.assert_close(got["y"], (out["y"] @ _rep(TERMS, q).T)[perm], rtol=0, atol=1e-10)
    torch.testing.assert_close(
        got["d"], (out["d"] @ _rep([(4, 1, -1)], q).T)[perm], rtol=0, atol=1e-10
    )
    torch.testing.assert_close(got["w"], out["w"], rtol=0, atol=1e-12)  # edges kept in order


@pytest.mark.parametrize("graphs", [1, 3])
def test_geoc_check_passes(graphs: int) -> None:
    report = check(ATTENTION, graphs=graphs, trials=4, every_value=True, seed=graphs)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


def test_traces_whole() -> None:
    module = geoc_compile(ATTENTION, dtype=F64)
    assert_captures(module, _graph(3), atol=1e-12)
