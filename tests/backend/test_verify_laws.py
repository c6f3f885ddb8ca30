"""The stronger ``geoc check`` (issue 12): random parameters after the first trial, batches of
graphs by default, and a tolerance per law (exact laws to 1e-12 relative in float64; the
aliasing bound only on band-limited paths through a non-polynomial operator)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from geoc import pipeline
from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.domains.fields import BAND_LIMITED_RTOL
from geoc.backends.torch_fx.manifold.riemannian import manifold_parameters
from geoc.backends.torch_fx.verify import check, check_module
from geoc.backends.torch_fx.verify.laws import field_degrees
from geoc.backends.torch_fx.verify.params import random_parameters
from geoc.diagnostics import GeoError

pytestmark = pytest.mark.usefixtures("one_thread")

VECTORS = """
model Vectors() {
    symmetry O(3)
    input v: 2 x vector + scalar
    output y: vector + scalar = linear(v, vector + scalar)
}
"""

NORMS = """
model Norms() {
    symmetry O(3)
    input v: 3 x vector
    output n: 3 x scalar = sqnorm(v)
}
"""


# --- deliberately broken kernels (module level: fx prints them by name) -----------------------

IRREP_LINEAR, COPY_SQNORM = rt.irrep_linear, rt.copy_sqnorm  # the correct kernels


def bias_on_every_channel(
    x: Tensor,
    weights: list[Tensor],
    in_index: list[Tensor],
    dims: tuple[int, ...],
    out_perm: Tensor,
    biases: list[Tensor | None],
) -> Tensor:
    """A classic bug: the scalar block's bias added to the vector components as well."""
    out = IRREP_LINEAR(x, weights, in_index, dims, out_perm, [None] * len(biases))
    bias = next(b for b in biases if b is not None)
    return out + bias.sum()


def slightly_directional_sqnorm(x: Tensor, terms: tuple[tuple[int, int], ...]) -> Tensor:
    """Off by up to 3e-12 of its size, depending on the direction: far below the old fixed atol
    1e-10 on inputs of order one, far above rounding."""
    exact = COPY_SQNORM(x, terms)
    return exact * (1 + 3e-12 * torch.tanh(x[..., :1]))


# --- random parameters ------------------------------------------------------------------------


def test_a_bug_hidden_by_the_initial_parameters_shows_with_random_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bias wrongly added to vector channels is invisible while the bias is zero (as a
    zero initialisation leaves it); the trials with random parameters catch it."""
    with monkeypatch.context() as patch:
        patch.setattr(rt, "irrep_linear", bias_on_every_channel)
        module = compile(VECTORS, dtype=torch.float64)
    bias = next(p for name, p in module.named_parameters() if "bias" in name)
    with torch.no_grad():
        bias.zero_()
    assert check_module(module, random_params=False, trials=4).passed
    report = check_module(module, trials=4)
    assert not report.passed
    assert report.random_trials == [1, 2, 3]
    assert report.first_failure is not None and report.first_failure.node == "y"
    assert report.first_failure.trial >= 1
    assert float(bias.detach().abs().max()) == 0.0  # the caller's module is untouched
    assert "trial 1 as compiled; trials 2, 3, 4 random" in report.render()


SPD_BIMAP = """model BiMapNet() {
    symmetry trivial
    input x: spd(5)
    r = reeig(bimap(x, 3))
    output y: 2 x scalar = mlp(eigvals(logeig(r)), [8, 2])
}
"""


def test_random_parameters_keep_shape_scale_and_manifolds() -> None:
    module = compile(SPD_BIMAP, dtype=torch.float64)
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    drawn = random_parameters(module, np.random.default_rng(0))
    stiefel = [
        n for n, spec in manifold_parameters(module).items() if spec["manifold"] == "stiefel"
    ]
    assert stiefel and manifold_parameters(drawn) == manifold_parameters(module)
    for name, new in drawn.named_parameters():
        old = before[name]
        assert new.shape == old.shape and new.dtype == old.dtype
        assert not torch.equal(new, old)
        assert torch.equal(module.get_parameter(name), old)  # the original stays
    for name in stiefel:
        w = drawn.get_parameter(name).detach()
        eye = torch.eye(w.shape[-1], dtype=w.dtype).expand(w.shape[0], -1, -1)
        assert torch.allclose(w.transpose(-1, -2) @ w, eye, atol=1e-12)


def test_random_poincare_points_stay_inside_the_ball() -> None:
    module = compile("poincare_mlp", dtype=torch.float64)
    balls = {n: s for n, s in manifold_parameters(module).items() if s["manifold"] == "poincare"}
    assert balls
    drawn = random_parameters(module, np.random.default_rng(1))
    for name, spec in balls.items():
        radius = 1 / math.sqrt(spec["c"])
        assert float(drawn.get_parameter(name).detach().norm(dim=-1).max()) < radius


# --- the exact-law tolerance ------------------------------------------------------------------


def test_exact_laws_are_held_to_1e_12_relative_not_a_fixed_atol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A direction-dependent error of a few 1e-12 relative passes the old fixed atol 1e-10
    but breaks the exact law (rounding alone stays near 1e-16)."""
    with monkeypatch.context() as patch:
        patch.setattr(rt, "copy_sqnorm", slightly_directional_sqnorm)
        module = compile(NORMS, dtype=torch.float64)
    assert check_module(module, trials=4, atol=1e-10).passed  # what the old default let through
    report = check_module(module, trials=4)
    assert not report.passed
    (row,) = report.outputs
    assert 1e-12 < row.rel_error < 1e-10 and row.max_error < 1e-10
    assert report.first_failure is not None and report.first_failure.op == "sqnorm"
    text = report.render()
    assert "tolerance: error <= 1e-12 x max(|g·f(x)|, 1) per output and trial" in text


