"""Attention's products over edges (geoc.optimize.products; rewritten/csr_kernels.py): where
the rewrite fires and where its precondition keeps it from firing; the rewritten module equals
the written one (float64, 1e-12, values and gradients) and PyTorch Geometric's TransformerConv
(nodes without edges and repeated edges included); first and second derivatives by gradcheck;
masked layouts, empty edge lists, meta and fake tensors, no host read; equivariance of
attention-weighted vector messages under E(3) x S(nodes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_fails_at, run_exported
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.attention import kernels as rt_attention
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.rewritten import csr_kernels as rt_csr
from geoc.backends.torch_fx.verify import check
from geoc.backends.torch_fx.verify.check import draw_sample
from geoc.ops import check_call, infer_call, lookup
from geoc.optimize import optimise
from geoc.optimize.edit import context
from geoc.pipeline import frontend
from geoc.types import FeatureType

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
NAME = "products over edges"

#: TransformerConv (one head, a skip): scores q[dst]·k[src] through a one-channel `linear`.
TRANSFORMER = """
model T(dim: int = 4) {
    symmetry S(nodes)
    domain graph(nodes)
    input h: dim x scalar over nodes
    q = linear(h, dim x scalar, bias=true)
    k = linear(h, dim x scalar, bias=true)
    v = linear(h, dim x scalar, bias=true)
    s = linear(q[dst] * k[src], scalar, bias=false)
    a = softmax(s, over=edges, into=nodes)
    m = sum(a * v[src], over=edges, into=nodes)
    output y: dim x scalar over nodes = m + linear(h, dim x scalar, bias=true)
}
"""

#: Invariant scores, weighted vector features of the neighbours (radius edges: a masked
#: layout when traced), the weights written second.
VECTORS = """
model V() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(1.5))
    input x: point(3) over nodes
    input h: 3 x scalar over nodes
    input u: 2 x vector over nodes
    q = linear(h, 3 x scalar)
    s = concat(linear(q[src] * q[dst], 2 x scalar), sqnorm(x[dst] - x[src]))
    a = softmax(linear(s, scalar), over=edges, into=nodes)
    output y: 2 x vector over nodes = sum(u[src] * a, over=edges, into=nodes)
}
"""


def _fired(text: str) -> list[tuple[str, str]]:
    return [(f.rewrite, f.node) for f in optimise(frontend(text), strict=True).fired]


def _pair(text: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The spec lowered as written and rewritten, with the same random parameters."""
    written = compile(text, dtype=F64, optimize="none")
    rewritten = compile(text, dtype=F64)
    for param in written.parameters():
        param.data.normal_(generator=torch.Generator().manual_seed(param.numel()))
    rewritten.load_state_dict(written.state_dict(), strict=True)
    return written, rewritten


def _graph(nodes: int = 6) -> torch.Tensor:
    """Edges with a node without in-edges (node 0), a repeated edge and a self loop."""
    src = torch.tensor([1, 2, 2, 3, 4, 5, 5, 1, 3, 2])
    dst = torch.tensor([1, 1, 1, 2, 2, 3, 4, 4, 5, 5])
    assert int(dst.max()) < nodes and 0 not in dst
    return torch.stack([src, dst])


# --- where the rewrite fires ------------------------------------------------------------------


def test_scores_and_weighted_values_are_rewritten() -> None:
    assert _fired(TRANSFORMER) == [(NAME, "s"), (NAME, "m")]


def test_weights_written_second_and_scores_of_several_channels_are_rewritten() -> None:
    fired = _fired(VECTORS)
    assert (NAME, "y") in fired
    assert any(f[0] == NAME and f[1].startswith("s") for f in fired)


def test_values_read_at_the_destination_keep_the_sum_as_written() -> None:
    fired = _fired(TRANSFORMER.replace("m = sum(a * v[src]", "m = sum(a * v[dst]"))
    assert (NAME, "m") not in fired and (NAME, "s") in fired


