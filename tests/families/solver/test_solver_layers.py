"""Layers built from the equivariant-basis solver: the compiled `linear` against an explicit
Σ coeff·basis reference, `mdot` against x^T η y, the closed-form (diagram) path against the
solver's own `apply`, and equivariance under random elements of every group in float64."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from cases import cases

from geoc import solver
from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify import check_module
from geoc.groups import Group
from geoc.ops import solver_ops
from geoc.types import AtomKind, FeatureType

HERE = Path(__file__).parent

pytestmark = pytest.mark.usefixtures("one_thread")


def linear_model(symmetry: str, source: str, target: str, extra: str = "") -> torch.fx.GraphModule:
    text = (
        f"model M() {{\n    symmetry {symmetry}\n    input x: {source}\n"
        f"    h = linear(x, {target}{extra})\n    output y: {target} = h\n}}\n"
    )
    return compile(text, dtype=torch.float64)


def rep_of(atom_text: str) -> solver.Rep:
    """The solver's representation of an atom, written out here (not taken from geoc.ops)."""
    if atom_text.startswith("tensor("):
        return solver.T(int(atom_text[7:-1]))
    return {"scalar": solver.scalar, "vector": solver.V, "regular": solver.regular}[atom_text]


def reference_affine(
    module: torch.fx.GraphModule, group: Group, source: FeatureType, target: FeatureType
) -> tuple[np.ndarray, np.ndarray]:
    """W and b from the module's coefficients and bases solved here, copy-major layout."""
    chan = group.channel_group
    sizes_in = [group.atom_dim(t.atom) for t in source.terms]
    sizes_out = [group.atom_dim(t.atom) for t in target.terms]
    weight = np.zeros((group.type_dim(target), group.type_dim(source)))
    bias = np.zeros(group.type_dim(target))
    row = 0
    for o, out in enumerate(target.terms):
        d_o, col = sizes_out[o], 0
        for i, inp in enumerate(source.terms):
            d_i = sizes_in[i]
            basis = solver.equivariant_basis(chan, rep_of(str(inp.atom)), rep_of(str(out.atom)))
            if basis.shape[1]:
                coeff = module.get_parameter(f"h.coeff_{o}_{i}").detach().numpy()
                for p, q in itertools.product(range(out.mul), range(inp.mul)):
                    block = (basis @ coeff[p, q]).reshape(d_o, d_i)
                    weight[
                        row + p * d_o : row + (p + 1) * d_o, col + q * d_i : col + (q + 1) * d_i
                    ] = block
            col += inp.mul * d_i
        invariants = solver.invariant_basis(chan, rep_of(str(out.atom)))
        if invariants.shape[1]:
            coeff = module.get_parameter(f"h.bias_{o}").detach().numpy()
            bias[row : row + out.mul * d_o] = (coeff @ invariants.T).reshape(-1)
        row += out.mul * d_o
    return weight, bias


CASES = cases(HERE / "test_solver_layers.cases", "cases")


