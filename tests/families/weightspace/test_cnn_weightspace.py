"""CNN weight spaces and UNF layers (Zhou et al. 2023, "Permutation Equivariant Neural
Functionals" / "Universal Neural Functionals"): the `cnn=` domain form, the layer's parameter
count against the solver's basis, equivariance under channel permutations that keep the CNN's
function (checked on the function first), and `specs/unf_cnn.geo` (check, trace, export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_captures, run_exported
from test_weightspace import hidden_permutation_group, layer_matrices

from geoc import solver
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.domains.weightspace import permute_layers
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check
from geoc.backends.torch_fx.weightspace import kernels as rt_ws
from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.domains.weightspace_layout import SPATIAL, WeightSpace
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def random_layers(space: WeightSpace, batch: int, channels: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *s, channels, generator=gen, dtype=F64) for s in space.shapes]


def run_network(
    space: WeightSpace, layers: list[torch.Tensor], x: torch.Tensor, n: int = 0
) -> torch.Tensor:
    """The network the weights describe (network ``n``, channel 0), written from the usual
    equations: conv layers (`same` padding) with tanh, global average pooling, linear layers;
    a layer ``i`` in ``space.skips`` adds its input back: ``h_i = tanh(W_i h_(i-1) + b_i) +
    h_(i-1)``. The last layer is linear."""
    h = x
    for i in range(1, space.depth + 1):
        weight, bias = layers[2 * i - 2][n, ..., 0], layers[2 * i - 1][n, ..., 0]
        if i <= space.conv:
            z = torch.nn.functional.conv2d(h, weight, bias, padding="same")
        else:
            h = h.mean((2, 3)) if i == space.conv + 1 and space.conv else h
            z = h @ weight.T + bias
        if i == space.depth:
            return z
        h = torch.tanh(z) + (h if i in space.skips else 0)
    raise AssertionError("unreachable")


def images(space: WeightSpace, count: int = 5) -> torch.Tensor:
    gen = torch.Generator().manual_seed(11)
    return torch.randn(count, space.sizes[0], 6, 6, generator=gen, dtype=F64)


# --- the domain ---------------------------------------------------------------------------------


def test_cnn_domain_round_trips_and_lays_out_the_state_dict() -> None:
    domain = Domain.parse("weightspace(cnn=[3, 4, 5], kernel=3, head=[10])")
    assert str(domain) == "weightspace(cnn=[3, 4, 5], kernel=3, head=[10])"
    assert Domain.parse(str(domain)) == domain
    space = WeightSpace.of(domain)
    assert space.names == ("K_1", "b_1", "K_2", "b_2", "W_head", "b_head")
    assert space.shapes == ((4, 3, 3, 3), (4,), (5, 4, 3, 3), (5,), (10, 5), (10,))
    assert space.permuted == {1, 2}  # every conv layer: the last feeds the head via pooling
    assert space.blocks[2].layers == (2, 1, SPATIAL, SPATIAL)
    assert space.invariant_width == 3 * 9 + 1 + 9 + 1 + 10 + 10  # offsets are fixed features
    head = WeightSpace.of(Domain.parse("weightspace(cnn=[1, 2], kernel=1, head=[3, 2])"))
    assert head.names == ("K_1", "b_1", "W_head1", "b_head1", "W_head2", "b_head2")
    assert head.permuted == {1, 2}


@pytest.mark.parametrize(
    "text",
    [
        "weightspace(cnn=[1, 4])",
        "weightspace(cnn=[1, 4], kernel=0, head=[2])",
        "weightspace(cnn=[1], kernel=3, head=[2])",
        "weightspace(cnn=[1, 4], kernel=3, head=[])",
        "weightspace(mlp=[2, 3, 1], kernel=3)",
        "weightspace(mlp=[2, 3, 1], cnn=[1, 2])",
        "weightspace(mlp=[2, 3, 1], padded=1)",
        "weightspace(mlp=[2, 3, 3, 1], residual=2)",
    ],
)
def test_malformed_cnn_domain_is_geo204(text: str) -> None:
    with pytest.raises(GeoError) as err:
        Domain.parse(text)
    assert list(err.value.codes) == ["GEO204"]


# --- the layer against the solver ---------------------------------------------------------------


CNN_SOLVER_CASES = [((1, 3), 2, (2,)), ((1, 2, 2), 2, (2,)), ((2, 2), 1, (2, 2))]


@pytest.mark.parametrize(("convs", "kernel", "head"), CNN_SOLVER_CASES, ids=str)
def test_cnn_layer_spans_exactly_the_solvers_equivariant_maps(convs, kernel, head) -> None:
    space = WeightSpace((*convs, *head), conv=len(convs) - 1, kernel=kernel)
    group = hidden_permutation_group(space)
    basis = solver.equivariant_basis(group, solver.V, solver.V, cache=False, method="solve")
    invariants = solver.invariant_basis(group, solver.V, cache=False, method="solve")
    count = space.parameter_count(1, 1, bias=False)
    assert basis.shape[1] == count  # 342 for cnn=[1, 2, 2], kernel=2, head=[2]
    assert invariants.shape[1] == space.invariant_width
    mats = layer_matrices(space)
    assert np.linalg.matrix_rank(mats) == count
    residual = mats.T - basis @ (basis.T @ mats.T)
    assert np.abs(residual).max() < 1e-9


def test_compiled_unf_layer_has_the_basis_dimension_of_parameters() -> None:
    source = (
        "model M() {\n    symmetry S(hidden)\n"
        "    domain weightspace(cnn=[1, 2, 2], kernel=2, head=[2])\n"
        "    input w: 2 x scalar over weights\n"
        "    output z: 3 x scalar over weights = dws_linear(w, 3 x scalar)\n}\n"
    )
    module = geoc_compile(source)
    space = WeightSpace((1, 2, 2, 2), conv=2, kernel=2)
    assert sum(p.numel() for p in module.parameters()) == space.parameter_count(2, 3)
    assert space.parameter_count(1, 1, bias=False) == 342


# --- equivariance under permutations that keep the function -------------------------------------


@pytest.mark.parametrize(("sizes", "conv"), [((3, 4, 5, 2), 2), ((1, 3, 4, 3, 2), 3)], ids=str)
def test_unf_layer_and_pool_under_function_preserving_channel_permutations(sizes, conv) -> None:
    space = WeightSpace(sizes, conv=conv, kernel=3)
    rng = np.random.default_rng(1)
    layers = random_layers(space, 3, 2, seed=2)
    x = rt_ws.pack(layers, space.shapes, 2)
    blocks, members = space.plan()
    widths = [space.term_width(t) for t in space.terms]
    weights = [torch.as_tensor(rng.normal(size=(w * 4, w * 2))) for w in widths]
    bias = torch.as_tensor(rng.normal(size=space.invariant_width * 4))
    before = rt_ws.dws_linear(x, blocks, members, weights, bias, 4)
    for _ in range(3):
        perms = space.random_permutations(rng)
        moved_layers = permute_layers(layers, space, perms)
        for n in range(3):  # the permuted CNN computes the same function
            got, want = run_network(space, moved_layers, images(space), n), None
            want = run_network(space, layers, images(space), n)
            assert (got - want).abs().max() < 1e-12
        moved = rt_ws.pack(moved_layers, space.shapes, 2)
        flat = torch.as_tensor(space.flat_permutation(perms))
        assert torch.equal(moved, x[:, flat])
        after = rt_ws.dws_linear(moved, blocks, members, weights, bias, 4)
        assert (after - before[:, flat]).abs().max() < 1e-12
        for reduce in ("mean", "sum", "max"):
            pooled = rt_ws.dws_pool(x, blocks, reduce), rt_ws.dws_pool(moved, blocks, reduce)
            assert (pooled[1] - pooled[0]).abs().max() < 1e-12


def test_permuting_kernel_offsets_or_one_side_changes_the_function() -> None:
    """Not symmetries: rows of K_1 without the input channels of K_2, or the kernel offsets."""
    space = WeightSpace((2, 3, 4, 2), conv=2, kernel=3)
    layers = random_layers(space, 1, 1, seed=3)
    x = images(space)
    rows = [layers[0][:, [1, 2, 0]], layers[1][:, [1, 2, 0]], *layers[2:]]
    flipped = [layers[0].flip(3), *layers[1:]]
    for other in (rows, flipped):
        assert (run_network(space, other, x) - run_network(space, layers, x)).abs().max() > 1e-3


# --- the built-in spec --------------------------------------------------------------------------


SMALL = {"convs": [1, 4, 4], "channels": 3, "depth": 2, "width": 16}


def test_unf_cnn_is_invariant_in_float64_and_keeps_the_function() -> None:
    report = check("unf_cnn", params=SMALL, trials=3, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-9 and "channels of every hidden layer" in report.exact_law
    model = geoc_compile("unf_cnn", params=SMALL, dtype=F64)
    space = WeightSpace((1, 4, 4, 10), conv=2, kernel=3)
    layers = [t[..., 0] for t in random_layers(space, 2, 1, seed=4)]  # state-dict shapes
    score = model(w=layers)["score"]
    assert score.shape == (2, 1)
    perms = space.random_permutations(np.random.default_rng(5))
    assert (model(w=permute_layers(layers, space, perms))["score"] - score).abs().max() < 1e-12
    other = [layers[0].flip(3), *layers[1:]]  # kernel offsets: not a symmetry
    assert (model(w=other)["score"] - score).abs().max() > 1e-9


@pytest.mark.slow
def test_unf_cnn_captures_fullgraph_and_exports(tmp_path: Path) -> None:
    model = geoc_compile("unf_cnn", params=SMALL, seed=2)
    space = WeightSpace((1, 4, 4, 10), conv=2, kernel=3)
    layers = [t.float()[..., 0] for t in random_layers(space, 3, 1, seed=5)]
    assert_captures(model, {"w": layers}, atol=1e-5)
    folder = write_folder(model, tmp_path / "unf_cnn", "specs/unf_cnn.geo")
    out = run_exported(folder, {"w": layers}, tmp_path)
    assert torch.equal(out["score"], model(w=layers)["score"])


def test_flatten_of_a_cnn_weight_space_is_geo430() -> None:
    source = (
        "model M() {\n    symmetry S(hidden)\n"
        "    domain weightspace(cnn=[1, 2], kernel=3, head=[2])\n"
        "    input w: scalar over weights\n    output y: 26 x scalar = dws_flatten(w)\n}\n"
    )
    with pytest.raises(GeoError) as err:
        frontend(source)
    assert [d.code for d in err.value.diagnostics] == ["GEO430"]