def test_scores_of_values_read_at_one_end_are_not_rewritten() -> None:
    """`q[dst] * k[dst]` is computed per node and gathered once (linear before gather)."""
    fired = _fired(TRANSFORMER.replace("s = linear(q[dst] * k[src]", "s = linear(q[dst] * k[dst]"))
    assert (NAME, "s") not in fired and (NAME, "m") in fired


def test_two_weights_per_edge_keep_the_sum_as_written() -> None:
    """Per-head weights scale groups of channels, not every channel alike."""
    text = TRANSFORMER.replace("scalar, bias=false)", "2 x scalar, bias=false)").replace(
        "a * v[src]", "linear(a, 4 x scalar) * v[src]"
    )
    fired = _fired(text)
    assert (NAME, "s") in fired and (NAME, "m") not in fired


def test_a_product_read_elsewhere_is_kept() -> None:
    text = TRANSFORMER.replace(
        "s = linear(q[dst] * k[src], scalar, bias=false)",
        "e = q[dst] * k[src]\n    s = linear(e, scalar, bias=false)\n"
        "    output p: dim x scalar over nodes = mean(e, over=edges, into=nodes)",
    )
    fired = _fired(text)
    assert (NAME, "s") not in fired and (NAME, "m") in fired


# --- typing ------------------------------------------------------------------------------------


def test_the_rewritten_operators_type_as_their_compositions() -> None:
    graph = optimise(frontend(VECTORS), strict=True).graph
    node = graph.node("y")
    assert node.op == "gathered_weighted_sum"
    types = [graph.type_of(ref) for ref in node.inputs]
    typed = infer_call(context(graph, node), lookup(node.op), types, node.attrs)
    assert [str(t) for t in typed] == ["2 x vector over nodes"]


def test_the_rewritten_weighted_sum_refuses_points_as_sum_does() -> None:
    """Scaling and summing points is GEO404 (the contracts); checked as the composition, the
    rewritten form reports the same violations."""
    graph = optimise(frontend(VECTORS), strict=True).graph
    node = graph.node("y")
    types = [graph.type_of(node.inputs[0]), FeatureType.parse("point(3) over nodes")]
    found = check_call(context(graph, node), lookup(node.op), types, node.attrs)
    assert found and {d.code for d in found} == {"GEO404"}


def test_a_spec_cannot_call_a_rewritten_operator() -> None:
    text = TRANSFORMER.replace(
        "output y: dim x scalar over nodes = m +",
        "output z: dim x scalar over nodes = "
        "@gathered_weighted_sum(a, v, end=src, over=edges, into=nodes)\n"
        "    output y: dim x scalar over nodes = m +",
    )
    assert_fails_at(text, "GEO201")


# --- the same function ------------------------------------------------------------------------


def _values_and_grads(module: torch.nn.Module, inputs: dict) -> list[torch.Tensor]:
    floats = {k: v.clone().requires_grad_() for k, v in inputs.items()
              if torch.is_tensor(v) and v.is_floating_point()}  # fmt: skip
    out = module(**{**inputs, **floats})
    gen = torch.Generator().manual_seed(1)
    total = sum((o * torch.randn(o.shape, generator=gen, dtype=F64)).sum() for o in out.values())
    leaves = [*floats.values(), *module.parameters()]
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [o.detach() for o in out.values()] + [g for g in grads if g is not None]


def test_rewritten_transformer_equals_written_values_and_gradients() -> None:
    written, rewritten = _pair(TRANSFORMER)
    h = torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    inputs = {"h": h, "edge_index": _graph()}
    for got, want in zip(_values_and_grads(rewritten, inputs), _values_and_grads(written, inputs),
                         strict=True):  # fmt: skip
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("graphs", [1, 3])
def test_rewritten_vectors_equal_written_in_batches(graphs: int) -> None:
    written, rewritten = _pair(VECTORS)
    sample = draw_sample(frontend(VECTORS), np.random.default_rng(graphs), 5, graphs, F64)
    for got, want in zip(_values_and_grads(rewritten, sample.inputs),
                         _values_and_grads(written, sample.inputs), strict=True):  # fmt: skip
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_transformer_equals_pyg_transformer_conv() -> None:
    pyg = pytest.importorskip("torch_geometric.nn")
    module = compile(TRANSFORMER, dtype=F64)
    conv = pyg.TransformerConv(4, 4, heads=1, root_weight=True).double()
    with torch.no_grad():
        for name, lin in (("q", conv.lin_query), ("k", conv.lin_key), ("v", conv.lin_value)):
            lin.weight.copy_(getattr(module, name).weight)
            lin.bias.copy_(getattr(module, name).bias)
        conv.lin_skip.weight.copy_(module.y.linear.weight)
        conv.lin_skip.bias.copy_(module.y.linear.bias)
        module.s.weight.fill_(4**-0.5)
    h = torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(2))
    edges = _graph()
    want = conv(h, edges)
    torch.testing.assert_close(module(h=h, edge_index=edges)["y"], want, rtol=1e-12, atol=1e-12)


