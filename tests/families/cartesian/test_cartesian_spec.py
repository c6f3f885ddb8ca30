"""specs/cartesian.geo (issue 23): `geoc check` passes well below 1e-10 in float64 with
reflections, its rank-2 response is symmetric and not trivially zero, it runs on batches with
an empty graph, exports, and captures with `torch.compile(fullgraph=True)`."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_captures, batch_of, run_exported

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
PARAMS = {"channels": 4, "hidden": 8, "depth": 2, "cutoff": 3.0}


def molecules(sizes: list[int], seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    return {
        "z": torch.randint(0, 4, (n,), generator=gen),
        "pos": torch.randn(n, 3, generator=gen, dtype=F64) * 1.2,
        "batch": batch_of(sizes),
        "num_graphs": len(sizes),
    }


def test_check_passes_below_1e_10() -> None:
    report = check("cartesian", PARAMS, graphs=3, trials=4)
    assert report.passed, report.render()
    assert all(row.rel_error < 1e-10 for row in report.outputs), report.render()


def test_response_is_symmetric_and_batches_hold_an_empty_graph() -> None:
    module = compile("cartesian", PARAMS, dtype=F64)
    out = module(**molecules([5, 0, 6]))
    alpha = out["alpha"].reshape(3, 3, 3)
    assert out["energy"].shape == (3, 1)
    torch.testing.assert_close(alpha, alpha.transpose(-1, -2), atol=1e-12, rtol=0)
    traceless = alpha - torch.einsum("gii->g", alpha)[:, None, None] * torch.eye(3) / 3
    assert traceless[0].abs().max() > 1e-5 and traceless[2].abs().max() > 1e-5  # anisotropic
    assert alpha[1].abs().max() == 0  # an empty graph: no edges, no nodes


def test_graphs_of_a_batch_are_independent() -> None:
    module = compile("cartesian", PARAMS, dtype=F64)
    both = molecules([5, 6], seed=2)
    out = module(**both)
    first = {"z": both["z"][:5], "pos": both["pos"][:5]}
    alone = module(**first)
    torch.testing.assert_close(out["alpha"][0], alone["alpha"].reshape(-1), atol=1e-12, rtol=0)


@pytest.mark.slow
def test_exported_spec_equals_the_module(tmp_path) -> None:
    from geoc.backends.torch_fx.export import write_folder

    module = compile("cartesian", PARAMS, dtype=F64)
    inputs = molecules([4, 5], seed=1)
    folder = write_folder(module, tmp_path / "cart", "cart")
    got = run_exported(folder, inputs, tmp_path)
    for name, value in module(**inputs).items():
        torch.testing.assert_close(got[name], value, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_spec_compiles_fullgraph_and_exports() -> None:
    module = compile("cartesian", PARAMS)
    inputs = molecules([4, 5], seed=3)
    inputs["pos"] = inputs["pos"].float()
    assert_captures(module, inputs, atol=1e-5)