def test_large_outputs_are_held_relative_to_their_size() -> None:
    """Rounding on an output of size 1e7 exceeds a fixed atol 1e-10 without any bug."""
    spec = VECTORS.replace("linear(v, vector + scalar)", "1e7 * linear(v, vector + scalar)")
    module = compile(spec, dtype=torch.float64)
    report = check_module(module, trials=4)
    assert report.passed, report.render()
    (row,) = report.outputs
    assert row.max_error > 1e-10 and row.rel_error < 1e-13
    assert row.tolerance == pytest.approx(1e-12 * row.max_error / row.rel_error)
    assert not check_module(module, trials=4, atol=1e-10).passed


def test_report_states_batches_and_bounds() -> None:
    report = check("deepsets", params={"hidden": 8})
    assert report.graphs == 2
    text = report.render()
    assert ", batch of 2 graphs" in text.splitlines()[0]
    assert text.splitlines()[1].split()[-2:] == ["bound", "status"]
    assert all(row.tolerance >= 1e-12 for row in report.outputs)


# --- band-limited rotations: exact where no operator aliases ----------------------------------

SPHERE = """
model Sphere() {{
    symmetry SO(3)
    domain sphere(nlat=8, nlon=16)
    input u: 2 x scalar over sphere
    output v: 2 x scalar over sphere = {}
}}
"""


def _band_limited(body: str) -> tuple[bool, float, float, str]:
    report = check(SPHERE.format(body), trials=2)
    (row,) = report.band_limited
    return row.passed, row.rel_error, row.rtol, row.reason


def test_a_linear_spherical_layer_past_the_grid_degree_fails_the_exact_law(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12: `sfno_conv` with lmax=8 on an 8x16 grid aliases. The typing rules reject it
    (GEO412); were they to accept it, the check holds a linear layer to rounding instead of
    the 5e-2 meant for non-linearities, and fails it."""
    layer = "sfno_conv(u, 2 x scalar, lmax=8)"
    with pytest.raises(GeoError) as err:
        compile(SPHERE.format(layer))
    assert err.value.codes == ["GEO412"]
    monkeypatch.setattr(pipeline, "check_equivariance", lambda graph: [])  # a wrong proof
    passed, error, rtol, reason = _band_limited(layer)
    assert not passed and error > 1e-6
    assert rtol == 1e-12 and reason.startswith("exact law: degree 1")


def test_linear_and_quadratic_paths_are_exact_a_nonlinearity_gets_the_stated_bound() -> None:
    passed, error, rtol, _ = _band_limited("sfno_conv(u, 2 x scalar) + linear(u, 2 x scalar)")
    assert passed and rtol == 1e-12 and error < 1e-12
    passed, _, rtol, reason = _band_limited("linear(u, scalar) * linear(u, 2 x scalar)")
    assert passed and rtol == 1e-12 and reason.startswith("exact law: degree 2")
    passed, _, rtol, reason = _band_limited("act(linear(u, 2 x scalar), gelu)")
    assert passed and rtol == BAND_LIMITED_RTOL
    assert reason == "aliasing bound: `act` at 6:40 creates degrees above l = 4"


def test_field_degrees_follow_the_operator_traits() -> None:
    ir = compile(
        SPHERE.format("act(u, relu) + linear(u, scalar) * (u + sfno_conv(u, 2 x scalar))")
    ).meta["geoc_ir"]
    degrees = field_degrees(ir)
    by_op = {node.op: degrees[node.id] for node in ir.nodes}
    assert by_op["input"].degree == 1 and by_op["sfno_conv"].degree == 1
    assert by_op["mul"].degree == 2 and by_op["mul"].raised_by.op == "mul"
    assert by_op["act"].degree == math.inf and by_op["act"].raised_by.op == "act"
    output = degrees[ir.outputs["v"].value.node]
    assert output.degree == math.inf and output.raised_by.op == "act"
