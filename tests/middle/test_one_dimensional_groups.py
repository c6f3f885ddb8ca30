"""O(1) and E(1): on R^1 a vector is the sign representation and a pseudovector is invariant
(det(g)·g = g² = 1). Issue 12 found the two swapped in the typing rules, so `mlp(v)` was
accepted. Each case is checked statically, and every accepted one by a reflection x -> -x
applied here, independently of geoc's checker, with random parameters in float64."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_fails_at

import geoc

# (expression, output type, None if accepted else the code of the rejection at the `@`)
CASES = [
    ("mlp(@v, [4])", "4 x scalar", "GEO401"),
    ("mlp(pv, [4])", "4 x scalar", None),
    ("linear(@v, scalar)", "scalar", "GEO403"),
    ("linear(@pv, pseudoscalar)", "pseudoscalar", "GEO403"),
    ("linear(v, pseudoscalar)", "pseudoscalar", None),
    ("linear(pv, scalar)", "scalar", None),
    ("concat(act(linear(pv, 3 x scalar), relu), norm(v))", "4 x scalar", None),
    ("linear(v, vector) + v", "vector", None),
]


def spec(group: str, expr: str, out: str) -> str:
    return f"""model M() {{
    symmetry {group} x S(nodes)
    domain   pointcloud(nodes, dim=1, edges=full)
    input x: point(1) over nodes
    input v: vector over nodes
    input pv: pseudovector over nodes
    output y: {out} over nodes = {expr}
}}"""


# How the reflection g = -1 acts on each output type of the table.
SIGN_OF_OUTPUT = {"scalar": 1, "4 x scalar": 1, "pseudoscalar": -1, "vector": -1}


@pytest.mark.parametrize("group", ["O(1)", "E(1)"])
@pytest.mark.parametrize(("expr", "out", "code"), CASES, ids=[c[0].replace("@", "") for c in CASES])
def test_vector_is_the_sign_and_pseudovector_invariant(group, expr, out, code) -> None:
    if code is not None:
        assert_fails_at(spec(group, expr, out), code)
        return
    module = geoc.compile(spec(group, expr, out), dtype=torch.float64, seed=3)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=gen, dtype=torch.float64))
        inputs = {name: torch.randn(5, 1, generator=gen, dtype=torch.float64) for name in "xvp"}
        inputs["pv"] = inputs.pop("p")
        shift = 0.7 if group == "E(1)" else 0.0
        moved = {"x": shift - inputs["x"], "v": -inputs["v"], "pv": inputs["pv"]}
        expected = SIGN_OF_OUTPUT[out] * module(**inputs)["y"]
        torch.testing.assert_close(module(**moved)["y"], expected, rtol=1e-12, atol=1e-12)
