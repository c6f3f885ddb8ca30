"""Each rewrite of geoc.optimize: where it fires, where its precondition keeps it from firing,
and that what it writes computes what was written (float64, random inputs and parameters)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.lower import lower
from geoc.backends.torch_fx.verify.check import draw_sample
from geoc.ir import Graph
from geoc.optimize import RewriteBroke, optimise
from geoc.optimize.edit import rebuild, retype
from geoc.pipeline import frontend


def _model(body: str, inputs: str, domain: str = "pointcloud(nodes, dim=3, edges=full)") -> str:
    return f"""
model M() {{
    symmetry E(3) x S(nodes)
    domain {domain}
    {inputs}
{body}
}}
"""


POINTS = "input h: 8 x scalar over nodes\n    input x: point(3) over nodes"


def _fired(text: str) -> list[tuple[str, str]]:
    return [(f.rewrite, f.node) for f in optimise(frontend(text), strict=True).fired]


def _same_function(text: str) -> None:
    written = frontend(text)
    a = lower(written, dtype=torch.float64).double()
    b = lower(optimise(written, strict=True).graph, dtype=torch.float64).double()
    b.load_state_dict(a.state_dict(), strict=True)
    for param in a.parameters():  # random parameters, biases included
        param.data.normal_(generator=torch.Generator().manual_seed(param.numel()))
    b.load_state_dict(a.state_dict(), strict=True)
    sample = draw_sample(written, np.random.default_rng(3), 5, 2, torch.float64)
    got, expected = b(**sample.inputs), a(**sample.inputs)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-12, atol=1e-12)


# --- linear before gather ---------------------------------------------------------------------

SPLIT = """    r = x[dst] - x[src]
    m = mlp(concat(h[dst], h[src], sqnorm(r)), [6, 4])
    output y: 4 x scalar = sum(sum(m, over=edges, into=nodes), over=nodes)"""


def test_first_layer_on_gathered_parts_is_split() -> None:
    text = _model(SPLIT, POINTS)
    assert _fired(text) == [("linear before gather", "m")]
    _same_function(text)


def test_a_dense_linear_on_gathered_parts_is_split() -> None:
    body = """    e = linear(concat(h[dst], h[src]), 5 x scalar)
    output y: 5 x scalar = sum(sum(e, over=edges, into=nodes), over=nodes)"""
    assert _fired(_model(body, POINTS)) == [("linear before gather", "e")]
    _same_function(_model(body, POINTS))


@pytest.mark.parametrize(
    "body",
    [
        # nothing is gathered: every part is already per edge
        """    r = x[dst] - x[src]
    m = mlp(concat(sqnorm(r), norm(r)), [4])
    output y: 4 x scalar = sum(sum(m, over=edges, into=nodes), over=nodes)""",
        # a linear map of vectors is not a matrix on the concatenated columns (Schur blocks)
        """    v = x[dst] - x[src]
    e = linear(concat(v, v), vector)
    output y: vector = sum(sum(e, over=edges, into=nodes), over=nodes)""",
        # over nodes, nothing to move
        """    m = mlp(concat(h, sqnorm(h)), [4])
    output y: 4 x scalar = sum(m, over=nodes)""",
        # a global part is broadcast onto the edges by graph: the split does not place it
        """    g = sum(h, over=nodes)
    m = mlp(concat(h[src], g), [4])
    output y: 4 x scalar = sum(sum(m, over=edges, into=nodes), over=nodes)""",
    ],
    ids=["no-gather", "vectors", "over-nodes", "global-part"],
)
def test_first_layer_split_needs_gathered_invariant_scalars(body: str) -> None:
    assert [f for f in _fired(_model(body, POINTS)) if f[0] == "linear before gather"] == []


def test_a_learned_map_of_one_gathered_value_moves_before_the_gather() -> None:
    body = """    e = mlp(h[src], [4])
    output y: 4 x scalar = sum(sum(e, over=edges, into=nodes), over=nodes)"""
    assert _fired(_model(body, POINTS)) == [("linear before gather", "e")]
    _same_function(_model(body, POINTS))


def test_a_parameter_free_map_of_a_shared_gather_stays() -> None:
    """`h[src]` has another reader: moving `act` would add a gather and save nothing (and
    the two `h[src]` written are one value)."""
    body = """    e = act(h[src], relu) * h[src]
    output y: 8 x scalar = sum(sum(e, over=edges, into=nodes), over=nodes)"""
    assert [r for r, _ in _fired(_model(body, POINTS))] == ["common subexpression"]


def test_a_parameter_free_map_of_gathers_at_one_end_moves() -> None:
    body = """    n = sqnorm(h)
    e = h[src] * n[src]
    output y: 8 x scalar = sum(sum(e, over=edges, into=nodes), over=nodes)"""
    assert _fired(_model(body, POINTS)) == [("linear before gather", "e")]
    _same_function(_model(body, POINTS))


# --- linear across scatter --------------------------------------------------------------------


def test_a_bias_free_linear_moves_across_the_sum_onto_nodes() -> None:
    body = """    r = x[dst] - x[src]
    m = mlp(sqnorm(r), [8])
    s = sum(linear(m, 6 x scalar, bias=false), over=edges, into=nodes)
    output y: 6 x scalar = sum(s, over=nodes)"""
    assert _fired(_model(body, POINTS)) == [("linear across scatter", "s")]
    _same_function(_model(body, POINTS))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_a_linear_with_a_bias_does_not_move_across_the_scatter(reduction: str) -> None:
    """sum(W m + b) = W sum(m) + deg·b, and a mean over no edge is 0, not b."""
    body = f"""    r = x[dst] - x[src]
    m = mlp(sqnorm(r), [8])
    s = {reduction}(linear(m, 6 x scalar), over=edges, into=nodes)
    output y: 6 x scalar = sum(s, over=nodes)"""
    assert _fired(_model(body, POINTS)) == []


def test_a_linear_read_elsewhere_does_not_move() -> None:
    body = """    r = x[dst] - x[src]
    m = linear(mlp(sqnorm(r), [8]), 6 x scalar, bias=false)
    s = sum(m, over=edges, into=nodes)
    output y: 6 x scalar = sum(s, over=nodes) + sum(mean(m, over=edges, into=nodes), over=nodes)"""
    assert ("linear across scatter", "s") not in _fired(_model(body, POINTS))


def test_a_narrow_readout_moves_onto_the_edges_when_cheaper() -> None:
    """`linear(sum(m))` to one channel: summing 1 channel per edge beats summing 64."""
    body = """    r = x[dst] - x[src]
    m = mlp(sqnorm(r), [64])
    s = linear(mean(m, over=edges, into=nodes), scalar, bias=false)
    output y: scalar = sum(s, over=nodes)"""
    assert _fired(_model(body, POINTS, "pointcloud(nodes, dim=3, edges=knn(4))")) == [
        ("linear across scatter", "s")
    ]
    _same_function(_model(body, POINTS, "pointcloud(nodes, dim=3, edges=knn(4))"))


# --- common subexpressions and folded scales --------------------------------------------------


def test_repeated_geometry_is_computed_once_but_learned_maps_are_not_merged() -> None:
    body = """    a = sqnorm(x[dst] - x[src])
    b = sqnorm(x[dst] - x[src])
    p = linear(h, 4 x scalar)
    q = linear(h, 4 x scalar)
    e = mlp(a, [4]) + mlp(b, [4])
    s = sum(e, over=edges, into=nodes)
    output y: 4 x scalar = sum(s, over=nodes) + sum(p + q, over=nodes)"""
    fired = _fired(_model(body, POINTS))
    merged = {node for rewrite, node in fired if rewrite == "common subexpression"}
    assert merged == {"b.sub.gather", "b.sub.gather_1", "b.sub", "b"}
    _same_function(_model(body, POINTS))


def test_scales_fold() -> None:
    body = """    y = 2.0 * (3.0 * h)
    output y: 8 x scalar = sum(-(-y), over=nodes)"""
    assert [r for r, _ in _fired(_model(body, POINTS))] == ["folded scales", "folded scales"]
    _same_function(_model(body, POINTS))


# --- the re-check -----------------------------------------------------------------------------


def _broken(graph: Graph) -> Graph:
    """A wrong rewrite: the edge MLP's concat loses a part (its type no longer adds up)."""
    concat = next(n for n in graph.nodes if n.op == "concat")
    lost = concat.model_copy(update={"inputs": concat.inputs[:-1]})
    return rebuild(graph, {concat.id: [lost]})


