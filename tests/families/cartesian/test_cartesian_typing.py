"""Typing of the Cartesian tensor operators (issue 23): the types they give, each error's code
and primary span (``@`` marks where it must start), and the linear maps the solver allows
between `vector`, `tensor(2)` and their parts under O(3) and SO(3)."""

from __future__ import annotations

import pytest
from helpers import assert_fails_at, checked_type

from geoc.diagnostics import CODES
from geoc.groups import Group
from geoc.ops.solver_ops import pair_basis
from geoc.types import Atom, AtomKind

VEC = "    input u: 2 x vector\n    input v: 2 x vector\n    input t: 2 x tensor(2)"


def model(symmetry: str, body: str, extra: str = "") -> str:
    """A model with ``u``, ``v``, ``t`` (and ``w: extra`` if given) where ``body`` is typed."""
    inputs = VEC + (f"\n    input w: {extra}" if extra else "")
    return (
        f"model M() {{\n    symmetry {symmetry}\n{inputs}\n{body}\n"
        "    input s: scalar\n    output z: scalar = s\n}\n"
    )


def infer(symmetry: str, expr: str, extra: str = "") -> str:
    """The type of ``y = expr``, which must also satisfy its equivariance contract."""
    return checked_type(model(symmetry, f"    y = {expr}", extra))


GOOD = [
    ("O(3)", "outer(u, v)", "2 x tensor(2)"),
    ("O(3)", "outer(t, v)", "2 x tensor(3)"),
    ("O(3)", "outer(v, t)", "2 x tensor(3)"),
    ("O(3)", "outer(t, t)", "2 x tensor(4)"),
    ("O(3)", "contract(t, v)", "2 x vector"),
    ("O(3)", "contract(outer(t, u), v)", "2 x tensor(2)"),
    ("O(3)", "trace(t)", "2 x scalar"),
    ("O(3)", "sym_part(t)", "2 x tensor(2)"),
    ("O(3)", "antisym_part(t)", "2 x tensor(2)"),
    ("O(3)", "trace_part(t)", "2 x tensor(2)"),
    ("E(3)", "outer(u, w)", "2 x tensor(2)", "1o + vector"),  # `1o` is a vector under O(3)
    ("SO(3)", "axial(t)", "2 x vector"),
    ("SO(3)", "skew(u)", "2 x tensor(2)"),
    ("SE(3)", "axial(skew(u))", "2 x vector"),
    ("SO(3)", "outer(u, w)", "2 x tensor(2)", "2 x pseudovector"),  # a vector under SO(3)
    ("O(5)", "contract(outer(u, v), v)", "2 x vector"),  # any n
    ("O(5)", "sym_part(outer(u, v))", "2 x tensor(2)"),
    ("Lorentz(3)", "outer(u, v)", "2 x tensor(2)"),  # tensors are products of vectors
    ("Lorentz(3)", "antisym_part(t)", "2 x tensor(2)"),  # (t - tᵀ)/2 commutes with any g ⊗ g
    ("O(1, 3)", "outer(u, v)", "2 x tensor(2)"),
    ("SO(3)", "outer(w, v)", "2 x tensor(2)", "2 x point(3)"),  # no shifts: a point is a vector
    ("S(4)", "trace(outer(u, v))", "2 x scalar"),  # permutation matrices are orthogonal
    ("O(3)", "outer(w, w)", "2 x tensor(2)", "2 x unit(3)"),  # unit vectors: their coordinates
]


@pytest.mark.parametrize("case", GOOD)
def test_good_types(case: tuple[str, ...]) -> None:
    symmetry, expr, expected, *extra = case
    assert infer(symmetry, expr, *extra) == expected


