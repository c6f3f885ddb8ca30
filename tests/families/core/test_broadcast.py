"""A global value (no `over`) meeting values over an axis (`joint_axes`): it acts as the value
equal to it everywhere, per sample of a grid batch or per graph of a node batch, placed by the
declared axes and never by tensor broadcasting (issue 12). Each model is checked against a
plain reference written here, under random parameters, batch sizes 1, 3 and the grid width,
and moved by an independent harness (`torch.roll`, node permutations)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_captures, assert_fails_at, randomised

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.domains.fields import draw_field_inputs, field_batch
from geoc.backends.torch_fx.domains.points import draw_sample
from geoc.backends.torch_fx.verify import check_module

TORUS = (8, 6)  # not square; batch sizes equal to each side are tried on purpose
BATCHES = (1, 3, *TORUS)


def model(group: str, domain: str, lines: list[str]) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"model M() {{\n    symmetry {group}\n    domain {domain}\n{body}}}\n"


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# Fields on a torus: [B, C, *grid] meets a per-sample [B, C] or a shared [C]

POOLED = model(
    "T(2)",
    "torus(8, 6)",
    ["input a: 2 x scalar over torus", "output u: 2 x scalar over torus = a - mean(a, over=torus)"],
)
GLOBAL_INPUT = model(
    "T(2)",
    "torus(8, 6)",
    [
        "input a: 2 x scalar over torus",
        "input nu: 2 x scalar",
        "h = act(linear(a, 4 x scalar) + linear(nu, 4 x scalar) * linear(a, 4 x scalar), relu)",
        "g = concat(linear(mean(h, over=torus), 3 x scalar), h, nu)",
        "output u: 2 x scalar over torus = linear(g, 2 x scalar) + nu",
    ],
)


@pytest.mark.parametrize("batch", BATCHES)
def test_a_pooled_value_is_subtracted_per_sample(batch: int) -> None:
    """Issue 12: `a - mean(a, over=torus)` crashed for batch 3 and was wrong for batch 8."""
    a = randn(batch, 2, *TORUS)
    got = compile(POOLED, dtype=torch.float64)(a=a)["u"]
    torch.testing.assert_close(got, a - a.mean(dim=(2, 3), keepdim=True), rtol=0, atol=1e-12)


def _per_sample(module: torch.nn.Module, a: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
    return torch.cat([module(a=a[i : i + 1], nu=nu[i : i + 1])["u"] for i in range(len(a))])


@pytest.mark.parametrize("batch", BATCHES)
def test_a_global_input_meets_fields_sample_by_sample(batch: int) -> None:
    """A per-sample `nu: 2 x scalar` ([B, 2]) added to, multiplied with and concatenated to
    fields: the batch is the samples one by one, and shifts of the grid commute with it."""
    module = randomised(GLOBAL_INPUT, seed=batch)
    a, nu = randn(batch, 2, *TORUS), randn(batch, 2)
    out = module(a=a, nu=nu)["u"]
    torch.testing.assert_close(out, _per_sample(module, a, nu), rtol=0, atol=1e-12)
    shifted = module(a=torch.roll(a, (3, 5), (2, 3)), nu=nu)["u"]
    torch.testing.assert_close(shifted, torch.roll(out, (3, 5), (2, 3)), rtol=0, atol=1e-12)


def test_a_shared_global_input_is_the_same_for_every_sample() -> None:
    """``[C]`` (no batch) means one value for every sample: the same as repeating it."""
    module = randomised(GLOBAL_INPUT)
    a, nu = randn(3, 2, *TORUS), randn(2)
    shared = module(a=a, nu=nu)["u"]
    torch.testing.assert_close(shared, module(a=a, nu=nu.expand(3, 2))["u"], rtol=0, atol=0)


@pytest.mark.slow
def test_the_broadcast_survives_compile_and_export() -> None:
    inputs = {"a": randn(3, 2, *TORUS), "nu": randn(3, 2)}
    assert_captures(randomised(GLOBAL_INPUT), inputs, atol=1e-10)


def test_the_reference_of_a_global_plus_a_field() -> None:
    text = model(
        "T(2)",
        "torus(8, 6)",
        [
            "input a: 2 x scalar over torus",
            "input nu: 2 x scalar",
            "output u: 4 x scalar over torus = concat(nu * a + nu, a)",
        ],
    )
    a, nu = randn(6, 2, *TORUS), randn(6, 2)
    got = compile(text, dtype=torch.float64)(a=a, nu=nu)["u"]
    scaled = nu[:, :, None, None] * a + nu[:, :, None, None]
    torch.testing.assert_close(got, torch.cat([scaled, a], 1), rtol=0, atol=1e-12)


def test_check_feeds_per_sample_globals_in_a_batch_unlike_the_grid() -> None:
    module = compile(GLOBAL_INPUT)
    ir = module.meta["geoc_ir"]
    batch = field_batch(ir.domain)
    assert batch > 1 and batch not in ir.domain.grid
    assert field_batch(ir.domain, graphs=5) == 5
    assert field_batch(compile(POOLED.replace("8, 6", "3, 4")).meta["geoc_ir"].domain) == 5
    inputs = draw_field_inputs(ir, np.random.default_rng(0), torch.float64)
    assert inputs["nu"].shape == (batch, 2) and inputs["a"].shape == (batch, 2, *TORUS)
    assert check_module(module, trials=2).passed


def test_check_catches_tensor_broadcasting_of_a_global(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lowering that broadcast `[B, C]` against `[B, *grid, C]` by trailing dimensions (the
    bug) cannot pass `geoc check`: its batch differs from every grid size, so it fails."""
    monkeypatch.setattr(rt, "broadcast_batched", lambda value, like, channel_dim: value)
    module = compile(GLOBAL_INPUT)
    with pytest.raises(RuntimeError, match="must match"):
        check_module(module, trials=1)


