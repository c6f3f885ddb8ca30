"""Issue 12: the contracts every normalising operator shares, and which operators keep values on
a manifold.

* An operator that measures copies by the Euclidean norm (its ``euclidean_norm`` trait: `norm`,
  `sqnorm`, `dot`, `norm_act`, `layer_norm`, `normalize`, `spherical_harmonics`) is `GEO420` on
  Lorentz(n) / Sp(n) vectors, whose invariant forms are η and J, not the identity.
* Only an operator that keeps values on their manifold (``keeps_manifold``) types its result as
  a manifold point: `layer_norm(u)` of `unit(3)` values is a `vector` (it leaves the sphere),
  and a Lorentz result of a Euclidean operator is `GEO411`.

Numeric checks use an independent harness: random parameters, random orthogonal matrices (with
reflections) applied to the inputs here, float64."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.ops import REGISTRY, lookup
from geoc.pipeline import frontend


def spec(group: str, body: str, inputs: str) -> str:
    return f"model M() {{\n    symmetry {group}\n{inputs}\n{body}\n}}\n"


VECTORS = "    input v: 2 x vector\n    input s: 2 x scalar"


# ---------------------------------------------------------------------------------------------
# Finding: norm_act / layer_norm under Lorentz(n) and Sp(n) used Euclidean norms


@pytest.mark.parametrize("group", ["Lorentz(3)", "Sp(2)"])
@pytest.mark.parametrize(
    "expr", ["norm_act(@v)", "layer_norm(@v)", "norm(@v)", "sqnorm(@v)", "dot(@v, v)"]
)
def test_euclidean_norms_of_non_orthogonal_vectors_are_rejected(group: str, expr: str) -> None:
    body = f"    output y: 2 x vector = {expr}" if "_" in expr else f"    y = {expr}"
    body += "\n    output z: 2 x scalar = s"
    err = assert_fails_at(spec(group, body, VECTORS), "GEO420")
    assert f"under {group}" in err.diagnostics[0].message
    assert "mdot" in err.diagnostics[0].help


@pytest.mark.parametrize("group", ["Lorentz(3)", "Sp(2)"])
@pytest.mark.parametrize("expr", ["layer_norm(s)", "norm_act(s)", "gate(concat(s, v))"])
def test_invariant_or_norm_free_operators_stay_accepted(group: str, expr: str) -> None:
    """Scalars are invariant under any group, and `gate` scales by invariants without a norm."""
    kind = "2 x scalar + 2 x vector" if "gate" in expr else "2 x scalar"
    frontend(spec(group, f"    output y: {kind} = {expr}", VECTORS))


def test_every_operator_that_takes_a_norm_declares_it() -> None:
    """The trait is on every operator whose doc says it divides by or takes a norm: a new
    normalising operator cannot skip the group's check by forgetting it."""
    lookup("norm")  # loads every family
    normalising = {"norm", "sqnorm", "dot", "norm_act", "layer_norm", "normalize"}
    assert normalising <= {n for n, op in REGISTRY.items() if op.traits.euclidean_norm}
    assert not REGISTRY["gate"].traits.euclidean_norm  # sigmoids of invariants: no norm


@pytest.mark.parametrize("expr", ["norm_act(v)", "layer_norm(v)"])
def test_normalising_layers_are_equivariant_under_o3(expr: str) -> None:
    module = _compile("O(3)", f"    output y: 2 x vector = {expr}", VECTORS)
    v = torch.randn(5, 6, dtype=torch.float64)
    s = torch.randn(5, 2, dtype=torch.float64)
    for _ in range(3):
        q = _random_orthogonal()
        rotated = module(v=(v.view(5, 2, 3) @ q.T).reshape(5, 6), s=s)["y"]
        expected = (module(v=v, s=s)["y"].view(5, 2, 3) @ q.T).reshape(5, 6)
        torch.testing.assert_close(rotated, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Finding: gate / layer_norm / norm_act of unit(3) values kept the unit(3) type


UNITS = "    input u: 2 x unit(3)\n    input s: 2 x scalar"


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ("layer_norm(u)", "2 x vector"),
        ("norm_act(u)", "2 x vector"),
        ("gate(concat(s, u))", "2 x scalar + 2 x vector"),
        ("-u", "2 x vector"),
        ("linear(u, 2 x unit(3))", "2 x vector"),
    ],
)
def test_euclidean_results_of_unit_vectors_are_not_unit_vectors(expr: str, result: str) -> None:
    text = spec("O(3)", f"    output y: 2 x unit(3) = @{expr}", UNITS)
    err = assert_fails_at(text, "GEO306")
    assert f"its value is `{result}`" in err.diagnostics[0].message


@pytest.mark.parametrize("expr", ["concat(a, a)", "normalize(layer_norm(u))"])
def test_manifold_preserving_operators_keep_unit_vectors(expr: str) -> None:
    frontend(spec("O(3)", f"    output y: 2 x unit(3) = {expr}", UNITS + "\n    input a: unit(3)"))


def test_a_euclidean_operator_cannot_make_lorentz_points() -> None:
    inputs = "    input h: 4 x scalar"
    err = assert_fails_at(spec("trivial", "    y = @linear(h, lorentz(4))", inputs), "GEO411")
    assert "does not keep values on the Lorentz model" in err.diagnostics[0].message


@pytest.mark.parametrize("expr", ["layer_norm(u)", "norm_act(u)", "gate(concat(s, u))"])
def test_layers_of_unit_vectors_are_equivariant_vectors(expr: str) -> None:
    """Typed as vectors, the results rotate with the inputs (random parameters, O(3))."""
    kind = "2 x scalar + 2 x vector" if "gate" in expr else "2 x vector"
    module = _compile("O(3)", f"    output y: {kind} = {expr}", UNITS)
    u = torch.nn.functional.normalize(torch.randn(5, 2, 3, dtype=torch.float64), dim=-1)
    s = torch.randn(5, 2, dtype=torch.float64)
    y = module(u=u.reshape(5, 6), s=s)["y"]
    vec = slice(2, 8) if "gate" in expr else slice(0, 6)
    lengths = y[:, vec].view(5, 2, 3).norm(dim=-1)
    assert not torch.allclose(lengths, torch.ones_like(lengths))  # off the sphere
    for _ in range(3):
        q = _random_orthogonal()
        moved = module(u=(u @ q.T).reshape(5, 6), s=s)["y"]
        expected = y.clone()
        expected[:, vec] = (y[:, vec].view(5, 2, 3) @ q.T).reshape(5, 6)
        torch.testing.assert_close(moved, expected, rtol=1e-12, atol=1e-12)


def _compile(group: str, body: str, inputs: str) -> torch.fx.GraphModule:
    module = geoc_compile(spec(group, body, inputs), dtype=torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    return module


def _random_orthogonal() -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    return q if torch.rand(()) < 0.5 else -q  # with and without a reflection
