"""Weight spaces and DWSNets (Navon et al., ICML 2023): the `weightspace` domain, its typing
rules and diagnostics, the closed-form equivariant layer against a dense reference summed entry
by entry and against the solver's basis, equivariance under permutations of every hidden layer
in float64, the function-space sanity check, and tracing / export of `specs/dwsnet.geo`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cases import values
from helpers import assert_captures, run_exported

from geoc import solver
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.domains.weightspace import neuron_permutation, permute_layers
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check, check_module
from geoc.backends.torch_fx.weightspace import kernels as rt_ws
from geoc.cli import main as cli_main
from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.ir import Graph
from geoc.ops.weightspace import Block, Term, WeightSpace
from geoc.pipeline import frontend
from geoc.solver.groups import Family, MatrixGroup, permutation_matrix

HERE = Path(__file__).parent

pytestmark = pytest.mark.usefixtures("one_thread")

HEADER = "model M(c: int = 4) {{\n    symmetry {group}\n    domain weightspace(mlp=[{mlp}])\n"


def spec(body: str, group: str = "S(hidden)", mlp: str = "2, 3, 2") -> str:
    return HEADER.format(group=group, mlp=mlp) + body + "\n}\n"


def codes(source: str) -> list[str]:
    with pytest.raises(GeoError) as err:
        frontend(source)
    return [d.code for d in err.value.diagnostics]


def random_layers(space: WeightSpace, batch: int, channels: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shapes = space.shapes
    return [torch.randn(batch, *s, channels, generator=gen, dtype=torch.float64) for s in shapes]


# --- the domain ---------------------------------------------------------------------------------


def test_domain_round_trips_and_names_its_axes() -> None:
    domain = Domain.parse("weightspace(mlp=[2, 32, 32, 1])")
    assert str(domain) == "weightspace(mlp=[2, 32, 32, 1])"
    assert Domain.parse(str(domain)) == domain
    assert domain.layers == (2, 32, 32, 1) and domain.axes == ("weights", "hidden")


@pytest.mark.parametrize(
    "text",
    values(HERE / "test_weightspace.cases", "malformed_domain_is_geo204"),
)
def test_malformed_domain_is_geo204(text: str) -> None:
    with pytest.raises(GeoError) as err:
        Domain.parse(text)
    assert list(err.value.codes) == ["GEO204"]


def test_layer_sizes_may_come_from_a_parameter() -> None:
    source = (
        "model M(sizes = [2, 5, 1]) {\n    symmetry S(hidden)\n"
        "    domain weightspace(mlp=sizes)\n    input w: scalar over weights\n"
        "    output y: 5 x scalar = dws_pool(w)\n}\n"
    )
    assert frontend(source).domain.layers == (2, 5, 1)


def test_layout_of_the_blocks() -> None:
    space = WeightSpace((2, 3, 4, 1))
    assert [b.name for b in space.blocks] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [b.offset for b in space.blocks] == [0, 6, 9, 21, 25, 29]
    assert space.size == 30 and space.permuted == {1, 2}
    assert [b.hidden for b in space.blocks] == [(1,), (1,), (2, 1), (2,), (2,), ()]
    assert space.invariant_width == 2 + 1 + 1 + 1 + 1 + 1  # W1 keeps d0; W3, b3 keep d3
    assert WeightSpace((2, 1, 3)).permuted == frozenset()  # one neuron: nothing to permute


# --- typing -------------------------------------------------------------------------------------


def test_types_of_the_weightspace_operators() -> None:
    graph = frontend(
        spec(
            "    input w: scalar over weights\n"
            "    h = act(dws_linear(w, c x scalar), relu)\n"
            "    h = mlp(linear(h, c x scalar) + 0.5 * h, [c], act=relu)\n"
            "    output y: 28 x scalar = dws_pool(h, reduce=max)\n"
            "    output z: 2 x scalar over weights = dws_linear(concat(h, w), 2 x scalar)"
        ),
        verify=True,
    )
    types = {n.id: str(n.out_types[0]) for n in graph.nodes}
    assert types["h.dws_linear"] == "4 x scalar over weights"
    assert types["y"] == "28 x scalar"  # 4 channels x (2 + 1 + 2 + 2) fixed entries
    assert types["z"] == "2 x scalar over weights"
    body = "    input w: 2 x scalar over weights\n    output f: 34 x scalar = dws_flatten(w)"
    flat = frontend(spec(body, group="trivial"))
    assert str(flat.outputs["f"].type) == "34 x scalar"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("    input w: vector over weights\n    output y: 7 x scalar = dws_pool(w)", "GEO340"),
        ("    input w: scalar over weights\n"
         "    output y: scalar over weights = dws_linear(w, point(3))", "GEO340"),
        ("    input w: scalar over hidden\n    output y: scalar = sum(w, over=hidden)", "GEO341"),
        ("    input w: scalar over (weights, hidden)\n    output y: scalar = mlp(w, [1])",
         "GEO341"),
        ("    input w: scalar over weights\n    output y: scalar over weights = norm(w)",
         "GEO342"),
        ("    input w: scalar over weights\n    output y: scalar = sum(w, over=weights)",
         "GEO342"),
        ("    input w: scalar over weights\n    input t: scalar\n"
         "    output y: scalar over weights = w + t", "GEO343"),
        ("    input w: scalar over weights\n    input t: scalar\n"
         "    output y: 2 x scalar over weights = concat(w, t)", "GEO343"),
        ("    input t: scalar\n    output y: 7 x scalar = dws_pool(t)", "GEO344"),
        ("    input w: scalar over weights\n    output y: 17 x scalar = dws_flatten(w)",
         "GEO430"),
        ("    input w: scalar over weights\n    output y: 7 x scalar = dws_pool(w, reduce=min)",
         "GEO302"),
    ],
)  # fmt: skip
def test_weightspace_diagnostics(body: str, code: str) -> None:
    assert codes(spec(body)) == [code]


def test_channels_that_transform_as_scalars_are_scalars() -> None:
    """S(hidden) has no reflections: `0e` and `pseudoscalar` channels are invariant, as
    `scalar` is (representation equality compares the group's action)."""
    body = (
        "    input w: 0e over weights\n"
        "    output y: scalar over weights = dws_linear(w, pseudoscalar)"
    )
    assert str(frontend(spec(body)).outputs["y"].type) == "scalar over weights"


@pytest.mark.parametrize(
    ("group", "code"),
    [("O(3)", "GEO431"), ("S(weights)", "GEO431"), ("S(hidden) x SO(2)", "GEO431"),
     ("S(nodes)", "GEO406")],
)  # fmt: skip
def test_only_hidden_neuron_permutations_act(group: str, code: str) -> None:
    body = "    input w: scalar over weights\n    output y: 7 x scalar = dws_pool(w)"
    assert codes(spec(body, group=group)) == [code]


def test_weightspace_operators_need_the_domain() -> None:
    source = (
        "model M() {\n    symmetry S(set)\n    domain set(set)\n    input x: scalar over set\n"
        "    output y: scalar over set = dws_linear(x, scalar)\n}\n"
    )
    assert codes(source) == ["GEO344"]
    hidden = source.replace("S(set)", "S(hidden)")
    assert codes(hidden) == ["GEO406"]


def test_flatten_is_fine_without_the_symmetry_and_without_hidden_neurons() -> None:
    body = "    input w: scalar over weights\n    output y: 17 x scalar = dws_flatten(w)"
    assert frontend(spec(body, group="trivial")).outputs
    single = "    input w: scalar over weights\n    output y: 9 x scalar = dws_flatten(w)"
    assert frontend(spec(single, mlp="2, 1, 3")).outputs  # a one-neuron layer does not move


def test_ir_json_round_trip() -> None:
    graph = frontend("dwsnet")
    again = Graph.from_json(graph.to_json())
    assert again.domain == graph.domain and str(again.group) == "S(hidden)"


# --- the layer: closed form against the solver, and against a dense reference ------------------


def hidden_permutation_group(space: WeightSpace) -> MatrixGroup:
    """S(d_1) x ... x S(d_{L-1}) acting on the P weights, generated by a transposition and a
    cycle of each permuted layer. Solved with `method="solve"` (orbits): the group's label is
    only a label, no closed form of S(P) applies."""
    gens = []
    for k in sorted(space.permuted):
        n = space.sizes[k]
        swap = np.arange(n)
        swap[[0, 1]] = [1, 0]
        for perm in (swap, (np.arange(n) + 1) % n):
            gens.append(permutation_matrix(space.flat_permutation({k: perm})))
    p = space.size
    discrete = np.stack(gens) if gens else np.eye(p)[None]
    return MatrixGroup(Family.S, p, np.zeros((0, p, p)), discrete)


def layer_matrices(space: WeightSpace) -> np.ndarray:
    """Every P x P matrix the layer makes (c_in = c_out = 1), one per coefficient, as rows."""
    blocks, members = space.plan()
    widths = [space.term_width(t) for t in space.terms]
    eye = torch.eye(space.size, dtype=torch.float64)[:, :, None]
    rows = []
    for t, w in enumerate(widths):
        for entry in range(w * w):
            weights = [torch.zeros(v, v, dtype=torch.float64) for v in widths]
            weights[t].view(-1)[entry] = 1.0
            out = rt_ws.dws_linear(eye, blocks, members, weights, None, 1)[:, :, 0]
            rows.append(out.T.reshape(-1).numpy())  # row-major [out, in], the solver's format
    return np.stack(rows)


SOLVER_CASES = [(2, 3, 2), (3, 4, 5, 2), (2, 1, 3, 2), (3, 2), (2, 2, 2, 2, 1)]


@pytest.mark.parametrize("sizes", SOLVER_CASES, ids=str)
def test_layer_spans_exactly_the_solvers_equivariant_maps(sizes: tuple[int, ...]) -> None:
    space = WeightSpace(sizes)
    group = hidden_permutation_group(space)
    basis = solver.equivariant_basis(group, solver.V, solver.V, cache=False, method="solve")
    invariants = solver.invariant_basis(group, solver.V, cache=False, method="solve")
    count = space.parameter_count(1, 1, bias=False)
    assert basis.shape[1] == count  # e.g. 74 for [2, 3, 2]
    assert invariants.shape[1] == space.invariant_width  # the bias
    mats = layer_matrices(space)
    assert np.linalg.matrix_rank(mats) == count  # no redundant coefficient
    residual = mats.T - basis @ (basis.T @ mats.T)  # every map lies in the solver's span
    assert np.abs(residual).max() < 1e-9


def test_parameter_count_of_the_small_mlp() -> None:
    assert WeightSpace((2, 3, 2)).parameter_count(1, 1, bias=False) == 74
    assert WeightSpace((2, 3, 2)).parameter_count(4, 8) == 74 * 32 + 7 * 8


def _fixed_index(block: Block, entry: tuple[int, ...]) -> int:
    """Where an entry's fixed (unpermuted) indices sit among its block's fixed entries."""
    axes = block.order[len(block.hidden) :]
    dims = [block.shape[a] for a in axes]
    return int(np.ravel_multi_index([entry[a] for a in axes], dims)) if axes else 0


def _flat_index(block: Block, entry: tuple[int, ...]) -> int:
    return block.offset + int(np.ravel_multi_index(entry, block.shape))


def _coupling(space: WeightSpace, term: Term, source: Block, alpha, target: Block, beta) -> float:
    """The scalar factor of a term between input entry α and output entry β: the neurons of
    the kept layers must agree, the other permuted layers of the source are averaged."""
    neuron = lambda block, entry, k: entry[block.layers.index(k)]  # noqa: E731
    if any(neuron(source, alpha, k) != neuron(target, beta, k) for k in term.kept):
        return 0.0
    pooled = [space.sizes[k] for k in source.hidden if k not in term.kept]
    return 1.0 / float(np.prod(pooled))


def reference_layer(
    space: WeightSpace, x: np.ndarray, weights: list[np.ndarray], bias: np.ndarray, c_out: int
) -> np.ndarray:
    """Navon et al.'s layer summed entry by entry: output entry β of block B receives, from
    every entry α of every block A and every term R (the permuted layers both share whose
    neuron index passes through), ``[α_k = β_k for k in R] / Π_{k in H(A) - R} d_k`` times the
    term's weight between (B, fixed part of β) and (A, fixed part of α); plus the bias of (B,
    fixed part of β). E.g. W_i -> W_i (both layers hidden) has four terms: identity, row
    means, column means and the total mean, each broadcast back."""
    c_in = x.shape[-1]
    out = np.zeros((*x.shape[:2], c_out))
    blocks = space.blocks
    for term, weight in zip(space.terms, weights, strict=True):
        starts = np.cumsum([0] + [blocks[b].fixed_size for b, _ in term.members])
        column = {b: int(starts[i]) for i, (b, _) in enumerate(term.members)}
        pairs = [(blocks[a], a, blocks[b], b) for a, _ in term.members for b, _ in term.members]
        for source, a, target, b in pairs:
            for alpha in np.ndindex(source.shape):
                for beta in np.ndindex(target.shape):
                    factor = _coupling(space, term, source, alpha, target, beta)
                    rows = (column[b] + _fixed_index(target, beta)) * c_out + np.arange(c_out)
                    cols = (column[a] + _fixed_index(source, alpha)) * c_in + np.arange(c_in)
                    mixed = x[:, _flat_index(source, alpha)] @ weight[np.ix_(rows, cols)].T
                    out[:, _flat_index(target, beta)] += factor * mixed
    for b, block in enumerate(blocks):  # the first term (every block pooled) carries the bias
        column = sum(blocks[i].fixed_size for i in range(b))
        for beta in np.ndindex(block.shape):
            at = (column + _fixed_index(block, beta)) * c_out + np.arange(c_out)
            out[:, _flat_index(block, beta)] += bias[at]
    return out


@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 3, 3, 1), (3, 1, 2)], ids=str)
def test_layer_matches_the_reference_summed_entry_by_entry(sizes: tuple[int, ...]) -> None:
    space = WeightSpace(sizes)
    c_in, c_out = 2, 3
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, space.size, c_in))
    widths = [space.term_width(t) for t in space.terms]
    weights = [rng.normal(size=(w * c_out, w * c_in)) for w in widths]
    bias = rng.normal(size=space.invariant_width * c_out)
    blocks, members = space.plan()
    tensors = [torch.as_tensor(w) for w in weights]
    got = rt_ws.dws_linear(torch.as_tensor(x), blocks, members, tensors, torch.as_tensor(bias), 3)
    want = reference_layer(space, x, weights, bias, c_out)
    assert np.abs(got.numpy() - want).max() < 1e-12