# ---------------------------------------------------------------------------------------------
# Fields on a sphere, and the regular channels of a square torus under C(4)


def test_a_global_on_the_sphere_is_a_constant_field() -> None:
    text = model(
        "SO(3)",
        "sphere(nlat=8, nlon=16)",
        [
            "input u: 2 x scalar over sphere",
            "input nu: 2 x scalar",
            "output v: 2 x scalar over sphere = sfno_conv(u * nu, 2 x scalar) + nu",
        ],
    )
    module = randomised(text)
    u, nu = randn(8, 2, 8, 16), randn(8, 2)
    out = module(u=u, nu=nu)["v"]
    torch.testing.assert_close(out, _per_sample_uv(module, u, nu), rtol=0, atol=1e-12)
    assert check_module(module, trials=2, graphs=3).passed


def _per_sample_uv(module: torch.nn.Module, u: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
    return torch.cat([module(u=u[i : i + 1], nu=nu[i : i + 1])["v"] for i in range(len(u))])


def test_a_regular_global_meets_group_feature_maps() -> None:
    text = model(
        "C(4) x T(2)",
        "torus(6, 6)",
        [
            "input a: 2 x regular over torus",
            "input nu: 2 x regular",
            "output v: 2 x regular over torus = a + linear(nu, 2 x regular)",
        ],
    )
    assert check_module(randomised(text), trials=3).passed


# ---------------------------------------------------------------------------------------------
# Nodes and edges: a global [graphs, C] is gathered by `batch`


SET_MODEL = model(
    "S(set)",
    "set(set)",
    [
        "input h: 2 x scalar over set",
        "input nu: 2 x scalar",
        "output u: 2 x scalar over set = h * nu + linear(concat(h, nu), 2 x scalar)",
    ],
)


def test_a_global_per_graph_meets_the_nodes_of_its_graph() -> None:
    module = randomised(SET_MODEL)
    sizes = [3, 2, 4]
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    h, nu = randn(9, 2), randn(3, 2)
    out = module(h=h, nu=nu, batch=batch, num_graphs=3)["u"]
    parts = [module(h=part, nu=nu[g])["u"] for g, part in enumerate(h.split(sizes))]
    torch.testing.assert_close(out, torch.cat(parts), rtol=0, atol=1e-12)
    shared = module(h=h, nu=nu[0], batch=batch, num_graphs=3)["u"]  # one [C] for every graph
    torch.testing.assert_close(shared, module(h=h, nu=nu[0])["u"], rtol=0, atol=0)


def test_check_feeds_a_global_per_graph() -> None:
    module = randomised(SET_MODEL)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 5, 3, torch.float64)
    assert sample.inputs["nu"].shape == (3, 2)
    assert check_module(module, graphs=3).passed


def test_globals_on_edges_of_a_point_cloud() -> None:
    text = model(
        "E(3) x S(nodes)",
        "pointcloud(nodes, dim=3, edges=full)",
        [
            "input x: point(3) over nodes",
            "input h: 2 x scalar over nodes",
            "input nu: 2 x scalar",
            "r = x[dst] - x[src]",
            "m = sum(r * mlp(concat(nu, norm(r), h[src]), [4, 1]), over=edges, into=nodes)",
            "output v: 2 x scalar over nodes = h + nu + norm(m) * mean(h, over=nodes)",
        ],
    )
    module = randomised(text)
    for graphs in (1, 3):
        assert check_module(module, graphs=graphs, trials=2).passed


# ---------------------------------------------------------------------------------------------
# Where a constant has no meaning: rejected with a code at the global operand

SPHERE_HEAD = "input u: 2 x scalar over sphere"


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        # a global added to spherical-harmonic coefficients (every degree and order)
        (["input nu: 2 x scalar", "c = sht(u, lmax=4) + @nu"], "GEO314"),
        (["input nu: 2 x scalar", "c = @nu - sht(u, lmax=4)"], "GEO314"),
        # a global vector broadcast onto a field would make a vector field
        (["input nu: vector", "y = @nu * u"], "GEO310"),
        (["input nu: vector", "y = concat(u, @nu)"], "GEO310"),
    ],
)
def test_globals_without_a_constant_on_the_axis_are_rejected(lines: list[str], code: str) -> None:
    lines = [SPHERE_HEAD, *lines, "output v: 2 x scalar over sphere = u"]
    assert_fails_at(model("SO(3)", "sphere(nlat=8, nlon=16)", lines), code)
