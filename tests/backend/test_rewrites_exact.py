"""Every built-in spec computes the same function rewritten and as written (geoc.optimize).

The two modules are lowered from one seed; the rewritten one must take the written one's state
dict under the same names (so a saved model loads into either), and then agree with it to
1e-12 in float64 on random inputs, in a batch of graphs and on one graph, in value and in the
gradient of every output with respect to every input and parameter. The rewritten graph is
also typed again and re-proven (``strict``: a rewrite that breaks either raises).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.lower import lower
from geoc.backends.torch_fx.verify.check import draw_sample
from geoc.catalog import builtin_specs
from geoc.optimize import optimise, rewrites
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

SPECS = [spec.name for spec in builtin_specs()]


def _pair(
    name: str, only: list[str] | None = None
) -> tuple[torch.fx.GraphModule, torch.fx.GraphModule, list] | None:
    """The spec lowered as written and rewritten, the second with the first's state dict;
    None where no rewrite fired (then the rewritten graph must be the one written)."""
    written = frontend(name)
    result = optimise(written, strict=True, only=only)
    if not result.fired:
        assert result.graph is written
        return None
    as_written = lower(written, dtype=torch.float64).double()
    as_written.meta["geoc_ir"] = written
    rewritten = lower(result.graph, dtype=torch.float64).double()
    rewritten.load_state_dict(as_written.state_dict(), strict=True)
    return as_written, rewritten, result.fired


def _floats(values: dict) -> list[torch.Tensor]:
    found = []
    for value in values.values():
        items = value if isinstance(value, (list, tuple)) else [value]
        found += [v for v in items if torch.is_tensor(v) and v.is_floating_point()]
    return found


def _outputs_and_grads(module: torch.fx.GraphModule, inputs: dict) -> list[torch.Tensor]:
    inputs = {k: v.clone().requires_grad_() if torch.is_tensor(v) and v.is_floating_point()
              else v for k, v in inputs.items()}  # fmt: skip
    outputs = _floats(module(**inputs))
    leaves = [v for v in _floats(inputs) if v.requires_grad] + list(module.parameters())
    total = sum((o * torch.randn_like(o, generator=torch.Generator().manual_seed(1))).sum()
                for o in outputs)  # fmt: skip
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [o.detach() for o in outputs] + [g for g in grads if g is not None]


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize("name", SPECS)
def test_rewritten_spec_computes_the_same_function(name: str, graphs: int) -> None:
    """All the rewrites together, on one graph and on a batch."""
    _assert_same_function(name, graphs, None)


@pytest.mark.parametrize("rewrite", [r.name for r in rewrites()])
@pytest.mark.parametrize("name", SPECS)
def test_each_rewrite_alone_computes_the_same_function(name: str, rewrite: str) -> None:
    """Each rewrite on its own (one may hide another's mistake when they run together)."""
    _assert_same_function(name, 3, [rewrite])


def _assert_same_function(name: str, graphs: int, only: list[str] | None) -> None:
    pair = _pair(name, only)
    if pair is None:
        return  # nothing to compare: the IR is the one written
    as_written, rewritten, _ = pair
    rng = np.random.default_rng(0)
    sample = draw_sample(as_written.meta["geoc_ir"], rng, 6, graphs, torch.float64)
    expected = _outputs_and_grads(as_written, sample.inputs)
    got = _outputs_and_grads(rewritten, sample.inputs)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_rewrites_fire_on_egnn() -> None:
    """EGNN's edge MLP reads `concat(h[dst], h[src], sqnorm(r))`: its first layer is split."""
    pair = _pair("egnn")
    assert pair is not None
    fired = pair[2]
    assert [f.rewrite for f in fired] == ["linear before gather"] * 4
    assert all(f.node.endswith("egnn_layer.m") for f in fired)