def test_compiled_layer_uses_the_closed_form_parameters() -> None:
    body = "    input w: 2 x scalar over weights\n    output z: 3 x scalar over weights = "
    module = geoc_compile(spec(body + "dws_linear(w, 3 x scalar)"))
    count = sum(p.numel() for p in module.parameters())
    assert count == WeightSpace((2, 3, 2)).parameter_count(2, 3)
    names = sorted(n for n, _ in module.named_parameters())
    assert names == ["z.bias", "z.weight_h1", "z.weight_pool"]


# --- equivariance in float64 --------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(2, 3, 2), (3, 4, 5, 2), (2, 5, 1, 4, 3)], ids=str)
def test_layer_and_readout_under_permutations_of_every_hidden_layer(sizes) -> None:
    space = WeightSpace(sizes)
    rng = np.random.default_rng(1)
    layers = random_layers(space, 3, 2, seed=2)
    x = rt_ws.pack(layers, space.shapes, 2)
    widths = [space.term_width(t) for t in space.terms]
    weights = [torch.as_tensor(rng.normal(size=(w * 4, w * 2))) for w in widths]
    bias = torch.as_tensor(rng.normal(size=space.invariant_width * 4))
    blocks, members = space.plan()
    for _ in range(3):
        perms = space.random_permutations(rng)
        moved = rt_ws.pack(permute_layers(layers, space, perms), space.shapes, 2)
        flat = torch.as_tensor(space.flat_permutation(perms))
        assert torch.equal(moved, x[:, flat])  # the flat form of the same element
        before = rt_ws.dws_linear(x, blocks, members, weights, bias, 4)
        after = rt_ws.dws_linear(moved, blocks, members, weights, bias, 4)
        assert (after - before[:, flat]).abs().max() < 1e-12
        for reduce in ("mean", "sum", "max"):
            pooled = rt_ws.dws_pool(x, blocks, reduce), rt_ws.dws_pool(moved, blocks, reduce)
            assert (pooled[1] - pooled[0]).abs().max() < 1e-12