@pytest.mark.parametrize(("symmetry", "source", "target"), CASES)
def test_linear_matches_coefficients_times_basis(symmetry: str, source: str, target: str) -> None:
    module = linear_model(symmetry, source, target)
    group = module.meta["geoc_ir"].group
    src, dst = FeatureType.parse(source), FeatureType.parse(target)
    weight, bias = reference_affine(module, group, src, dst)
    x = np.random.default_rng(0).normal(size=(4, group.type_dim(src)))
    got = np.stack([module(x=torch.as_tensor(row))["y"].detach().numpy() for row in x])
    np.testing.assert_allclose(got, x @ weight.T + bias, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize(("symmetry", "source", "target"), CASES)
def test_linear_is_equivariant(symmetry: str, source: str, target: str) -> None:
    """The compiled layer passes the check; its W commutes with ρ(g) while a random W does not
    (so the sampled elements act non-trivially)."""
    module = linear_model(symmetry, source, target)
    report = check_module(module, trials=6, seed=3)
    assert report.passed and all(row.rel_error < 1e-9 for row in report.outputs), report.render()
    group = module.meta["geoc_ir"].group
    src, dst = FeatureType.parse(source), FeatureType.parse(target)
    weight, _ = reference_affine(module, group, src, dst)
    noise = np.random.default_rng(1).normal(size=weight.shape)
    rng = np.random.default_rng(2)
    for _ in range(4):
        element = group.sample(rng, {})
        rho_in, _ = group.channel_action(src, element)
        rho_out, _ = group.channel_action(dst, element)
        scale = np.abs(weight).max()
        assert np.abs(rho_out @ weight - weight @ rho_in).max() < 1e-12 * max(scale, 1.0) * 100
        assert np.abs(rho_out @ noise - noise @ rho_in).max() > 1e-3


def test_so3_maps_a_matrix_to_a_vector_by_levi_civita() -> None:
    """SO(3): the one map tensor(2) -> vector is ε (the axial vector of the antisymmetric part);
    O(3) has none (ε is odd under reflections)."""
    group = Group.parse("SO(3)").channel_group
    basis = solver_ops.pair_basis(group, *FeatureType.parse("tensor(2) + vector").atoms).dense
    epsilon = np.zeros((3, 3, 3))
    for (i, j, k), sign in zip(
        itertools.permutations(range(3)), [1, -1, -1, 1, 1, -1], strict=True
    ):
        epsilon[i, j, k] = sign
    (w,) = basis.reshape(1, 3, 9)
    direction = epsilon.reshape(3, 9) / np.linalg.norm(epsilon)
    assert abs(abs(np.sum(w * direction)) - 1.0) < 1e-12


# ---------------------------------------------------------------------------------------------
# mdot


@pytest.mark.parametrize(
    ("symmetry", "metric"),
    [
        ("Lorentz(3)", solver.minkowski_metric(3)),
        ("Sp(2)", solver.symplectic_form(2)),
        ("O(4)", np.eye(4)),
    ],
)
def test_mdot_is_the_invariant_form(symmetry: str, metric: np.ndarray) -> None:
    text = (
        f"model M() {{\n    symmetry {symmetry}\n    input a: 2 x vector + tensor(2)\n"
        "    input b: 2 x vector + tensor(2)\n    output y: 3 x scalar = mdot(a, b)\n}\n"
    )
    module = compile(text, dtype=torch.float64)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=24), rng.normal(size=24)
    got = module(a=torch.as_tensor(a), b=torch.as_tensor(b))["y"].detach().numpy()
    ta, tb = a[8:].reshape(4, 4), b[8:].reshape(4, 4)
    expected = [
        a[0:4] @ metric @ b[0:4],
        a[4:8] @ metric @ b[4:8],
        np.einsum("ij,ik,jl,kl->", ta, metric, metric, tb),
    ]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    report = check_module(module, trials=4)
    assert report.passed, report.render()


def test_mdot_catches_a_wrong_metric() -> None:
    """The check is sharp: the Euclidean dot of Lorentz vectors (here forced past the type
    rules by an explicit element) changes under a boost."""
    group = Group.parse("Lorentz(3)")
    element = group.sample(np.random.default_rng(0), {})
    x = np.random.default_rng(1).normal(size=4)
    moved = element.matrix @ x
    eta = solver.minkowski_metric(3)
    assert abs(moved @ eta @ moved - x @ eta @ x) < 1e-12
    assert abs(moved @ moved - x @ x) > 1e-2


# ---------------------------------------------------------------------------------------------
# Closed forms: layers whose dense basis would be huge apply diagrams instead


@pytest.fixture
def closed_forms_only(monkeypatch: pytest.MonkeyPatch):
    """Every pair of atoms with more than one coordinate pair goes through its closed form."""
    monkeypatch.setattr(solver_ops, "DENSE_ENTRIES_MAX", 1)
    solver_ops.pair_basis.cache_clear()
    yield
    solver_ops.pair_basis.cache_clear()