ERRORS = [
    # not Cartesian tensors
    ("O(3)", "outer(u, @trace(t))", "GEO224"),
    ("O(3)", "outer(@w, v)", "GEO224", "2 x pseudovector"),  # flips under reflections
    ("O(3)", "contract(@w, v)", "GEO224", "2 x 2e"),
    ("O(3)", "trace(@w)", "GEO224", "2 x scalar"),
    ("O(3)", "outer(u, @w)", "GEO321", "2 x poincare(3)"),  # a manifold point: not Euclidean
    ("E(3)", "outer(@w, v)", "GEO404", "2 x point(3)"),  # a shift moves points
    # copies
    ("O(3)", "outer(u, @concat(v, v))", "GEO225"),
    ("O(3)", "contract(t, @concat(v, v))", "GEO225"),
    # orders
    ("O(3)", "contract(@u, v)", "GEO226"),
    ("O(3)", "contract(t, @t)", "GEO226"),
    ("O(3)", "trace(@u)", "GEO226"),
    ("O(3)", "sym_part(@outer(t, v))", "GEO226"),
    ("O(3)", "antisym_part(@concat(t, u))", "GEO226"),
    ("SO(3)", "axial(@u)", "GEO226"),
    ("SO(3)", "skew(@t)", "GEO226"),
    ("O(3)", "@outer(outer(outer(t, t), outer(t, t)), v)", "GEO226"),  # tensor(9)
    # Levi-Civita maps need R^3 and proper rotations
    ("SO(4)", "axial(@t)", "GEO227"),
    ("O(3)", "axial(@t)", "GEO494"),
    ("E(3)", "skew(@u)", "GEO494"),
    ("S(3)", "skew(@u)", "GEO494"),  # odd permutations have det -1
    # contractions with δ need an orthogonal group
    ("Lorentz(3)", "trace(@t)", "GEO420"),
    ("Lorentz(3)", "contract(@t, v)", "GEO420"),
    ("Sp(2)", "sym_part(@t)", "GEO420"),
    ("Lorentz(3)", "trace_part(@t)", "GEO420"),
    ("O(1, 3)", "contract(@t, v)", "GEO420"),  # indefinite: the invariant form is η, not δ
    ("SO(1, 3)", "axial(@t)", "GEO227"),
    # sized before it is built: 64^8 numbers per copy
    ("O(64)", "@outer(outer(outer(u, v), outer(u, v)), outer(outer(u, v), outer(u, v)))", "GEO520"),
]


@pytest.mark.parametrize("case", ERRORS)
def test_errors(case: tuple[str, ...]) -> None:
    symmetry, expr, code, *extra = case
    assert code in CODES
    assert_fails_at(model(symmetry, f"    y = {expr}", *extra), code)


def test_levi_civita_error_says_why_and_what_to_do() -> None:
    err = assert_fails_at(model("O(3)", "    y = skew(@u)"), "GEO494")
    first = err.diagnostics[0]
    assert "pseudotensor" in first.message and "reflections" in first.message
    assert "SO(3)" in first.help and "linear(t, pseudovector)" in first.help


def test_the_help_of_levi_civita_under_o3_is_accepted_and_equivariant() -> None:
    """What GEO494's help offers under O(3), `linear(t, pseudovector)`, is a valid map."""
    assert infer("O(3)", "linear(t, 2 x pseudovector)") == "2 x pseudovector"


# ---------------------------------------------------------------------------------------------
# The solver's maps between vector, tensor(2) and the parts


T2, V = Atom(AtomKind.TENSOR, (2,)), Atom(AtomKind.VECTOR)


@pytest.mark.parametrize(
    ("symmetry", "source", "target", "count"),
    [
        ("O(3)", V, T2, 0),  # 1o -> 0e + 1e + 2e: Schur allows nothing (GEO403)
        ("SO(3)", V, T2, 1),  # 1 -> 0 + 1 + 2: the ε map v -> skew(v)
        ("O(3)", T2, V, 0),
        ("SO(3)", T2, V, 1),  # axial
        ("O(3)", T2, T2, 3),  # identity, transpose, trace: one per part
        ("SO(3)", T2, T2, 3),
        ("O(5)", V, T2, 0),  # odd total order: no map under O(n)
    ],
)
def test_solver_basis_counts(symmetry: str, source: Atom, target: Atom, count: int) -> None:
    assert pair_basis(Group.parse(symmetry).channel_group, source, target).size == count


@pytest.mark.parametrize(
    ("symmetry", "expr", "result"),
    [
        ("O(3)", "linear(@u, tensor(2))", "GEO403"),
        ("O(3)", "linear(@t, vector)", "GEO403"),
        ("SO(3)", "linear(u, tensor(2))", "tensor(2)"),
        ("SO(3)", "linear(t, vector)", "vector"),
        ("O(3)", "linear(t, pseudovector)", "pseudovector"),
    ],
)
def test_linear_between_vectors_and_matrices(symmetry: str, expr: str, result: str) -> None:
    if result.startswith("GEO"):
        assert_fails_at(model(symmetry, f"    y = {expr}"), result)
    else:
        assert infer(symmetry, expr.replace("@", "")) == result