# --- derivatives --------------------------------------------------------------------------------


def test_first_and_second_derivatives_by_gradcheck() -> None:
    module = compile(TRANSFORMER, dtype=F64)
    h = torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(3))
    edges = _graph()

    def run(h: torch.Tensor) -> torch.Tensor:
        return module(h=h, edge_index=edges)["y"]

    assert torch.autograd.gradcheck(run, (h.requires_grad_(),))
    assert torch.autograd.gradgradcheck(run, (h,))


def test_torch_func_grad_equals_autograd() -> None:
    """``torch.func`` transforms take the composite form (a Function without ``vmap`` rules)."""
    module = compile(TRANSFORMER, dtype=F64)
    h, edges = torch.randn(6, 4, dtype=F64), _graph()

    def total(h: torch.Tensor) -> torch.Tensor:
        return module(h=h, edge_index=edges)["y"].pow(2).sum()

    h.requires_grad_()
    (want,) = torch.autograd.grad(total(h), h)
    torch.testing.assert_close(torch.func.grad(total)(h.detach()), want, rtol=1e-12, atol=1e-12)


def test_kernels_gradcheck_with_masked_and_repeated_edges() -> None:
    gen = torch.Generator().manual_seed(4)
    src, dst = _graph()
    mask = torch.tensor([1, 1, 0, 1, 1, 0, 1, 1, 1, 1])
    edges = (src, dst, mask)
    csr = rt_csr.edge_csr(edges, 6)
    x, y = (torch.randn(6, 3, dtype=F64, generator=gen).requires_grad_() for _ in range(2))
    w = torch.randn(10, 1, dtype=F64, generator=gen).requires_grad_()

    def dot(x, y):
        return rt_csr.edge_dot(x, y, edges, csr)

    def weighted(w, y):
        return rt_csr.edge_weighted_sum(w, y, edges, csr, 6)

    for fn, args in ((dot, (x, y)), (weighted, (w, y))):
        assert torch.autograd.gradcheck(fn, args)
        assert torch.autograd.gradgradcheck(fn, args)
    want = rt_csr._sum_composite(w * mask.unsqueeze(-1), y, (src, dst, None), 6)
    torch.testing.assert_close(weighted(w, y), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_segment_softmax_backward_written_out_equals_autograd(temperature: float) -> None:
    """Masked rows, a segment with only masked rows (1) and one with none (3), two channels:
    the written-out backward equals autograd's through the composite form, and gradcheck and
    gradgradcheck (the composite backward where a graph is recorded) pass."""
    gen = torch.Generator().manual_seed(5)
    index = torch.tensor([0, 0, 1, 2, 2, 2, 4])
    mask = torch.tensor([1, 1, 0, 1, 0, 1, 1])
    scores = torch.randn(7, 2, dtype=F64, generator=gen).requires_grad_()
    grad = torch.randn(7, 2, dtype=F64, generator=gen)

    def run(s: torch.Tensor) -> torch.Tensor:
        return rt_attention.segment_softmax(s, index, 5, mask, temperature)

    (got,) = torch.autograd.grad(run(scores), scores, grad)
    composite = rt_attention._segment_softmax(scores, index, 5, mask, temperature)
    (want,) = torch.autograd.grad(composite, scores, grad)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert got[[2, 4]].abs().max() == 0  # masked rows
    assert torch.autograd.gradcheck(run, (scores,))
    assert torch.autograd.gradgradcheck(run, (scores,))


@pytest.mark.parametrize("bad", [-1, 6])
def test_unchecked_indices_outside_the_nodes_raise_before_any_sparse_product(bad: int) -> None:
    """With validation off (no GEO614), the compressed edges still refuse a bad index."""
    module = compile(TRANSFORMER, validate=False)
    edges = _graph().clone()
    edges[0, 3] = bad
    with pytest.raises((IndexError, RuntimeError), match=r"out of bounds|index"):
        module(h=torch.randn(6, 4), edge_index=edges)


def test_an_empty_edge_list_gives_zero_sums_and_no_scores() -> None:
    module = compile(TRANSFORMER, dtype=F64)
    h = torch.randn(3, 4, dtype=F64).requires_grad_()
    out = module(h=h, edge_index=torch.zeros(2, 0, dtype=torch.long))["y"]
    skip = torch.nn.functional.linear(h, module.y.linear.weight, module.y.linear.bias)
    torch.testing.assert_close(out, skip)
    out.sum().backward()
    assert torch.isfinite(h.grad).all()


# --- tracing and devices ------------------------------------------------------------------------


def test_runs_on_meta_and_fake_tensors_with_the_composite_form() -> None:
    module = compile(TRANSFORMER, dtype=F64)
    h, edges = torch.randn(6, 4, dtype=F64), _graph()
    want = module(h=h, edge_index=edges)["y"]
    got = module.to("meta")(h=h.to("meta"), edge_index=edges.to("meta"))["y"]
    assert rt_csr.edge_csr((edges[0].to("meta"), edges[1].to("meta"), None), 6) is None
    assert (got.shape, got.dtype, got.device.type) == (want.shape, want.dtype, "meta")
    module = compile(TRANSFORMER, dtype=F64)
    state = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    with FakeTensorMode() as mode:
        fake = {k: mode.from_tensor(v) for k, v in state.items()}
        got = torch.func.functional_call(
            module, fake, (), {"h": mode.from_tensor(h), "edge_index": mode.from_tensor(edges)}
        )["y"]
    assert (got.shape, got.dtype) == (want.shape, want.dtype)


class _HostReads(TorchDispatchMode):
    """Records the ops that read a tensor's value on the host or size a result by its data."""

    READS = frozenset(
        {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select", "aten::unique"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name in self.READS:
            self.found.append(func._schema.name)
        return func(*args, **(kwargs or {}))


def test_the_sparse_path_reads_nothing_on_the_host() -> None:
    module = compile(TRANSFORMER, dtype=torch.float32, validate=False)
    h = torch.randn(6, 4).requires_grad_()
    edges = _graph()
    with _HostReads() as reads:
        module(h=h, edge_index=edges)["y"].sum().backward()
    assert reads.found == []


@pytest.mark.slow
def test_an_exported_folder_runs_the_sparse_products_without_geoc(tmp_path: Path) -> None:
    module = compile(TRANSFORMER, seed=1)
    folder = write_folder(module, tmp_path / "t")
    assert (folder / "geoc_runtime_csr.py").exists()
    inputs = {"h": torch.randn(6, 4), "edge_index": _graph()}
    torch.testing.assert_close(run_exported(folder, inputs, tmp_path)["y"], module(**inputs)["y"])


@pytest.mark.slow
def test_traced_vectors_equal_eager() -> None:
    """Under ``torch.compile`` the radius edges are a masked static layout (composite form)."""
    module = compile(VECTORS, dtype=F64)
    inputs = draw_sample(frontend(VECTORS), np.random.default_rng(3), 7, 2, F64).inputs
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(**inputs)["y"], module(**inputs)["y"], rtol=1e-10,
                               atol=1e-12)  # fmt: skip


# --- equivariance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
def test_attention_weighted_vectors_are_equivariant(graphs: int) -> None:
    report = check(VECTORS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


def test_transformer_is_permutation_equivariant() -> None:
    assert check(TRANSFORMER, graphs=3, trials=6, every_value=True).passed