@pytest.mark.parametrize(
    ("symmetry", "closed_form"),
    [
        ("S(5)", lambda group, k, out: solver.PartitionBasis(5, k, out)),
        ("O(4)", lambda group, k, out: solver.BrauerBasis(group, k, out)),
        ("Sp(2)", lambda group, k, out: solver.BrauerBasis(group, k, out)),
    ],
)
@pytest.mark.usefixtures("closed_forms_only")
def test_closed_form_layers_match_the_solver_apply(symmetry: str, closed_form) -> None:
    source, target = "vector + 2 x tensor(2)", "2 x tensor(2) + vector"
    module = linear_model(symmetry, source, target, ", bias=false")
    group = module.meta["geoc_ir"].group
    chan, d = group.channel_group, group.space_dim
    assert not any(name.startswith("solver_basis") for name, _ in module.named_buffers())
    x = np.random.default_rng(0).normal(size=group.type_dim(FeatureType.parse(source)))
    got = module(x=torch.as_tensor(x))["y"].detach().numpy()
    parts_in = [(1, 1), (2, 2)]  # (multiplicity, order) of each input term
    parts_out = [(2, 2), (1, 1)]
    expected, at_in = [], 0
    chunks = []
    for mul, k in parts_in:
        chunks.append(x[at_in : at_in + mul * d**k].reshape(mul, *(d,) * k))
        at_in += mul * d**k
    for o, (mul_o, l) in enumerate(parts_out):  # noqa: E741
        y = np.zeros((mul_o, *(d,) * l))
        for i, (mul_i, k) in enumerate(parts_in):
            basis = closed_form(chan, k, l)
            if not len(basis):  # odd total order: no Brauer diagram
                continue
            coeff = module.get_parameter(f"h.coeff_{o}_{i}").detach().numpy()
            for p, q in itertools.product(range(mul_o), range(mul_i)):
                y[p] += basis.apply(coeff[p, q], chunks[i][q])
        expected.append(y.reshape(-1))
    np.testing.assert_allclose(got, np.concatenate(expected), atol=1e-10)
    report = check_module(module, trials=4)
    assert report.passed, report.render()


@pytest.mark.usefixtures("closed_forms_only")
def test_no_closed_form_is_geo331() -> None:
    from geoc.diagnostics import GeoError

    with pytest.raises(GeoError) as info:
        linear_model("Lorentz(3)", "tensor(3)", "vector")  # ε terms: no Brauer closed form
    assert info.value.codes == ["GEO331"]


def test_large_permutation_layer_uses_partitions() -> None:
    """S(24) on tensor(2): 576² coordinate pairs per map, above the dense limit; 15 diagrams."""
    group = Group.parse("S(24)")
    tensor2 = FeatureType.parse("tensor(2)").atoms[0]
    assert solver_ops.pair_basis(group.channel_group, tensor2, tensor2).dense is None
    module = linear_model("S(24)", "tensor(2) + vector", "tensor(2) + scalar")
    report = check_module(module, trials=2)
    assert report.passed and report.max_error < 1e-9, report.render()


def test_regular_atoms_of_finite_groups() -> None:
    """`regular` permutes coordinates: a pointwise relu keeps equivariance."""
    text = (
        "model M() {\n    symmetry D(4)\n    input r: 2 x regular\n"
        "    h = act(linear(r, 3 x regular), relu)\n    output y: 3 x regular = h\n}\n"
    )
    report = check_module(compile(text, dtype=torch.float64), trials=6)
    assert report.passed, report.render()
    group = Group.parse("D(4)")
    assert group.atom_dim(FeatureType.parse("regular").atoms[0]) == 8
    assert FeatureType.parse("regular").atoms[0].kind is AtomKind.REGULAR
