"""Fields of Lorentz and Poincaré points (HCNN, Poincaré ResNet): a flat grid whose group only
moves its points carries one point per grid point (or several, ``concat``); the pointwise
manifold operators act at every point, their lowering equals the same operators on a set of
points, the checker draws points on their manifolds and measures membership channel-first;
SPD, unit and rotated-grid fields stay GEO310/GEO330, Euclidean field layers GEO321."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at, checked_type

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.pipeline import frontend

# The statements under test start on line 6.
FIELD = """model F(dim: int = 4) {{
    symmetry {group}
    domain {domain}
    input a: dim x scalar over {axis}
    h = expmap0(a, manifold=lorentz(dim, k=0.5))
{body}
}}
"""
TORUS = {"group": "T(2)", "domain": "torus(6, 8)", "axis": "torus"}

# Pointwise maps of the points, a whole-grid centroid, both balls, heads per grid point.
BODY = """    z = lorentz_act(lorentz_linear(h, 5, act=relu), tanh)
    m = lorentz_centroid(concat(z, lorentz_linear(h, 5)))
    p = expmap0(logmap0(m), manifold=poincare(5, c=2.0))
    q = mobius_add(p, mobius_linear(p, 5, act=tanh))
    output seg: 3 x scalar over {axis} = lorentz_mlr(m, 3) + poincare_mlr(q, 3)
    output g: lorentz(5, k=0.5) = lorentz_centroid(m, over={axis})"""


def _spec(body: str, **where: str) -> str:
    filled = {**TORUS, **where}
    return FIELD.format(body=body.format(axis=filled["axis"]), **filled)


@pytest.mark.parametrize(
    ("expr", "typed"),
    [
        ("lorentz_linear(h, 6, act=relu)", "lorentz(6, k=0.5) over torus"),
        ("lorentz_act(h, relu)", "lorentz(4, k=0.5) over torus"),
        ("lorentz_mlr(h, 3)", "3 x scalar over torus"),
        ("lorentz_centroid(concat(h, h))", "lorentz(4, k=0.5) over torus"),
        ("lorentz_centroid(h, over=torus)", "lorentz(4, k=0.5)"),
        ("logmap0(h)", "4 x scalar over torus"),
        ("mobius_linear(expmap0(a, manifold=poincare(4)), 2)", "poincare(2, c=1.0) over torus"),
        ("poincare_mlr(expmap0(a, manifold=poincare(4)), 2)", "2 x scalar over torus"),
    ],
)
def test_pointwise_manifold_operators_type_on_torus_fields(expr: str, typed: str) -> None:
    text = _spec(f"    y = {expr}\n    output o: dim x scalar over torus = a")
    assert checked_type(text) == typed


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # a field carries no SPD matrix, unit vector or point where the group rotates the grid
        ("    output o: @unit(4) over torus = normalize(a)", "GEO310"),
        ("    input s: @spd(2) over torus\n    output o: dim x scalar over torus = a", "GEO310"),
        ("    y = @normalize(a)\n    output o: dim x scalar over torus = a", "GEO310"),
        # Euclidean field layers name the hyperbolic convolution
        ("    output o: 4 x scalar over torus = conv(@h, 4 x scalar, kernel=3)", "GEO321"),
        ("    output o: 4 x scalar over torus = spectral_conv(@h, 4 x scalar, modes=2)", "GEO321"),
        ("    output o: 5 x scalar = mean(@h, over=torus)", "GEO320"),
        ("    output o: 5 x scalar over torus = @h + h", "GEO320"),
    ],
)
def test_what_a_field_of_points_refuses(body: str, code: str) -> None:
    error = assert_fails_at(_spec(body), code)
    if code == "GEO321" and "conv" in body:
        assert "lorentz_conv" in error.render()


def test_rotated_grid_carries_no_points() -> None:
    text = FIELD.format(
        group="C(4)",
        domain="torus(8, 8)",
        axis="torus",
        body="    output o: dim x scalar over torus = a",
    ).replace("manifold=lorentz", "manifold=@lorentz")
    assert_fails_at(text, "GEO330")


@pytest.mark.parametrize(
    "where",
    [TORUS, {"group": "trivial", "domain": "grid(5, 7, boundary=zero)", "axis": "grid"}],
    ids=["torus", "grid"],
)
def test_check_passes_with_points_on_their_manifolds(where: dict[str, str]) -> None:
    report = check(frontend(_spec(BODY, **where)), trials=3)
    assert report.passed, report.render()
    rendered = report.render()
    assert "lorentz:" in rendered and "poincare:" in rendered


def test_fields_of_points_equal_the_same_operators_on_a_set() -> None:
    """Every grid point is mapped as one element of a set: the lowering moves the channels
    last for the point kernels and back, and pools the centroid over every point."""
    field = geoc_compile(_spec(BODY), dtype=torch.float64)
    on_set = geoc_compile(
        _spec(BODY, group="S(set)", domain="set(set)", axis="set"), dtype=torch.float64
    )
    on_set.load_state_dict(field.state_dict())
    a = torch.randn(2, 4, 6, 8, dtype=torch.float64)
    out = field(a=a)
    for sample in range(2):
        points = a[sample].flatten(1).T  # [48, 4]: the grid points as a set
        ref = on_set(a=points)
        torch.testing.assert_close(out["seg"][sample].flatten(1).T, ref["seg"], atol=1e-12, rtol=0)
        torch.testing.assert_close(out["g"][sample], ref["g"], atol=1e-12, rtol=0)


def test_second_derivatives_of_a_field_of_points_are_finite() -> None:
    module = geoc_compile(_spec(BODY), dtype=torch.float64)
    a = torch.zeros(1, 4, 6, 8, dtype=torch.float64, requires_grad=True)  # the origin: a tie
    out = module(a=a)
    (grad,) = torch.autograd.grad(out["seg"].sum() + out["g"].sum(), a, create_graph=True)
    (second,) = torch.autograd.grad(grad.pow(2).sum(), a)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
