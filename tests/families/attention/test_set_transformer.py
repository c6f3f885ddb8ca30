"""``specs/set_transformer.geo`` against the Set Transformer's equations (Lee et al. 2019,
section 3.1) written in plain PyTorch with the compiled module's weights: one set, and a batch
of sets of unequal sizes (run set by set); invariance under S(set) in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_captures, batch_of

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
DIM, HEADS = 8, 2


def multihead(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Multihead(Q, K, V) without projections: per head softmax(Q_h K_hᵀ / √d) V_h."""
    d = q.shape[1] // HEADS
    heads = []
    for h in range(HEADS):
        cut = slice(h * d, (h + 1) * d)
        heads.append(torch.softmax(q[:, cut] @ k[:, cut].T / d**0.5, -1) @ v[:, cut])
    return torch.cat(heads, -1)


def reference(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Encoder SAB(SAB(X W + b)), PMA_1 with the seed's query learned, rFF, the head."""

    def lin(name: str, t: torch.Tensor) -> torch.Tensor:
        return F.linear(t, p[f"{name}.weight"], p[f"{name}.bias"])

    def ln(name: str, t: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(t, (DIM,), p[f"{name}.weight"], p[f"{name}.bias"], 1e-5)

    def rff(name: str, t: torch.Tensor) -> torch.Tensor:
        return lin(f"{name}.1", torch.relu(lin(f"{name}.0", t)))

    def sab(name: str, t: torch.Tensor) -> torch.Tensor:
        att = multihead(lin(f"{name}.q", t), lin(f"{name}.k", t), lin(f"{name}.v", t))
        h = ln(f"{name}.h", t + lin(f"{name}.h.add.linear", att))
        return ln(f"{name}.return_", h + rff(f"{name}.return_.add.mlp", h))

    h = sab("sab_1", sab("sab", lin("h", x)))
    z = rff("z", h)
    seed = p["p.linear.attention_pool.seed"][None]
    pooled = multihead(seed, lin("k", z), lin("v", z))
    out = ln("p", lin("p.linear", pooled))
    out = ln("p_1", out + rff("p_1.add.mlp", out))
    return rff("y", out)[0]


def test_set_transformer_equals_the_papers_equations_on_one_set_and_a_batch() -> None:
    module = compile("set_transformer", {"dim": DIM, "heads": HEADS}, dtype=F64)
    params = dict(module.state_dict())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 4, generator=gen, dtype=F64)
    torch.testing.assert_close(
        module(x=x[:5])["y"], reference(params, x[:5]), rtol=1e-10, atol=1e-12
    )
    sizes = [5, 3, 4]
    got = module(x=x, batch=batch_of(sizes), num_graphs=3)["y"]
    want = torch.stack([reference(params, part) for part in x.split(sizes)])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("graphs", [1, 3])
def test_set_transformer_is_invariant(graphs: int) -> None:
    report = check("set_transformer", {"dim": DIM, "heads": HEADS}, graphs=graphs, trials=4)
    assert report.passed, report


def test_exported_set_transformer_equals_the_module(tmp_path) -> None:
    """The exported folder carries the attention kernels (torch only) and runs without geoc."""
    from helpers import run_exported

    from geoc.backends.torch_fx.export import write_folder

    module = compile("set_transformer", {"dim": DIM, "heads": HEADS}, dtype=F64)
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    inputs = {"x": x, "batch": batch_of([4, 0, 5]), "num_graphs": 3}
    folder = write_folder(module, tmp_path / "st", "st")
    got = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(got["y"], module(**inputs)["y"], rtol=1e-12, atol=0)


def test_float32_second_derivatives_and_inference_agree() -> None:
    """The fused kernel has no second derivative: where autograd records, the composite form
    runs (finite second derivatives in float32), and the fused inference path gives the same."""
    module = compile("set_transformer")
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(5), requires_grad=True)
    y = module(x=x)["y"]
    (first,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.pow(2).sum(), x)
    assert torch.isfinite(second).all() and second.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(module(x=x)["y"], y.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_set_transformer_compiles_fullgraph_and_exports() -> None:
    """`torch.compile(fullgraph=True)` (aot_eager) and `torch.export` give the eager outputs."""
    module = compile("set_transformer", {"dim": DIM, "heads": HEADS})
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(3))
    assert_captures(module, {"x": x, "batch": batch_of([4, 5]), "num_graphs": 2}, atol=1e-5)
