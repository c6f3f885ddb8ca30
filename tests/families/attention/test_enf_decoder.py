"""``specs/enf_decoder.geo`` against the cross-attention decoder of equivariant neural fields
(Wessels et al. 2024, arXiv:2406.05753, section 3: bi-invariant a = x - p for translations,
queries from an embedding of a, keys and values from the latent context, values conditioned on
a, a Gaussian window, softmax over each query's latents), written here in plain PyTorch with
the module's weights (1e-10 float64); invariance under T(2) x S(latents) x S(queries) (batches,
a graph without latents); the window's checks; export and tracing."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_captures, assert_fails_at, batch_of, run_exported

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check
from geoc.catalog import builtin_spec

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
F = torch.nn.functional
PARAMS = {"latent": 6, "hidden": 8, "heads": 2, "k": 3, "sigma": 0.7}


def _lin(layer, x):
    return F.linear(x, layer.weight, layer.bias)


def _mlp(seq, x):
    return _lin(getattr(seq, "1"), F.gelu(_lin(getattr(seq, "0"), x)))


def knn(x, p, bx, bp, k):
    """(latent, query) pairs: each query's k nearest latents of its graph (no ties here)."""
    pairs = []
    for i in range(x.shape[0]):
        mine = [j for j in range(p.shape[0]) if bp[j] == bx[i]]
        mine.sort(key=lambda j: float((x[i] - p[j]).norm()))
        pairs += [(j, i) for j in mine[:k]]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T


def decoder(m, p, c, x, bp, bx, heads, k, sigma):
    """The paper's decoder, query by query: a_ij = x_i - p_j over the k nearest latents,
    q_ij = W_q sin(W_e a_ij + b_e), k_j = W_k c_j, v_ij = W_v c_j (1 + γ(a_ij)) + β(a_ij),
    att_ij = softmax_j(q_ij · k_j / √d - |a_ij|² / σ²) per head, f_i = MLP(W_o Σ_j att_ij v_ij)."""
    src, dst = knn(x, p, bx, bp, k)
    out = []
    for i in range(x.shape[0]):
        js = src[dst == i]
        a = x[i] - p[js]
        q = _lin(m.q, torch.sin(_lin(m.eq.linear, a)))
        ev = torch.sin(_lin(m.ev.linear, a))
        vc = _lin(m.vc.linear, c[js])
        v = vc * (1 + _mlp(m.gamma, ev)) + _mlp(m.beta, ev)
        kj = _lin(m.kc, c[js])
        d = q.shape[1] // heads
        heads_out = []
        for h in range(heads):
            part = slice(h * d, (h + 1) * d)
            score = (q[:, part] * kj[:, part]).sum(-1) / d**0.5 - a.pow(2).sum(-1) / sigma**2
            heads_out.append(
                torch.softmax(score, 0) @ v[:, part] if len(js) else v[:0, part].sum(0)
            )
        out.append(_mlp(m.f, _lin(m.h_1, torch.cat(heads_out))))
    return torch.stack(out)


def _inputs(gen, latents, queries, dim=6):
    p = torch.randn(sum(latents), 2, generator=gen, dtype=F64)
    c = torch.randn(sum(latents), dim, generator=gen, dtype=F64)
    x = torch.randn(sum(queries), 2, generator=gen, dtype=F64)
    return p, c, x


def test_equals_the_papers_decoder_in_a_batch_with_a_graph_without_latents() -> None:
    module = compile("enf_decoder", PARAMS, dtype=F64)
    gen = torch.Generator().manual_seed(4)
    latents, queries = [5, 0, 7], [4, 3, 6]
    p, c, x = _inputs(gen, latents, queries)
    bp, bx = batch_of(latents), batch_of(queries)
    got = module(p=p, c=c, x=x, batch=bp, batch_queries=bx, num_graphs=3)["f"]
    with torch.no_grad():
        want = decoder(module, p, c, x, bp, bx, 2, 3, 0.7)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    one = module(p=p[:5], c=c[:5], x=x[:4])["f"]
    torch.testing.assert_close(one, got[:4], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("graphs", [1, 3])
def test_enf_decoder_is_invariant_under_translations_and_both_permutations(graphs: int) -> None:
    report = check("enf_decoder", PARAMS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report
    assert all(row.max_error < 1e-10 for row in report.outputs), report


@pytest.mark.slow
def test_exported_decoder_equals_the_module(tmp_path) -> None:
    from geoc.backends.torch_fx.export import write_folder

    module = compile("enf_decoder", PARAMS, dtype=F64)
    p, c, x = _inputs(torch.Generator().manual_seed(2), [4, 3], [5, 2])
    inputs = {"p": p, "c": c, "x": x, "batch": batch_of([4, 3])}
    inputs |= {"batch_queries": batch_of([5, 2]), "num_graphs": 2}
    folder = write_folder(module, tmp_path / "enf", "enf")
    got = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(got["f"], module(**inputs)["f"], rtol=1e-12, atol=0)


@pytest.mark.slow
def test_decoder_traces_whole_and_exports() -> None:
    """``torch.compile(fullgraph=True)`` (aot_eager) and ``torch.export`` on a batch."""
    module = compile("enf_decoder", PARAMS)
    p, c, x = (t.float() for t in _inputs(torch.Generator().manual_seed(6), [4, 3], [5, 2]))
    inputs = {"p": p, "c": c, "x": x, "batch": batch_of([4, 3])}  # in forward's order:
    inputs |= {"num_graphs": 2, "batch_queries": batch_of([5, 2])}  # torch.export's wants it
    assert_captures(module, inputs, atol=1e-6)


WINDOWED = builtin_spec("enf_decoder").read_text()


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("window=sigma)", "window=@-1.0)", "GEO392"),
        ("domain pointcloud(latents, dim=2)", "domain set(latents)", "GEO393"),
    ],
)
def test_misuses_of_the_window(old: str, new: str, code: str) -> None:
    text = WINDOWED.replace(old, new)
    if code == "GEO393":  # a set has no positions: the latents' positions become features
        text = text.replace("p[src(pairs)]", "x[dst(pairs)]").replace("rule=knn(k)", "rule=full")
        text = text.replace("window=sigma)", "window=@sigma)")
    assert_fails_at(text, code)
