"""Weight spaces of residual networks (`residual=`: permutations tied across skips) and batches
of networks of several widths (`padded=true`: zero-padded to declared maxima, masked means)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_captures, run_exported
from test_cnn_weightspace import random_layers, run_network

from geoc import solver
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common.validate_kernels import InputError
from geoc.backends.torch_fx.domains.weightspace import permute_layers
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check
from geoc.backends.torch_fx.weightspace import kernels as rt_ws
from geoc.diagnostics import GeoError
from geoc.domains import Domain, DomainKind
from geoc.domains.weightspace_layout import WeightSpace
from geoc.pipeline import frontend
from geoc.solver.groups import Family, MatrixGroup, permutation_matrix

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def model_source(domain: str, out: str = "") -> str:
    """A small model on ``domain``: two layers, an invariant score and (``out``) an output over
    the weights."""
    lines = [
        "model M(c: int = 3) {",
        "    symmetry S(hidden)",
        f"    domain weightspace({domain})",
        "    input w: scalar over weights",
        "    h = act(dws_linear(w, c x scalar), relu)",
        "    h = act(dws_linear(h, c x scalar) + h, relu)",
        "    output y: scalar = mlp(concat(dws_pool(h), dws_pool(h, reduce=max)), [8, 1])",
    ]
    if out:
        lines.append("    output z: 2 x scalar over weights = dws_linear(h, 2 x scalar)")
    return "\n".join([*lines, "}", ""])


# --- residual networks --------------------------------------------------------------------------


def test_residual_domain_ties_the_layers_a_skip_joins() -> None:
    domain = Domain.parse("weightspace(mlp=[2, 4, 4, 4, 3, 1], residual=[3, 2])")
    assert str(domain) == "weightspace(mlp=[2, 4, 4, 4, 3, 1], residual=[2, 3])"
    space = WeightSpace.of(domain)
    assert space.tied == {1: 1, 2: 1, 3: 1, 4: 4}
    perms = space.random_permutations(np.random.default_rng(0))
    assert np.array_equal(perms[1], perms[2]) and np.array_equal(perms[2], perms[3])


@pytest.mark.parametrize(
    ("domain", "where"),
    [
        ("mlp=[2, 4, 5, 1], residual=[2]", "2]"),  # widths 4 and 5
        ("mlp=[2, 2, 2, 2], residual=[1]", "1]"),  # the input layer does not move
        ("mlp=[2, 3, 3, 3], residual=[3]", "3]"),  # nor does the output layer
        ("cnn=[1, 4, 5], kernel=3, head=[2], residual=[2]", "2]"),
    ],
)
def test_a_skip_between_other_layers_is_geo441(domain: str, where: str) -> None:
    source = model_source(domain)
    with pytest.raises(GeoError) as err:
        frontend(source)
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "GEO441"
    span = diagnostic.span
    line = source.splitlines()[span.line - 1]
    assert line[span.col - 1 :].startswith(where) and span.end_col == span.col + 1


RESIDUAL_SPACES = [
    WeightSpace((2, 4, 4, 4, 3), skips=(2, 3)),
    WeightSpace((2, 3, 3, 3, 2), conv=2, kernel=3, skips=(2,)),  # conv 1 -> conv 2
    WeightSpace((1, 3, 3, 3, 2), conv=2, kernel=3, skips=(3,)),  # conv 2 -> head across pooling
]


@pytest.mark.parametrize("space", RESIDUAL_SPACES, ids=lambda s: f"{s.sizes}/{s.skips}")
def test_tied_permutations_keep_the_function_untied_ones_do_not(space: WeightSpace) -> None:
    layers = random_layers(space, 1, 1, seed=1)
    x = (
        torch.randn(4, space.sizes[0], 5, 5, dtype=F64)
        if space.conv
        else torch.randn(6, space.sizes[0], dtype=F64)
    )
    want = run_network(space, layers, x)
    rng = np.random.default_rng(2)
    for _ in range(3):
        tied = space.random_permutations(rng)
        got = run_network(space, permute_layers(layers, space, tied), x)
        assert (got - want).abs().max() < 1e-12
    first = min(space.skips) - 1  # untie: move the layer before the first skip alone
    untied = {first: np.roll(np.arange(space.sizes[first]), 1)}
    changed = run_network(space, permute_layers(layers, space, untied), x)
    assert (changed - want).abs().max() > 1e-3


@pytest.mark.parametrize("space", RESIDUAL_SPACES, ids=lambda s: f"{s.sizes}/{s.skips}")
def test_layer_is_equivariant_under_tied_permutations(space: WeightSpace) -> None:
    rng = np.random.default_rng(3)
    layers = random_layers(space, 3, 2, seed=4)
    x = rt_ws.pack(layers, space.shapes, 2)
    blocks, members = space.plan()
    widths = [space.term_width(t) for t in space.terms]
    weights = [torch.as_tensor(rng.normal(size=(w * 3, w * 2))) for w in widths]
    bias = torch.as_tensor(rng.normal(size=space.invariant_width * 3))
    tied = [
        torch.as_tensor(rng.normal(size=(space.blocks[b].fixed_size * 3, w * 2)))
        for b, w in space.tied_targets
    ]
    assert tied  # the skips' orbit maps are part of the layer
    extra = (None, space.tied_maps, space.tied_targets, tied)
    before = rt_ws.dws_linear(x, blocks, members, weights, bias, 3, *extra)
    for _ in range(3):
        perms = space.random_permutations(rng)
        flat = torch.as_tensor(space.flat_permutation(perms))
        moved = rt_ws.pack(permute_layers(layers, space, perms), space.shapes, 2)
        after = rt_ws.dws_linear(moved, blocks, members, weights, bias, 3, *extra)
        assert (after - before[:, flat]).abs().max() < 1e-12
        pooled = rt_ws.dws_pool(x, blocks, "mean"), rt_ws.dws_pool(moved, blocks, "mean")
        assert (pooled[1] - pooled[0]).abs().max() < 1e-12
    first = min(space.skips) - 1  # the orbit maps need the tie: moving one layer alone breaks it
    alone = {first: np.roll(np.arange(space.sizes[first]), 1)}
    flat = torch.as_tensor(space.flat_permutation(alone))
    moved = rt_ws.pack(permute_layers(layers, space, alone), space.shapes, 2)
    after = rt_ws.dws_linear(moved, blocks, members, weights, bias, 3, *extra)
    assert (after - before[:, flat]).abs().max() > 1e-3


def tied_group(space: WeightSpace) -> MatrixGroup:
    """The tied group on the P weights: a transposition and a cycle per class of layers."""
    gens = []
    for rep in sorted({space.tied[k] for k in space.permuted}):
        n = space.sizes[rep]
        swap = np.arange(n)
        swap[[0, 1]] = [1, 0]
        for perm in (swap, (np.arange(n) + 1) % n):
            moved = {k: perm for k in space.permuted if space.tied[k] == rep}
            gens.append(permutation_matrix(space.flat_permutation(moved)))
    p = space.size
    return MatrixGroup(Family.S, p, np.zeros((0, p, p)), np.stack(gens))


def all_layer_matrices(space: WeightSpace) -> np.ndarray:
    """Every P x P matrix the layer makes (c_in = c_out = 1), the skips' orbit maps included,
    one per coefficient, as rows (the solver's row-major [out, in] format)."""
    blocks, members = space.plan()
    widths = [space.term_width(t) for t in space.terms]
    shapes = [(w, w) for w in widths]
    shapes += [(space.blocks[b].fixed_size, w) for b, w in space.tied_targets]
    eye = torch.eye(space.size, dtype=F64)[:, :, None]
    rows = []
    for t, shape in enumerate(shapes):
        for entry in range(shape[0] * shape[1]):
            weights = [torch.zeros(s, dtype=F64) for s in shapes]
            weights[t].view(-1)[entry] = 1.0
            untied, tied = weights[: len(widths)], weights[len(widths) :]
            args = (space.tied_maps, space.tied_targets, tied)
            out = rt_ws.dws_linear(eye, blocks, members, untied, None, 1, None, *args)[:, :, 0]
            rows.append(out.T.reshape(-1).numpy())
    return np.stack(rows)


@pytest.mark.parametrize(
    "space",
    [
        WeightSpace((2, 4, 4, 2), skips=(2,)),
        pytest.param(WeightSpace((1, 4, 4, 4, 2), skips=(2, 3)), marks=pytest.mark.slow),
        pytest.param(
            WeightSpace((1, 4, 4, 2), conv=2, kernel=1, skips=(2,)), marks=pytest.mark.slow
        ),
    ],
    ids=lambda s: f"{s.sizes}/{s.skips}/conv{s.conv}",
)
def test_residual_layer_spans_exactly_the_tied_groups_maps(space: WeightSpace) -> None:
    """The untied terms and the skips' orbit maps together: as many coefficients as the tied
    group's solver basis has maps (183 for `mlp=[2, 4, 4, 2], residual=[2]`, against 114
    untied), full rank, every map in the solver's span."""
    group = tied_group(space)
    basis = solver.equivariant_basis(group, solver.V, solver.V, cache=False, method="solve")
    mats = all_layer_matrices(space)
    count = space.parameter_count(1, 1, bias=False)
    assert basis.shape[1] == count
    assert np.linalg.matrix_rank(mats) == count
    residual = mats.T - basis @ (basis.T @ mats.T)
    assert np.abs(residual).max() < 1e-9


@pytest.mark.slow
def test_residual_spec_checks_and_captures() -> None:
    domain = "cnn=[1, 3, 3], kernel=2, head=[2], residual=[2]"
    report = check(model_source(domain, out="z"), trials=3, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-9 and "tied across the skips into layers 2" in report.exact_law
    model = geoc_compile(model_source(domain))
    assert any("weight_tied" in name for name, _ in model.named_parameters())
    space = WeightSpace((1, 3, 3, 2), conv=2, kernel=2, skips=(2,))
    layers = [t.float()[..., 0] for t in random_layers(space, 2, 1, seed=5)]
    assert_captures(model, {"w": layers}, atol=1e-5)


# --- batches of several widths ------------------------------------------------------------------


def padded_batch(
    space: WeightSpace, widths: list[tuple[int, ...]], seed: int, fill: float = 0.0
) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """Networks of the given hidden widths: each alone (its own shapes), and all in one batch
    zero-padded to the maxima (``fill`` elsewhere than zero: padding that must not matter),
    followed by the widths tensor."""
    alone = []
    padded = [torch.full((len(widths), *s), fill, dtype=F64) for s in space.shapes]
    for n, hidden in enumerate(widths):
        own = WeightSpace((space.sizes[0], *hidden, space.sizes[-1]), space.conv, space.kernel)
        layers = [t[..., 0] for t in random_layers(own, 1, 1, seed=seed + n)]
        alone.append(layers)
        for target, layer in zip(padded, layers, strict=True):
            target[(n, *[slice(0, d) for d in layer.shape[1:]])] = layer[0]
    table = torch.tensor(widths, dtype=torch.long)
    return [*padded, table], alone


PADDED = [
    ("mlp=[3, 5, 6, 2]", [(2, 6), (5, 3), (4, 4)]),
    ("cnn=[2, 4, 5], kernel=3, head=[3]", [(2, 5), (4, 2), (3, 3)]),
    ("mlp=[2, 5, 5, 3, 1], residual=[2]", [(2, 2, 3), (5, 5, 2), (4, 4, 3)]),
]


def own_domain(space: WeightSpace, hidden: tuple[int, ...]) -> str:
    """The domain of one network of the padded space, at its own widths, as written."""
    sizes = (space.sizes[0], *hidden, space.sizes[-1])
    kind = DomainKind.WEIGHTSPACE
    text = str(Domain(kind, layers=sizes, conv=space.conv, kernel=space.kernel, skips=space.skips))
    return text.removeprefix("weightspace(").removesuffix(")")


@pytest.mark.parametrize(("domain", "widths"), PADDED, ids=["mlp", "cnn", "residual"])
def test_a_padded_batch_equals_each_network_alone(domain, widths) -> None:
    source = model_source(domain + ", padded=true", out="z")
    model = geoc_compile(source, dtype=F64, seed=3)
    space = WeightSpace.of(model.meta["geoc_ir"].domain)
    inputs, alone = padded_batch(space, widths, seed=6)
    out = model(w=inputs)
    noisy, _ = padded_batch(space, widths, seed=6, fill=7.0)
    assert torch.equal(model(w=noisy)["y"], out["y"])  # the padding is never read
    for n, (hidden, layers) in enumerate(zip(widths, alone, strict=True)):
        single = geoc_compile(model_source(own_domain(space, hidden), out="z"), dtype=F64)
        single.load_state_dict(model.state_dict())  # no parameter depends on a hidden width
        want = single(w=layers)
        assert (out["y"][n] - want["y"][0]).abs().max() < 1e-12
        for got, expected in zip(out["z"], want["z"], strict=True):
            cut = (n, *[slice(0, d) for d in expected.shape[1:]])
            assert (got[cut] - expected[0]).abs().max() < 1e-12
            assert (got[n].abs().sum() - got[cut].abs().sum()).abs() < 1e-12  # zero padding


@pytest.mark.slow
def test_padded_spec_checks_captures_and_exports(tmp_path: Path) -> None:
    params = {"convs": [1, 4, 4], "channels": 3, "depth": 2, "width": 16, "padded": True}
    report = check("unf_cnn", params=params, trials=3, every_value=True)
    assert report.passed, report.render()
    assert "true widths drawn per trial" in report.exact_law
    model = geoc_compile("unf_cnn", params=params, seed=1)
    space = WeightSpace.of(model.meta["geoc_ir"].domain)
    inputs, _ = padded_batch(space, [(2, 4), (4, 3)], seed=7)
    inputs = [t.float() if t.is_floating_point() else t for t in inputs]
    assert_captures(model, {"w": inputs}, atol=1e-5)
    folder = write_folder(model, tmp_path / "unf_padded", "specs/unf_cnn.geo")
    out = run_exported(folder, {"w": inputs}, tmp_path)
    assert torch.equal(out["score"], model(w=inputs)["score"])


def refused(code: str, model: torch.nn.Module, inputs: list) -> None:
    with pytest.raises(InputError) as err:
        model(w=inputs)
    assert err.value.code == code, str(err.value)


def test_bad_padded_inputs_are_input_errors() -> None:
    model = geoc_compile(model_source("mlp=[2, 4, 4, 1], residual=[2], padded=true"))
    space = WeightSpace.of(model.meta["geoc_ir"].domain)
    inputs, _ = padded_batch(space, [(3, 3), (4, 4)], seed=8)
    inputs = [t.float() if t.is_floating_point() else t for t in inputs]
    model(w=inputs)
    refused("GEO641", model, inputs[:-1])  # no widths
    refused("GEO641", model, [*inputs[:-1], inputs[-1].float()])
    refused("GEO641", model, [*inputs[:-1], inputs[-1][:, :1]])
    refused("GEO642", model, [*inputs[:-1], torch.tensor([[5, 5], [4, 4]])])  # above 4
    refused("GEO642", model, [*inputs[:-1], torch.tensor([[0, 0], [4, 4]])])
    refused("GEO643", model, [*inputs[:-1], torch.tensor([[3, 4], [4, 4]])])  # tied: one width


def test_compiled_residual_layer_has_the_tied_basis_dimension_of_parameters() -> None:
    source = (
        "model M() {\n    symmetry S(hidden)\n"
        "    domain weightspace(mlp=[2, 4, 4, 2], residual=[2])\n"
        "    input w: 2 x scalar over weights\n"
        "    output z: 3 x scalar over weights = dws_linear(w, 3 x scalar)\n}\n"
    )
    module = geoc_compile(source)
    space = WeightSpace((2, 4, 4, 2), skips=(2,))
    assert sum(p.numel() for p in module.parameters()) == space.parameter_count(2, 3)
    assert space.parameter_count(1, 1, bias=False) == 183  # the tied group's solver basis


def test_padded_inputs_of_one_call_share_their_widths() -> None:
    """Every layer masks by the first weight-space input's widths: a second input with other
    widths is GEO644, the same widths run (and give what the first input alone gives there)."""
    source = "\n".join(
        [
            "model Two() {",
            "    symmetry S(hidden)",
            "    domain weightspace(mlp=[2, 4, 4, 1], padded=true)",
            "    input u: scalar over weights",
            "    input v: scalar over weights",
            "    output y: scalar = mlp(concat(dws_pool(u), dws_pool(v)), [4, 1])",
            "}",
            "",
        ]
    )
    model = geoc_compile(source, dtype=F64, seed=2)
    space = WeightSpace.of(model.meta["geoc_ir"].domain)
    inputs, _ = padded_batch(space, [(3, 2), (4, 4)], seed=9)
    same = model(u=inputs, v=inputs)["y"]
    assert same.shape == (2, 1) and torch.isfinite(same).all()
    other = [*inputs[:-1], torch.tensor([[4, 4], [4, 4]])]
    with pytest.raises(InputError) as err:
        model(u=inputs, v=other)
    assert err.value.code == "GEO644", str(err.value)
