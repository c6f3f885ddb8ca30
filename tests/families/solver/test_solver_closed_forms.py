"""Closed forms (partition and Brauer diagrams) against the numeric solver, and their `apply`."""

from __future__ import annotations

import numpy as np
import pytest

from geoc import solver as s

T = s.T


def projector(basis: np.ndarray) -> np.ndarray:
    return basis @ basis.T


def assert_same_span(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.abs(projector(a) - projector(b)).max(initial=0.0) < 1e-9


def test_enumerations():
    assert len(s.set_partitions(4, 4)) == 15 and len(s.set_partitions(4, 2)) == 8
    assert len(s.set_partitions(6, 6)) == 203  # Bell(6)
    assert len(s.perfect_matchings(tuple(range(6)))) == 15
    assert s.perfect_matchings((0, 1, 2)) == []
    assert s.perfect_matchings(()) == [()]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize(("k", "l"), [(1, 1), (2, 1), (2, 2), (0, 3), (3, 0)])
def test_partitions_span_the_solver_basis(n, k, l):  # noqa: E741
    closed = s.PartitionBasis(n, k, l).dense()
    method = "dense" if n ** (k + l) <= 81 else "solve"  # solve: orbits, exact and fast
    solved = s.equivariant_basis(s.S(n), T(k), T(l), cache=False, method=method)
    assert_same_span(closed, solved)


def test_orbit_basis_is_orthonormal_and_diagram_basis_spans_it():
    basis = s.PartitionBasis(3, 2, 2)
    orbit, diagram = basis.dense(), basis.dense(orthonormal=False)
    assert np.allclose(orbit.T @ orbit, np.eye(len(basis)))
    assert np.linalg.matrix_rank(diagram) == len(basis)
    assert np.allclose(diagram @ basis.orbit_to_diagram(), orbit)


BRAUER_CASES = [
    (group, k, out)
    for group, degrees in [
        (s.O(2), [(1, 1), (2, 2)]),
        (s.O(3), [(2, 2), (1, 3), (3, 3)]),
        (s.O(4), [(2, 0)]),
        (s.SO(5), [(1, 1)]),
        (s.SO(3), [(3, 1)]),
        (s.Lorentz(2), [(1, 1), (2, 2)]),
        (s.Lorentz(3), [(2, 1)]),
        (s.Sp(1), [(2, 2)]),
        (s.Sp(2), [(1, 1)]),
    ]
    for k, out in degrees
]


@pytest.mark.parametrize(("group", "k", "l"), BRAUER_CASES, ids=str)
def test_brauer_diagrams_span_the_solver_basis(group, k, l):  # noqa: E741
    closed = s.closed_form(group, k, l)
    assert isinstance(closed, s.BrauerBasis)
    solved = s.equivariant_basis(group, T(k), T(l), cache=False, method="dense")
    assert_same_span(closed.dense(), solved)


def test_brauer_diagrams_are_dependent_for_small_n():
    basis = s.BrauerBasis(s.O(1), 2, 2)
    assert len(basis) == 3 and basis.dense().shape == (1, 1)
    assert s.BrauerBasis(s.O(2), 3, 3).dense().shape[1] < 15


@pytest.mark.parametrize(
    ("group", "m"), [(s.SO(3), 3), (s.SO(4), 4), (s.SO(3), 5), (s.Lorentz(3), 4), (s.A(5), 2)]
)
def test_no_closed_form_where_epsilon_terms_or_no_formula_apply(group, m):
    assert s.closed_form(group, 0, m) is None


def test_auto_uses_closed_forms_and_agrees_with_solve():
    for group, k, out in [(s.O(3), 2, 2), (s.S(4), 2, 1), (s.Lorentz(2), 2, 2), (s.Sp(1), 1, 1)]:
        auto = s.equivariant_basis(group, T(k), T(out), cache=False)
        solved = s.equivariant_basis(group, T(k), T(out), cache=False, method="solve")
        assert_same_span(auto, solved)


def _as_matrix(column: np.ndarray, dim: int, k: int, l: int) -> np.ndarray:  # noqa: E741
    return column.reshape(dim**l, dim**k)


@pytest.mark.parametrize(("n", "k", "l"), [(4, 2, 2), (3, 1, 2), (3, 2, 0), (2, 0, 2), (5, 3, 1)])
def test_partition_apply_matches_dense(n, k, l):  # noqa: E741
    basis = s.PartitionBasis(n, k, l)
    rng = np.random.default_rng(0)
    coeffs, x = rng.normal(size=len(basis)), rng.normal(size=(2, *(n,) * k))
    for orthonormal in (False, True):
        weights = basis.dense(orthonormal=orthonormal) @ coeffs
        expected = x.reshape(2, -1) @ _as_matrix(weights, n, k, l).T
        got = basis.apply(coeffs, x, orthonormal=orthonormal)
        assert got.shape == (2, *(n,) * l)
        assert np.allclose(got.reshape(2, -1), expected)


@pytest.mark.parametrize(
    ("group", "k", "l"), [(s.O(3), 2, 2), (s.O(3), 2, 0), (s.Lorentz(2), 1, 3), (s.Sp(2), 2, 2)]
)
def test_brauer_apply_matches_dense(group, k, l):  # noqa: E741
    basis = s.BrauerBasis(group, k, l)
    rng = np.random.default_rng(1)
    coeffs, x = rng.normal(size=len(basis)), rng.normal(size=(3, *(group.dim,) * k))
    weights = basis.dense(orthonormal=False) @ coeffs
    expected = x.reshape(3, -1) @ _as_matrix(weights, group.dim, k, l).T
    assert np.allclose(basis.apply(coeffs, x).reshape(3, -1), expected)


def _act(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """g applied to every index of a tensor."""
    for axis in range(x.ndim):
        x = np.moveaxis(np.tensordot(g, x, axes=([1], [axis])), 0, axis)
    return x


def test_partition_layer_at_n_100_is_permutation_equivariant():
    n, basis = 100, s.PartitionBasis(100, 2, 2)
    assert len(basis) == 15
    rng = np.random.default_rng(2)
    coeffs, x = rng.normal(size=15), rng.normal(size=(n, n))
    perm = rng.permutation(n)
    moved = basis.apply(coeffs, x[np.ix_(perm, perm)])
    assert np.allclose(moved, basis.apply(coeffs, x)[np.ix_(perm, perm)])


def test_brauer_layer_at_n_50_is_orthogonal_equivariant():
    group = s.O(50)
    basis = s.BrauerBasis(group, 2, 2)
    rng = np.random.default_rng(3)
    coeffs, x = rng.normal(size=3), rng.normal(size=(50, 50))
    g = group.sample(rng)
    assert np.allclose(basis.apply(coeffs, _act(g, x)), _act(g, basis.apply(coeffs, x)))