def test_pack_and_unpack_are_inverse_and_check_shapes() -> None:
    space = WeightSpace((2, 3, 2))
    layers = random_layers(space, 2, 3, seed=0)
    packed = rt_ws.pack(layers, space.shapes, 3, space.names)
    assert packed.shape == (2, 17, 3)
    unpacked = rt_ws.unpack(packed, space.shapes)
    assert all(torch.equal(a, b) for a, b in zip(unpacked, layers, strict=True))
    bare = [t[..., 0] for t in layers]  # one channel: the channel axis may be left out
    assert torch.equal(rt_ws.pack(bare, space.shapes, 1), packed[..., :1])
    with pytest.raises(ValueError, match="takes 4 tensors"):
        rt_ws.pack(layers[:3], space.shapes, 3, space.names)
    with pytest.raises(ValueError, match=r"W_2 must be \[batch, 2, 3, 3\]"):
        rt_ws.pack(
            [*layers[:2], layers[2].transpose(1, 2), layers[3]], space.shapes, 3, space.names
        )


def test_dwsnet_spec_is_equivariant_in_float64() -> None:
    report = check("dwsnet", params={"channels": 4, "depth": 2}, trials=3, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-9
    assert set(report.elements) == {"permutation"}
    assert "every hidden layer" in report.exact_law


def test_equivariant_outputs_over_weights_are_checked() -> None:
    body = (
        "    input w: 2 x scalar over weights\n    input t: 3 x scalar\n"
        "    h = act(dws_linear(w, c x scalar), relu)\n"
        "    output z: 2 x scalar over weights = dws_linear(h, 2 x scalar) + w\n"
        "    output y: scalar = mlp(concat(dws_pool(h), t), [8, 1])"
    )
    report = check(spec(body, mlp="3, 4, 5, 2"), trials=3, graphs=3, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-9
    layers = random_layers(WeightSpace((3, 4, 5, 2)), 2, 2, seed=0)
    out = geoc_compile(spec(body, mlp="3, 4, 5, 2"), dtype=torch.float64)(
        w=layers, t=torch.randn(2, 3, dtype=torch.float64)
    )
    shapes = [(4, 3), (4,), (5, 4), (5,), (2, 5), (2,)]  # W_1, b_1, ..., in nn.Linear layout
    assert [tuple(v.shape) for v in out["z"]] == [(2, *s, 2) for s in shapes]


def test_the_checker_sees_a_broken_symmetry() -> None:
    """Flattening is accepted under `trivial`; under neuron permutations it is not invariant,
    and the numeric check says so."""
    body = "    input w: scalar over weights\n    output y: 17 x scalar = dws_flatten(w)"
    module = geoc_compile(spec(body, group="trivial"), dtype=torch.float64)
    space = WeightSpace((2, 3, 2))
    element = neuron_permutation(space, {1: np.array([2, 0, 1])})
    report = check_module(module, elements=[element])
    assert not report.passed and report.max_error > 0.1


def test_cli_compile_and_check_dwsnet(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["compile", "dwsnet"]) == 0
    assert "weightspace(mlp=[2, 32, 32, 1])" in capsys.readouterr().out
    assert cli_main(["check", "dwsnet", "-p", "channels=4", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "under S(hidden), float64" in out and "every output transforms as declared" in out


# --- function space -----------------------------------------------------------------------------


def run_mlp(layers: list[torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    """The MLP the weights describe (one network: batch 0, channel 0), sin activations."""
    h = points
    for i in range(0, len(layers), 2):
        weight, bias = layers[i][0, ..., 0], layers[i + 1][0, ..., 0]
        h = h @ weight.T + bias
        if i + 2 < len(layers):
            h = torch.sin(h)
    return h


def test_permuting_hidden_neurons_keeps_the_function_and_the_dwsnet_output() -> None:
    model = geoc_compile("dwsnet", params={"channels": 4, "depth": 2}, dtype=torch.float64)
    space = WeightSpace((2, 32, 32, 1))
    layers = random_layers(space, 1, 1, seed=3)
    points = torch.rand(64, 2, dtype=torch.float64)
    rng = np.random.default_rng(4)
    logits = model(w=layers)["logits"]
    for _ in range(2):
        moved = permute_layers(layers, space, space.random_permutations(rng))
        assert (run_mlp(moved, points) - run_mlp(layers, points)).abs().max() < 1e-12
        assert (model(w=moved)["logits"] - logits).abs().max() < 1e-12
    # Permuting the *input* neurons is not a symmetry: the function and the output change.
    swapped = [layers[0].flip(2), *layers[1:]]
    assert (run_mlp(swapped, points) - run_mlp(layers, points)).abs().max() > 1e-3
    assert (model(w=swapped)["logits"] - logits).abs().max() > 1e-6


# --- tracing and export -------------------------------------------------------------------------


def test_fullgraph_capture_and_export() -> None:
    model = geoc_compile("dwsnet", params={"channels": 4, "depth": 2})
    space = WeightSpace((2, 32, 32, 1))
    layers = [t.float()[..., 0] for t in random_layers(space, 3, 1, seed=5)]
    assert_captures(model, {"w": layers}, atol=1e-5)


def test_exported_folder_runs_without_geoc(tmp_path: Path) -> None:
    model = geoc_compile("dwsnet", params={"channels": 4, "depth": 1}, seed=2)
    folder = write_folder(model, tmp_path / "dwsnet", "specs/dwsnet.geo")
    assert (folder / "geoc_runtime_weightspace.py").is_file()
    layers = [t.float() for t in random_layers(WeightSpace((2, 32, 32, 1)), 2, 1, seed=6)]
    out = run_exported(folder, {"w": layers}, tmp_path)
    assert torch.equal(out["logits"], model(w=layers)["logits"])
