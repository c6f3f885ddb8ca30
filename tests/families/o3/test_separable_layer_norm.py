# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""``layer_norm(x, norm=separable)``, EquiformerV2's separable layer norm (Liao et al. 2024,
arXiv:2306.12059, section 4.3): typing and its diagnostics; agreement with the paper's
equations written on EquiformerV2's own array layout ``[N, (lmax+1)^2, C]`` (``nn.LayerNorm``
on degree 0, one degree-balanced RMS over the degrees > 0, an affine weight per degree and
channel); invariance of the RMS under O(3) x S(nodes) in float64; finite second derivatives."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails_at, elaborated

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
C, LMAX, N = 4, 3, 6
X = " + ".join(f"{C}x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(LMAX + 1))


def _spec(call: str = "layer_norm(x, norm=separable)", x: str = X, out: str = X) -> str:
    return f"""model M() {{
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(2.0))
    input x: {x} over nodes
    input pos: point(3) over nodes
    output y: {out} over nodes = {call}
}}"""


def test_types_as_its_input() -> None:
    assert str(elaborated(_spec()).outputs["y"].type) == f"{X} over nodes"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ("layer_norm(x, norm=@joint)", "GEO302"),  # no such norm
        ("layer_norm(@pos, norm=separable)", "GEO404"),  # a point
    ],
)
def test_errors(call: str, code: str) -> None:
    out = "point(3)" if "pos" in call else X
    assert_fails_at(_spec(call, out=out), code)


def to_array(x: torch.Tensor) -> torch.Tensor:
    """geoc's layout (degree by degree, ``[C, 2l+1]`` each) to EquiformerV2's
    ``[N, (lmax+1)^2, C]``."""
    blocks, start = [], 0
    for l in range(LMAX + 1):
        width = C * (2 * l + 1)
        blocks.append(x[:, start : start + width].reshape(len(x), C, 2 * l + 1).transpose(1, 2))
        start += width
    return torch.cat(blocks, 1)


def from_array(x: torch.Tensor) -> torch.Tensor:
    return torch.cat(
        [x[:, l * l : (l + 1) ** 2].transpose(1, 2).flatten(1) for l in range(LMAX + 1)], 1
    )


def separable_layer_norm(
    x: torch.Tensor, ln_weight, ln_bias, affine_weight, eps: float = 1e-5
) -> torch.Tensor:
    """The paper's SLN on ``[N, (lmax+1)^2, C]``: degree 0 through ``nn.LayerNorm`` over the
    channels; degrees > 0 divided by ``sqrt(mean_l mean_{m,c} x^2 + eps)`` (each degree's mean
    over its 2l+1 components and C channels, then the mean over the degrees), times an affine
    weight per degree and channel."""
    out = [F.layer_norm(x[:, :1], (C,), ln_weight, ln_bias, eps)]
    balanced = torch.stack(
        [x[:, l * l : (l + 1) ** 2].pow(2).mean(dim=(1, 2)) for l in range(1, LMAX + 1)], -1
    ).mean(-1)
    scale = (balanced + eps).pow(-0.5)[:, None, None]
    for l in range(1, LMAX + 1):
        out.append(x[:, l * l : (l + 1) ** 2] * scale * affine_weight[l - 1])
    return torch.cat(out, 1)


def test_equals_the_papers_equations() -> None:
    module = geoc_compile(_spec(), dtype=F64)
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(C * (LMAX + 1), generator=gen, dtype=F64)
    bias = torch.randn(C, generator=gen, dtype=F64)
    with torch.no_grad():
        module.get_parameter("y.weight").copy_(weight)
        module.get_parameter("y.bias").copy_(bias)
    x = torch.randn(N, sum(C * (2 * l + 1) for l in range(LMAX + 1)), generator=gen, dtype=F64)
    x = x * torch.linspace(0.5, 3.0, x.shape[1], dtype=F64) + 0.7  # degrees of unequal size
    got = module(x=x, pos=torch.randn(N, 3, generator=gen, dtype=F64))["y"]
    affine = weight[C:].reshape(LMAX, C)
    want = from_array(separable_layer_norm(to_array(x), weight[:C], bias, affine))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    plain = geoc_compile(_spec("layer_norm(x)"), dtype=F64)
    per_type = plain(x=x, pos=torch.zeros(N, 3, dtype=F64))["y"]
    assert (per_type - want).abs().max() > 1e-3  # the two norms differ


def test_round_trip_of_the_layouts() -> None:
    x = torch.randn(3, sum(C * (2 * l + 1) for l in range(LMAX + 1)), dtype=F64)
    assert torch.equal(from_array(to_array(x)), x)


@pytest.mark.parametrize("graphs", [1, 3])
def test_check_passes(graphs: int) -> None:
    x = "3x0e + 2x0o + 4x1o + 2x1e + 2x2e"
    report = check(_spec(x=x, out=x), graphs=graphs, trials=4, seed=graphs)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


def test_second_derivatives_are_finite_at_zero() -> None:
    module = geoc_compile(_spec(), dtype=F64)
    x = torch.zeros(N, sum(C * (2 * l + 1) for l in range(LMAX + 1)), dtype=F64)
    x[0, 0] = 1.0
    x.requires_grad_(True)
    y = module(x=x, pos=torch.zeros(N, 3, dtype=F64))["y"]
    (first,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.pow(2).sum(), x)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
