"""The activations of the one table (compiler/ops/layers.py), shown on `sin` (SIREN's): its
typing rule on scalars, pseudoscalars (odd) and vectors, its numbers against torch, and its
equivariance measured in float64."""

from __future__ import annotations

import pytest
import torch

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.elaborate import elaborate
from geoc.grammar.parser import parse
from geoc.ops.layers import ACTIVATIONS
from geoc.program import load_program


def spec(group: str, ftype: str, fn: str = "sin") -> str:
    return f"""model M() {{
    symmetry {group}
    domain set(nodes)
    input x: {ftype} over nodes
    output y: {ftype} over nodes = act(x, {fn})
}}
"""


def typed(text: str) -> str:
    graph = elaborate(load_program(parse(text), text, None))
    return str(graph.outputs["y"].type)


def test_sin_is_an_odd_activation() -> None:
    assert ACTIVATIONS["sin"].odd and ACTIVATIONS["sin"].torch == "torch.sin"


@pytest.mark.parametrize(
    "group, ftype",
    [("S(nodes)", "4 x scalar"), ("O(3) x S(nodes)", "2 x pseudoscalar + 3 x scalar")],
)
def test_sin_keeps_the_type(group: str, ftype: str) -> None:
    assert typed(spec(group, ftype)) == f"{ftype} over nodes"


def test_sin_is_equivariant_on_pseudoscalars_but_not_on_vectors() -> None:
    assert check(spec("O(3) x S(nodes)", "2 x pseudoscalar + scalar")).passed
    with pytest.raises(GeoError) as err:
        compile(spec("O(3) x S(nodes)", "vector"))
    assert err.value.diagnostics[0].code == "GEO402"


def test_an_even_activation_is_not_allowed_on_pseudoscalars() -> None:
    with pytest.raises(GeoError) as err:
        compile(spec("O(3) x S(nodes)", "pseudoscalar", fn="relu"))
    assert err.value.diagnostics[0].code == "GEO402"


def test_sin_computes_torch_sin() -> None:
    module = compile(spec("S(nodes)", "4 x scalar"), dtype=torch.float64)
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(module(x=x)["y"], torch.sin(x), rtol=0, atol=0)
