"""Every built-in spec traces whole: ``torch.compile(fullgraph=True)`` (``aot_eager``: inductor
is slow here) on the checker's inputs, a batch of graphs where the domain has them, equals the
eager module. A kernel that dynamo cannot follow (a Python builtin it does not model, a host
read, data-dependent control flow) fails here rather than on a user's first compiled step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geoc
from geoc.backends.torch_fx.verify import draw_sample
from geoc.catalog import builtin_specs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


@pytest.mark.parametrize("name", [spec.name for spec in builtin_specs()])
def test_builtin_spec_traces_whole(name: str) -> None:
    module = geoc.compile(name, dtype=torch.float64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 6, 2, torch.float64, 0)
    torch._dynamo.reset()
    traced = torch.compile(module, fullgraph=True, backend="aot_eager")(**sample.inputs)
    for key, want in module(**sample.inputs).items():
        torch.testing.assert_close(traced[key], want, rtol=1e-10, atol=1e-12)
