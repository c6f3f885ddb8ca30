"""Initialisers in the language (`init=`, `bias_init=`, `bias=`; geoc.initialisers): statistics
of the drawn weights, equality with `torch.nn.init` under a generator seeded as geoc seeds its
own (``torch.Generator().manual_seed(seed)``, parameters drawn in creation order), the per-block
fans of equivariant layers, the IR / save / export round trips, and the diagnostics."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import assert_fails_at, elaborated

import geoc
from geoc.initialisers import Initialiser
from geoc.ir import Graph

SEED = 3


def _linear(width: int, attrs: str, group: str = "trivial") -> str:
    return (
        f"model M() {{\n    symmetry {group}\n    input h: {width} x scalar\n"
        f"    output y: {width} x scalar = linear(h, {width} x scalar{attrs})\n}}\n"
    )


def _params(text: str, **options) -> dict[str, torch.Tensor]:
    module = geoc.compile(text, seed=SEED, **options)
    return {k: v.detach() for k, v in module.named_parameters()}


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


# --- statistics at a large size -----------------------------------------------------------------


def test_uniform_is_the_default_and_written_gives_the_same_weights() -> None:
    written = _params(_linear(256, ", init=uniform, bias_init=uniform"))
    default = _params(_linear(256, ""))
    assert all(torch.equal(written[k], default[k]) for k in default)
    weight = default["y.weight"]
    bound = 1 / 16
    assert weight.abs().max() <= bound
    assert abs(weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound


def test_xavier_draws_within_its_bound_with_the_uniform_std() -> None:
    weight = _params(_linear(256, ", init=xavier(gain=2.0)"))["y.weight"]
    bound = 2.0 * math.sqrt(6 / 512)
    assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
    assert abs(weight.mean().item()) < 0.01 * bound
    assert abs(weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound


def test_normal_has_its_std_and_zeros_are_zero() -> None:
    drawn = _params(_linear(256, ", init=normal(std=0.02), bias_init=zeros"))
    assert abs(drawn["y.weight"].mean().item()) < 0.001
    assert abs(drawn["y.weight"].std().item() - 0.02) < 0.0005
    assert torch.count_nonzero(drawn["y.bias"]) == 0


def test_orthogonal_rows_are_orthonormal_times_gain() -> None:
    weight = _params(_linear(64, ", init=orthogonal(gain=1.5)"))["y.weight"].double()
    assert torch.allclose(weight @ weight.T, 2.25 * torch.eye(64, dtype=torch.float64), atol=1e-4)


# --- the torch.nn.init call of the same name, on a generator seeded alike -----------------------


@pytest.mark.parametrize(
    ("written", "reference"),
    [
        ("uniform", lambda t, g: torch.nn.init.uniform_(t, -1 / 4, 1 / 4, generator=g)),
        ("xavier(gain=0.001)", lambda t, g: torch.nn.init.xavier_uniform_(t, 0.001, g)),
        ("normal(std=0.02)", lambda t, g: torch.nn.init.normal_(t, 0.0, 0.02, g)),
        ("orthogonal", lambda t, g: torch.nn.init.orthogonal_(t, 1.0, g)),
        ("zeros", lambda t, g: torch.nn.init.zeros_(t)),
    ],
)
def test_the_first_weight_equals_torch_nn_init(written: str, reference) -> None:
    weight = _params(_linear(16, f", init={written}"))["y.weight"]
    assert torch.equal(weight, reference(torch.empty(16, 16), _generator()))


# --- mlp: one value per layer --------------------------------------------------------------------

EGNN_COORD = """model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input h: 8 x scalar over nodes
    input x: point(3) over nodes
    r = x[dst] - x[src]
    m = mlp(concat(h[dst], h[src], sqnorm(r)), [16, 16], act=silu, last_act=true)
    w = mlp(m, [16, 1], act=silu, init=[uniform, xavier(gain=0.001)], bias=[true, false])
    output pos: point(3) over nodes = x + mean(r * w, over=edges, into=nodes)
}
"""


def test_the_egnn_coordinate_mlp_starts_its_last_layer_small_without_bias() -> None:
    drawn = _params(EGNN_COORD)
    assert "w.1.bias" not in drawn and "w.0.bias" in drawn
    assert drawn["w.1.weight"].abs().max() <= 0.001 * math.sqrt(6 / 17)
    assert drawn["w.0.weight"].abs().max() > 0.1  # uniform, ±1/4


def test_the_rewritten_mlp_keeps_the_initialisers_of_each_layer() -> None:
    extra = "init=[normal, zeros], bias_init=normal, bias=[false, true])"
    text = EGNN_COORD.replace("act=silu, last_act=true)", f"act=silu, last_act=true, {extra}")
    module = geoc.compile(text, seed=SEED, dtype=torch.float64)
    assert [fired.node for fired in module.meta["geoc_rewrites"]] == ["m"]  # split first layer
    rewritten, written = _params(text), _params(text, optimize="none")
    assert rewritten.keys() == written.keys() and "m.0.bias" not in written
    assert all(torch.equal(rewritten[k], written[k]) for k in written)
    assert written["m.0.weight"].std() > 0.5 and torch.count_nonzero(written["m.1.weight"]) == 0
    inputs = {"h": torch.randn(5, 8, dtype=torch.float64), "x": torch.randn(5, 3).double()}
    plain = geoc.compile(text, seed=SEED, dtype=torch.float64, optimize="none")
    assert torch.allclose(module(**inputs)["pos"], plain(**inputs)["pos"], atol=1e-12)


# --- equivariant layers: per block -------------------------------------------------------------


IRREPS = """model M() {
    symmetry O(3)
    input h: 5 x 0e + 4 x 1o
    output y: 3 x 0e + 2 x 1o = linear(h, 3 x 0e + 2 x 1o, init=INIT)
}
"""


def test_an_irreps_linear_draws_each_schur_block_with_its_own_fans() -> None:
    drawn = _params(IRREPS.replace("INIT", "xavier"))
    w0, w1 = drawn["y.weight_0e"], drawn["y.weight_1o"]
    assert w0.shape == (3, 5) and w1.shape == (2, 4)
    generator = _generator()  # drawn in order: weight_0e, bias_0e, weight_1o
    assert torch.equal(w0, torch.nn.init.xavier_uniform_(torch.empty(3, 5), generator=generator))
    torch.empty(3).uniform_(-1 / math.sqrt(5), 1 / math.sqrt(5), generator=generator)
    assert torch.equal(w1, torch.nn.init.xavier_uniform_(torch.empty(2, 4), generator=generator))


def test_an_irreps_linear_is_orthogonal_per_block() -> None:
    drawn = _params(IRREPS.replace("INIT", "orthogonal"))
    for key, rows in (("0e", 3), ("1o", 2)):
        w = drawn[f"y.weight_{key}"].double()
        assert torch.allclose(w @ w.T, torch.eye(rows, dtype=torch.float64), atol=1e-5)


SOLVER = """model M() {
    symmetry C(4)
    input h: 3 x regular
    output y: 2 x regular = linear(h, 2 x regular, init=INIT, bias_init=zeros)
}
"""


def test_a_solver_linear_draws_its_coefficients_with_the_fans_of_the_path() -> None:
    drawn = _params(SOLVER.replace("INIT", "xavier"))
    (coeff,) = [v for k, v in drawn.items() if "coeff" in k]
    out_mul, in_mul, size = coeff.shape
    assert (out_mul, in_mul) == (2, 3)
    reference = torch.empty(coeff.shape)
    bound = math.sqrt(6 / (in_mul * size + out_mul * size))
    assert torch.equal(coeff, reference.uniform_(-bound, bound, generator=_generator()))
    assert all(torch.count_nonzero(v) == 0 for k, v in drawn.items() if "bias" in k)


# --- round trips --------------------------------------------------------------------------------


def test_the_ir_keeps_the_initialisers_through_its_json() -> None:
    graph = elaborated(EGNN_COORD)
    again = Graph.from_json(graph.to_json())
    attrs = {n.id: n.attrs for n in again.nodes}["w"]
    assert attrs["init"] == (Initialiser("uniform"), Initialiser("xavier", (("gain", 0.001),)))
    assert attrs["bias"] == (True, False)
    assert '"init": "xavier(gain=0.001)"' in graph.to_json()


def test_save_load_and_export_keep_the_initialisers(tmp_path) -> None:
    module = geoc.compile(EGNN_COORD, seed=SEED)
    folder = geoc.save(module, tmp_path / "egnn")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["initialisers"]["w.1.weight"] == "xavier(gain=0.001)"
    assert manifest["initialisers"]["w.0.weight"] == "uniform"
    loaded = geoc.load(folder)
    assert loaded.meta["geoc_initialisers"] == module.meta["geoc_initialisers"]
    assert "w.1.bias" not in dict(loaded.named_parameters())


# --- diagnostics --------------------------------------------------------------------------------


def _mlp(attrs: str) -> str:
    return (
        "model M() {\n    symmetry trivial\n    input h: 4 x scalar\n"
        f"    output y: 1 x scalar = mlp(h, [8, 1], {attrs})\n}}\n"
    )


@pytest.mark.parametrize(
    ("attrs", "code"),
    [
        ("init=@[uniform, zeros, zeros]", "GEO371"),
        ("bias=@[true]", "GEO371"),
        ("init=@glorot", "GEO370"),
        ("init=[uniform, @xavier(gain=-1.0)]".replace("@xavier(gain=", "xavier(gain=@"), "GEO370"),
        ("init=xavier(@std=0.1)", "GEO370"),
        ("init=normal(@0.1)", "GEO370"),
        ("bias_init=@orthogonal", "GEO370"),
        ("init=@3", "GEO370"),
    ],
)
def test_a_bad_initialiser_is_a_diagnostic_at_its_value(attrs: str, code: str) -> None:
    error = assert_fails_at(_mlp(attrs), code)
    assert error.diagnostics[0].help
    assert "^" in error.render()


def test_linear_takes_one_initialiser_not_a_list() -> None:
    assert_fails_at(_linear(4, ", init=@[zeros]"), "GEO370")


def test_the_builder_writes_initialisers_as_the_spec_would() -> None:
    from geoc.builder import Builder

    b = Builder("M")
    b.symmetry("trivial")
    h = b.input("h", "4 x scalar")
    init = ["uniform", Initialiser("xavier", (("gain", 0.001),))]
    b.output("y", "1 x scalar", b.call("mlp", h, [8, 1], init=init, bias=[True, False]))
    (node,) = [n for n in b.build().nodes if n.op == "mlp"]
    assert node.attrs["init"] == (Initialiser("uniform"), init[1])


def test_the_exported_folder_lists_the_initialisers_and_runs_without_geoc(tmp_path) -> None:
    from helpers import run_exported

    from geoc.cli import main

    spec = tmp_path / "coord.geo"
    spec.write_text(EGNN_COORD, encoding="utf-8")
    folder = tmp_path / "build"
    assert main(["compile", str(spec), "-o", str(folder), "--seed", str(SEED)]) == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["initialisers"]["w.1.weight"] == "xavier(gain=0.001)"
    assert "'w.1.weight': 'xavier(gain=0.001)'" in (folder / "module.py").read_text()
    inputs = {"h": torch.randn(4, 8), "x": torch.randn(4, 3)}
    out = run_exported(folder, inputs, tmp_path)
    expected = geoc.compile(EGNN_COORD, seed=SEED)(**inputs)
    assert torch.equal(out["pos"], expected["pos"])


BLOCK = """block coord(m: 8 x scalar over nodes, last = xavier(gain=0.001), inits = [zeros, normal])
        -> 1 x scalar over nodes {
    return mlp(m, [8, 1], init=[uniform, last], bias_init=inits, bias=[true, false])
}
model M() {
    symmetry S(nodes)
    domain set(nodes)
    input h: 8 x scalar over nodes
    output a: 1 x scalar over nodes = coord(h)
    output b: 1 x scalar over nodes = coord(h, last=orthogonal(gain=2.0), inits=zeros)
}
"""


def test_a_block_passes_initialisers_through_its_parameters() -> None:
    nodes = {n.id: n.attrs for n in elaborated(BLOCK).nodes if n.op == "mlp"}
    a, b = (nodes[k] for k in sorted(nodes))
    assert a["init"][1] == Initialiser("xavier", (("gain", 0.001),))
    assert a["bias_init"] == (Initialiser("zeros"), Initialiser("normal"))
    assert b["init"][1] == Initialiser("orthogonal", (("gain", 2.0),))
    assert b["bias_init"] == Initialiser("zeros")


def test_a_block_parameter_cannot_start_a_bias_orthogonally() -> None:
    bad = BLOCK.replace("bias_init=inits", "bias_init=@inits").replace(
        "inits=zeros)", "inits=[zeros, orthogonal])"
    )
    assert_fails_at(bad, "GEO370")


# --- other learned maps: convolutions and weight-space layers -----------------------------------

P4 = """model M() {
    symmetry T(2) x C(4)
    domain torus(8, 8)
    input x: 2 x scalar over torus
    z = lift_conv(x, 4 x regular, kernel=3, init=xavier(gain=0.5), bias_init=zeros)
    y = group_conv(z, 3 x regular, kernel=3, init=orthogonal, bias=false)
    output f: 3 x scalar = mean(group_pool(y, reduce=max), over=torus)
}
"""


def test_group_convolutions_take_torch_nn_inits_conv_fans() -> None:
    drawn = _params(P4)
    lift, group = drawn["z.weight"], drawn["y.weight"]
    generator = _generator()  # xavier over (out, in, receptive field): torch's conv fans
    assert torch.equal(lift, torch.nn.init.xavier_uniform_(torch.empty(lift.shape), 0.5, generator))
    assert torch.count_nonzero(drawn["z.bias"]) == 0 and "y.bias" not in drawn
    rows = group.flatten(1).double()
    assert torch.allclose(rows @ rows.T, torch.eye(3, dtype=torch.float64), atol=1e-5)


def test_a_weight_space_layer_takes_initialisers() -> None:
    text = """model M() {
    symmetry S(hidden)
    domain weightspace(mlp=[2, 4, 1])
    input w: scalar over weights
    output y: 3 x scalar over weights = dws_linear(w, 3 x scalar, init=zeros, bias_init=normal)
}
"""
    drawn = _params(text)
    assert all(torch.count_nonzero(v) == 0 for k, v in drawn.items() if "weight" in k)
    assert drawn["y.bias"].abs().max() > 0
