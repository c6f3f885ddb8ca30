"""``full_edges`` over a batch builds the within-graph pairs directly, in ``O(E)`` (issue 17):
the same list as the definition (every ordered pair of distinct nodes of one graph, out of
all ``N²`` pairs), in the same order (by ``dst``, then ``src``), for any ``batch`` order."""

from __future__ import annotations

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from geoc.backends.torch_fx.common import kernels as rt


def _definition(batch: torch.Tensor) -> torch.Tensor:
    """Every ordered pair of distinct nodes of one graph, from all pairs, as ``[2, E]`` sorted
    by ``dst`` then ``src``."""
    n = batch.shape[0]
    pairs = [
        (s, d) for d in range(n) for s in range(n) if s != d and int(batch[s]) == int(batch[d])
    ]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()


BATCHES = {
    "unsorted": torch.tensor([1, 0, 1, 2, 0, 0, 2, 1]),
    "gaps in the graph indices": torch.tensor([3, 3, 0, 3, 5]),
    "one graph": torch.zeros(6, dtype=torch.long),
    "graphs of one node": torch.tensor([0, 1, 2, 3]),
    "a graph of one node among others": torch.tensor([0, 0, 1, 2, 2, 2]),
    "empty": torch.zeros(0, dtype=torch.long),
    "random": torch.randint(0, 7, (60,), generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("batch", BATCHES.values(), ids=BATCHES.keys())
def test_full_edges_are_the_pairs_of_each_graph_in_order(batch: torch.Tensor) -> None:
    pos = torch.randn(batch.shape[0], 3, dtype=torch.float64)
    src, dst, mask = rt.full_edges(pos, batch)
    assert mask is None
    assert torch.equal(torch.stack((src, dst)), _definition(batch))


@pytest.mark.parametrize("batch", BATCHES.values(), ids=BATCHES.keys())
def test_traced_full_edges_give_the_same_pairs(batch: torch.Tensor) -> None:
    """Traced (``make_fx``), the layout that does not size anything by the graphs: the same
    edges."""
    pos = torch.randn(batch.shape[0], 3, dtype=torch.float64)

    def edges(pos: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        src, dst, mask = rt.full_edges(pos, batch)
        return rt.edge_list((src, dst, mask))

    traced = make_fx(edges)(pos, batch)
    assert any(n.target == torch.ops.aten.nonzero.default for n in traced.graph.nodes)
    assert torch.equal(traced(pos, batch), _definition(batch))


def test_compiled_path_builds_the_pairs_without_all_n_squared(monkeypatch) -> None:
    """Under the compiled path's tracing options (data-dependent sizes captured), dynamo traces
    the ``O(E)`` builder, not the ``N²`` candidate layout, and one graph serves other sizes."""
    from geoc.backends.torch_fx.compiled import _tracing_options

    def n_squared(*args, **kwargs):
        raise AssertionError("the N² candidate pairs were traced")

    monkeypatch.setattr(rt, "_all_pairs", n_squared)
    torch._dynamo.reset()
    built = torch.compile(rt.full_edges, backend="eager", fullgraph=True, dynamic=True)
    for batch in (BATCHES["random"], BATCHES["unsorted"]):
        pos = torch.randn(batch.shape[0], 3, dtype=torch.float64)
        with _tracing_options():
            src, dst, mask = built(pos, batch)
        assert mask is None
        assert torch.equal(torch.stack((src, dst)), _definition(batch))
