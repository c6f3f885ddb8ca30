"""Tensor products of the solver's atoms, `tensor(a, b, ...)` (issue 7): the text form, dims,
the Kronecker action, the basis of `linear` against the solver called directly, and numeric
equivariance of compiled layers in float64."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from cases import cases
from helpers import assert_type_round_trips, type_error_codes

from geoc import solver
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.groups import Group
from geoc.ops.solver_ops import pair_basis, solver_rep
from geoc.pipeline import frontend
from geoc.types import SCALAR, VECTOR, Atom, AtomKind, FeatureType, tensor_product

HERE = Path(__file__).parent

pytestmark = pytest.mark.usefixtures("one_thread")

TENSOR2 = Atom(AtomKind.TENSOR, (2,))
REGULAR_ATOM = Atom(AtomKind.REGULAR)
VEC_REG = tensor_product(VECTOR, REGULAR_ATOM)


@pytest.mark.parametrize(
    "text",
    [
        "2 x tensor(vector, regular) + scalar",
        "tensor(regular, tensor(2)) over nodes",
        "tensor(vector, regular, vector) + 3 x tensor(regular, regular)",
    ],
)
def test_text_round_trip(text: str) -> None:
    assert_type_round_trips(text, same_text=False)


@pytest.mark.parametrize(
    ("text", "canonical"),
    cases(HERE / "test_solver_products.cases", "products_are_written_canonically"),
)
def test_products_are_written_canonically(text: str, canonical: str) -> None:
    assert str(FeatureType.parse(text)) == canonical
    assert FeatureType.parse(text) == FeatureType.parse(canonical)


@pytest.mark.parametrize(
    ("text", "code"),
    cases(HERE / "test_solver_products.cases", "bad_products"),
)
def test_bad_products(text: str, code: str) -> None:
    assert type_error_codes(text) == [code]


def test_dims_are_products() -> None:
    c4, o3 = Group.parse("C(4)"), Group.parse("O(3)")
    assert c4.atom_dim(VEC_REG) == 2 * 4
    assert c4.type_dim(FeatureType.parse("2 x tensor(vector, regular) + scalar")) == 17
    assert c4.atom_dim(tensor_product(REGULAR_ATOM, REGULAR_ATOM, VECTOR)) == 32
    assert o3.atom_dim(tensor_product(VECTOR, TENSOR2)) == 27


def test_matrix_is_the_kronecker_product_row_major() -> None:
    group = Group.parse("D(4)")
    element = group.sample(np.random.default_rng(0), {})
    vec, reg = group.atom_matrix(VECTOR, element), group.atom_matrix(REGULAR_ATOM, element)
    assert np.array_equal(group.atom_matrix(VEC_REG, element), np.kron(vec, reg))
    rev = tensor_product(REGULAR_ATOM, VECTOR)
    assert np.array_equal(group.atom_matrix(rev, element), np.kron(reg, vec))
    assert group.permutes(tensor_product(REGULAR_ATOM, REGULAR_ATOM))
    assert not group.permutes(VEC_REG)  # D(4) rotates R^2


def test_solver_rep_is_the_product_of_reps() -> None:
    group = solver.C(4)
    rep = solver_rep(VEC_REG)
    assert rep.dim(group) == 8
    g = group.discrete[0]
    expected = np.kron(solver.V.matrix(group, g), solver.regular.matrix(group, g))
    assert np.allclose(rep.matrix(group, g), expected)


def test_tensor_of_vectors_is_tensor_power() -> None:
    """tensor(vector, vector) is tensor(2): the same atom, so dims, matrices and bases agree;
    under O(3) the maps tensor(2) -> tensor(2) are δδ, the identity and the transpose."""
    assert FeatureType.parse("tensor(vector, vector)").atoms == (TENSOR2,)
    assert tensor_product(VECTOR, VECTOR) == TENSOR2
    o3 = Group.parse("O(3)").channel_group
    assert pair_basis(o3, tensor_product(VECTOR, VECTOR), TENSOR2).size == 3
    direct = solver.equivariant_basis(o3, solver.V * solver.V, solver.T(2))
    assert direct.shape[1] == 3


@pytest.mark.parametrize(
    ("atom_in", "atom_out", "rep_in", "rep_out"),
    [
        (VEC_REG, REGULAR_ATOM, solver.V * solver.regular, solver.regular),
        (REGULAR_ATOM, VEC_REG, solver.regular, solver.V * solver.regular),
        (VEC_REG, VEC_REG, solver.V * solver.regular, solver.V * solver.regular),
        (SCALAR, VEC_REG, solver.scalar, solver.V * solver.regular),
    ],
)
def test_basis_dimension_under_c4(atom_in: Atom, atom_out: Atom, rep_in, rep_out) -> None:
    group = solver.C(4)
    direct = solver.equivariant_basis(group, rep_in, rep_out)
    pb = pair_basis(group, atom_in, atom_out)
    assert pb.size == direct.shape[1] > 0
    assert np.allclose(pb.dense.reshape(pb.size, -1), direct.T)


def test_basis_is_equivariant() -> None:
    group = Group.parse("C(4)")
    pb = pair_basis(group.channel_group, VEC_REG, REGULAR_ATOM)
    rng = np.random.default_rng(3)
    for _ in range(4):
        element = group.sample(rng, {})
        rho_in, rho_out = (group.atom_matrix(a, element) for a in (VEC_REG, REGULAR_ATOM))
        for b in pb.dense:
            assert np.abs(rho_out @ b - b @ rho_in).max() < 1e-12


def spec(symmetry: str, source: str, target: str) -> str:
    return (
        f"model M() {{\n    symmetry {symmetry}\n    input x: {source}\n"
        f"    h = linear(x, {target})\n    output y: {target} = h\n}}\n"
    )


@pytest.mark.parametrize(
    ("symmetry", "source", "target"),
    cases(HERE / "test_solver_products.cases", "compiled_linear_is_equivariant"),
)
def test_compiled_linear_is_equivariant(symmetry: str, source: str, target: str) -> None:
    report = check(spec(symmetry, source, target), trials=3, atol=1e-9)
    assert report.passed, report.render()


def test_regular_factor_needs_a_finite_group() -> None:
    with pytest.raises(GeoError) as info:
        frontend(spec("O(3)", "tensor(vector, regular)", "vector"))
    assert info.value.codes[0] == "GEO330"


def test_product_matrix_matches_kron_of_reps() -> None:
    group = Group.parse("C(4)")
    atom = tensor_product(REGULAR_ATOM, VECTOR, REGULAR_ATOM)
    element = group.sample(np.random.default_rng(5), {})
    factors = [group.atom_matrix(a, element) for a in (REGULAR_ATOM, VECTOR, REGULAR_ATOM)]
    assert np.array_equal(group.atom_matrix(atom, element), functools.reduce(np.kron, factors))


def test_two_bases_of_one_space_canonicalise_alike() -> None:
    """Bases made deterministic across BLAS builds: any orthonormal basis of the span gives the
    same canonical matrix (here the O(3) maps tensor(2) -> tensor(2) under a random rotation)."""
    from geoc.solver.nullspace import canonical_basis

    q = solver.equivariant_basis(solver.O(3), solver.T(2), solver.T(2), cache=False)
    rng = np.random.default_rng(7)
    mix, _ = np.linalg.qr(rng.normal(size=(q.shape[1], q.shape[1])))
    first, second = canonical_basis(q), canonical_basis(q @ mix)
    assert np.abs(first - second).max() < 1e-12
    assert np.allclose(first.T @ first, np.eye(q.shape[1]), atol=1e-12)
    assert np.allclose(first @ first.T, q @ q.T, atol=1e-12)  # the same space
