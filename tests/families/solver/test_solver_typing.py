"""The solver's groups and representations in the language: parsing, dimensions, and the typing
rules and contracts of `linear`, `mdot`, `norm`, `act` and `*` under them (issue 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import values
from helpers import assert_fails_at, assert_type_round_trips, checked_type, type_error_codes

from geoc import solver
from geoc.diagnostics import CODES, GeoError
from geoc.groups import Group, MatrixFactor, Permutation
from geoc.ops.solver_ops import pair_basis, uses_solver
from geoc.pipeline import frontend
from geoc.types import Atom, AtomKind, FeatureType

HERE = Path(__file__).parent

TENSOR2 = Atom(AtomKind.TENSOR, (2,))
VECTOR = Atom(AtomKind.VECTOR)
REGULAR = Atom(AtomKind.REGULAR)


# ---------------------------------------------------------------------------------------------
# Atoms and groups


@pytest.mark.parametrize(
    "text", ["2 x tensor(2) + vector", "3 x regular over nodes", "tensor(3) + scalar"]
)
def test_atom_text_round_trip(text: str) -> None:
    assert_type_round_trips(text)


@pytest.mark.parametrize(
    ("text", "code"), [("tensor(0)", "GEO330"), ("tensor(9)", "GEO330"), ("tensor(2, 3)", "GEO301")]
)
def test_bad_tensor_atoms(text: str, code: str) -> None:
    assert type_error_codes(text) == [code]


@pytest.mark.parametrize(
    "text",
    ["Lorentz(3) x S(particles)", "Sp(2)", "C(4)", "D(4)", "S(5)", "A(5)", "S(5) x S(nodes)"],
)
def test_matrix_group_text_round_trip(text: str) -> None:
    assert str(Group.parse(text)) == text
    assert Group.parse(str(Group.parse(text))) == Group.parse(text)


def test_s_with_a_number_acts_on_channels_and_with_a_name_on_an_axis() -> None:
    group = Group.parse("S(5) x S(nodes)")
    assert group.factors == (MatrixFactor("S", 5), Permutation("nodes"))
    assert group.permuted_axes == ("nodes",) and group.channel_group == solver.S(5)


@pytest.mark.parametrize(
    ("text", "vector", "tensor2", "regular"),
    [
        ("Lorentz(3)", 4, 16, None),
        ("Sp(2)", 4, 16, None),
        ("C(4)", 2, 4, 4),
        ("D(4)", 2, 4, 8),
        ("S(5)", 5, 25, 120),
        ("A(4)", 4, 16, 12),
        ("O(5)", 5, 25, None),
    ],
)
def test_atom_dimensions(text: str, vector: int, tensor2: int, regular: int | None) -> None:
    group = Group.parse(text)
    assert (group.atom_dim(VECTOR), group.atom_dim(TENSOR2)) == (vector, tensor2)
    if regular is not None:
        assert group.atom_dim(REGULAR) == regular


@pytest.mark.parametrize(
    "text", ["Lorentz(0)", "S(65)", "O(3) x Lorentz(3)", "C(4) x D(4)", "Sp(x)", "A(2.5)"]
)
def test_bad_matrix_groups(text: str) -> None:
    with pytest.raises(GeoError) as info:
        Group.parse(text)
    assert info.value.codes == ["GEO202"]


def test_group_size_from_a_parameter() -> None:
    text = "model M(n: int = 6) {\n    symmetry S(n)\n    input x: vector\n"
    graph = frontend(text + "    output y: vector = x\n}\n", params={"n": 7})
    assert str(graph.group) == "S(7)" and graph.group.space_dim == 7


def test_lorentz_samples_are_proper_orthochronous() -> None:
    rng = np.random.default_rng(0)
    eta = solver.minkowski_metric(3)
    group = Group.parse("Lorentz(3)")
    for _ in range(5):
        g = group.sample(rng, {}).matrix
        assert np.allclose(g.T @ eta @ g, eta, atol=1e-12)
        assert np.isclose(np.linalg.det(g), 1.0) and 1.04 < g[0, 0] < 1.6  # a real boost


def test_finite_samples_avoid_the_identity() -> None:
    rng = np.random.default_rng(1)
    group = Group.parse("C(2)")
    assert all(not np.allclose(group.sample(rng, {}).matrix, np.eye(2)) for _ in range(10))


# ---------------------------------------------------------------------------------------------
# Declared types and op typing rules: small inline models, `@` marks the primary span


def model(symmetry: str, inputs: str, body: str, domain: str = "") -> str:
    dom = f"    domain {domain}\n" if domain else ""
    return (
        f"model M() {{\n    symmetry {symmetry}\n{dom}{inputs}\n{body}\n"
        "    input s: scalar\n    output z: scalar = s\n}\n"
    )


def infer(symmetry: str, inputs: str, expr: str, domain: str = "") -> str:
    """The type of ``y = expr``, which must also satisfy its equivariance contract."""
    return checked_type(model(symmetry, inputs, f"    y = {expr}", domain))


assert_error = assert_fails_at


LORENTZ_SET = ("Lorentz(3) x S(particles)", "set(particles)")
PARTICLES = "    input p: 2 x vector over particles\n    input q: vector"

GOOD = [
    ("O(5)", "    input x: vector + tensor(2)", "linear(x, 4 x tensor(2) + scalar)", ""),
    ("SO(3)", "    input t: tensor(2)", "linear(t, vector)", ""),  # the ε map
    ("Lorentz(3)", "    input v: vector", "linear(v, 3 x vector)", ""),
    ("D(4)", "    input r: regular", "act(linear(r, 2 x regular), relu)", ""),
    ("S(5)", "    input v: vector", "act(v, relu)", ""),
    (*LORENTZ_SET[:1], PARTICLES, "mdot(p, p)", LORENTZ_SET[1]),
    (*LORENTZ_SET[:1], PARTICLES, "mdot(p, concat(q, q))", LORENTZ_SET[1]),
    (*LORENTZ_SET[:1], PARTICLES, "sum(p, over=particles)", LORENTZ_SET[1]),
    ("O(5)", "    input t: 2 x tensor(2)", "sqnorm(t)", ""),
    ("Sp(2)", "    input v: vector + tensor(2)", "mdot(v, v)", ""),
    ("E(3)", "    input t: tensor(2)", "linear(t, scalar + tensor(2))", ""),
]
EXPECTED = values(HERE / "test_solver_typing.cases", "expected")


@pytest.mark.parametrize(("case", "expected"), list(zip(GOOD, EXPECTED, strict=True)))
def test_good_types(case: tuple[str, str, str, str], expected: str) -> None:
    assert infer(*case) == expected


ERRORS = [
    # representations a group cannot act on
    (model("O(3)", "    input r: @regular", ""), "GEO330"),
    (model("Lorentz(3)", "    input r: @pseudovector", ""), "GEO330"),
    (model("S(set)", "    input t: @tensor(2) over set", "", "set(set)"), "GEO309"),
    (model("Lorentz(3)", "    input t: tensor(2)", "    y = linear(t, @1e + scalar)"), "GEO330"),
    # Schur: no equivariant map
    (model("O(5)", "    input v: vector", "    y = linear(@v, tensor(2))"), "GEO403"),
    (model("O(3)", "    input t: tensor(2)", "    y = linear(@t, vector)"), "GEO403"),
    (model("O(3)", "    input t: tensor(2)", "    y = linear(@t, 1o + scalar)"), "GEO403"),
    (model("Lorentz(3)", "    input v: vector", "    y = linear(@v, vector + scalar)"), "GEO403"),
    # invariants of a non-orthogonal group
    (model("Lorentz(3)", "    input v: vector", "    y = norm(@v)"), "GEO420"),
    (model("Sp(2)", "    input v: vector", "    y = dot(@v, v)"), "GEO420"),
    (model("Lorentz(3)", "    input v: vector", "    y = mlp(@v, [4])"), "GEO401"),
    # non-linearities and products
    (model("Lorentz(3)", "    input v: vector", "    y = act(@v, relu)"), "GEO402"),
    (model("C(4)", "    input v: vector", "    y = act(@v, relu)"), "GEO402"),
    (model("Lorentz(3)", "    input v: vector", "    y = v * @v"), "GEO407"),
    (model("D(4)", "    input r: regular", "    y = r * @r"), "GEO407"),
    # mdot
    (
        model("Lorentz(3)", "    input v: 2 x vector\n    input w: vector", "    y = mdot(v, @w)"),
        "GEO300",
    ),
    (model("Lorentz(3)", "    input v: 2 x vector", "    y = mdot(v, v, @v)"), "GEO304"),
    (model("O(3)", "    input v: pseudovector", "    y = mdot(@v, v)"), "GEO300"),
    (model("Lorentz(3)", "    input v: 2 x vector", "    y = mdot(v, @concat(v, v))"), "GEO300"),
]


@pytest.mark.parametrize(("text", "code"), ERRORS)
def test_errors(text: str, code: str) -> None:
    assert_error(text, code)


def test_schur_error_has_a_help_line() -> None:
    err = assert_error(
        model("O(5)", "    input v: vector", "    y = linear(@v, tensor(2))"), "GEO403"
    )
    first = err.diagnostics[0]
    assert "`vector` to `tensor(2)` under O(5)" in first.message and "GEO403" in first.help


def test_norm_error_suggests_mdot() -> None:
    err = assert_error(model("Lorentz(3)", "    input v: vector", "    y = sqnorm(@v)"), "GEO420")
    assert "mdot(x, x)" in err.diagnostics[0].help


def test_new_codes_are_registered() -> None:
    assert {"GEO330", "GEO331", "GEO420"} <= set(CODES)


# ---------------------------------------------------------------------------------------------
# Which layers use the solver, and the basis sizes the layers get


def test_dispatch_to_the_solver() -> None:
    t = FeatureType.parse
    assert uses_solver(Group.parse("O(5)"), t("vector"), t("tensor(2)"))
    assert not uses_solver(Group.parse("O(5)"), t("vector"), t("2 x vector"))  # Schur as before
    assert uses_solver(Group.parse("Lorentz(3)"), t("vector"), t("vector"))
    assert not uses_solver(Group.parse("Lorentz(3)"), t("4 x scalar"), t("scalar"))
    assert not uses_solver(Group.parse("S(set)"), t("scalar"), t("scalar"))


@pytest.mark.parametrize(
    ("text", "atom_in", "atom_out", "size"),
    [
        ("O(5)", TENSOR2, TENSOR2, 3),
        ("SO(3)", TENSOR2, VECTOR, 1),
        ("O(3)", TENSOR2, VECTOR, 0),
        ("Lorentz(3)", VECTOR, VECTOR, 1),
        ("Lorentz(3)", TENSOR2, TENSOR2, 4),
        ("Sp(2)", TENSOR2, TENSOR2, 3),
        ("S(5)", TENSOR2, TENSOR2, 15),
        ("A(5)", TENSOR2, TENSOR2, 16),
        ("C(4)", REGULAR, REGULAR, 4),
        ("D(4)", REGULAR, REGULAR, 8),
    ],
)
def test_basis_sizes(text: str, atom_in: Atom, atom_out: Atom, size: int) -> None:
    group = Group.parse(text).channel_group
    assert pair_basis(group, atom_in, atom_out).size == size