def test_a_rewrite_that_breaks_typing_is_caught() -> None:
    graph = _broken(frontend(_model(SPLIT, POINTS)))
    assert any("types as" in p for p in retype(graph))


def test_strict_optimisation_raises_on_a_broken_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    import geoc.optimize as optimize

    monkeypatch.setattr(optimize, "rewrites", lambda: [optimize.Rewrite("broken", _mark_broken)])
    with pytest.raises(RewriteBroke, match=r"types as|no longer types"):
        optimise(frontend(_model(SPLIT, POINTS)), strict=True)
    with pytest.warns(UserWarning, match="rewrites skipped"):
        result = optimise(frontend(_model(SPLIT, POINTS)))
    assert result.fired == [] and any(n.op == "concat" for n in result.graph.nodes)


def _mark_broken(graph: Graph):
    from geoc.optimize import Fired

    return _broken(graph), [Fired("broken", "m", None, "drops a part", "none")]


def test_cli_explains_the_rewrites(tmp_path) -> None:
    """`geoc compile --explain-opt` lists each rewrite with its spec line and saving."""
    from geoc.cli import main

    spec = tmp_path / "m.geo"
    spec.write_text(_model(SPLIT, POINTS))
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["compile", str(spec), "--explain-opt"]) == 0
    first = out.getvalue().splitlines()[0]
    assert first.startswith(f"{spec}:8: linear before gather at `m`")
    assert "per edge" in first
