"""The equivariant-basis solver: groups, representations, basis counts, equivariance, cache.

Equivariance is checked with rho(g) built independently of the solver's generators: Kronecker
products of sampled defining matrices (and permutations of the group's elements for `regular`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from geoc import solver as s
from geoc.solver import basis as basis_module
from geoc.solver.groups import expm
from geoc.solver.nullspace import KroneckerConstraints, dense_nullspace

RNG_SEED = 7


def assert_equivariant(group, rep_in, rep_out, basis, samples: int = 3) -> None:
    """Every column, as a [dim_out, dim_in] matrix W, satisfies rho_out(g) W = W rho_in(g)."""
    rng = np.random.default_rng(RNG_SEED)
    d_in, d_out = rep_in.dim(group), rep_out.dim(group)
    assert basis.shape[0] == d_out * d_in
    assert np.allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-10)
    maps = basis.T.reshape(-1, d_out, d_in)
    for _ in range(samples):
        g = group.sample(rng)
        lhs = rep_out.matrix(group, g) @ maps
        rhs = maps @ rep_in.matrix(group, g)
        assert np.abs(lhs - rhs).max(initial=0.0) < 1e-9


def projector(basis: np.ndarray) -> np.ndarray:
    return basis @ basis.T


def assert_same_span(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.abs(projector(a) - projector(b)).max(initial=0.0) < 1e-9


# ------------------------------------------------------------------------------ groups

ETA3 = s.minkowski_metric(3)
J2 = s.symplectic_form(2)


def _orthogonal(g):
    return np.allclose(g.T @ g, np.eye(len(g)), atol=1e-12)


RELATIONS = [
    (s.O(4), _orthogonal),
    (s.SO(3), lambda g: _orthogonal(g) and np.isclose(np.linalg.det(g), 1.0)),
    (s.Lorentz(3), lambda g: np.allclose(g.T @ ETA3 @ g, ETA3, atol=1e-12) and g[0, 0] >= 1.0),
    (s.Sp(2), lambda g: np.allclose(g.T @ J2 @ g, J2, atol=1e-12)),
    (s.C(5), lambda g: np.allclose(np.linalg.matrix_power(g, 5), np.eye(2), atol=1e-12)),
    (s.D(4), lambda g: _orthogonal(g) and np.allclose(np.linalg.matrix_power(g, 8), np.eye(2))),
    (s.S(5), lambda g: np.array_equal(g @ g.T, np.eye(5)) and set(np.unique(g)) <= {0.0, 1.0}),
    (s.A(5), lambda g: np.array_equal(g @ g.T, np.eye(5)) and np.isclose(np.linalg.det(g), 1.0)),
]


@pytest.mark.parametrize(("group", "holds"), RELATIONS, ids=[str(g) for g, _ in RELATIONS])
def test_sampled_elements_satisfy_the_defining_relations(group, holds):
    rng = np.random.default_rng(0)
    for _ in range(5):
        g = group.sample(rng)
        assert holds(g)
        if group.family in (s.Family.SO, s.Family.LORENTZ):
            assert np.isclose(np.linalg.det(g), 1.0)


@pytest.mark.parametrize(
    ("group", "algebra_dim", "preserved"),
    [
        (s.O(5), 10, np.eye(5)),
        (s.SO(3), 3, np.eye(3)),
        (s.Lorentz(3), 6, ETA3),
        (s.Sp(2), 10, J2),
    ],
    ids=str,
)
def test_lie_algebra_preserves_the_form(group, algebra_dim, preserved):
    assert group.lie.shape[0] == algebra_dim
    for a in group.lie:
        assert np.allclose(a.T @ preserved + preserved @ a, 0.0)
    assert np.linalg.matrix_rank(group.lie.reshape(algebra_dim, -1)) == algebra_dim


ORDERS = [(s.C(4), 4), (s.D(4), 8), (s.S(4), 24), (s.A(4), 12), (s.A(5), 60)]


@pytest.mark.parametrize(("group", "order"), ORDERS, ids=str)
def test_finite_group_orders(group, order):
    assert len(group.elements) == order
    assert np.allclose(group.elements[0], np.eye(group.dim))


def test_group_identity_and_key():
    assert s.O(3) == s.O(3)
    assert s.O(3) != s.SO(3)
    assert hash(s.S(4)) == hash(s.S(4))
    assert str(s.Lorentz(3)) == "Lorentz(3)"
    assert s.Lorentz(3).dim == 4 and s.Sp(2).dim == 4 and s.C(6).dim == 2


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_bad_group_size_is_an_error(bad):
    with pytest.raises(s.SolverError, match="group size"):
        s.O(bad)


# ------------------------------------------------------------------------- representations


def test_rep_algebra_and_dimensions():
    group = s.O(3)
    assert s.T(2).dim(group) == 9
    assert (s.V + s.T(2)).dim(group) == 12
    assert ((s.V + s.scalar) * s.V).dim(group) == 12
    assert (3 * s.V).dim(group) == 9
    assert s.regular.dim(s.D(4)) == 8
    assert s.V**1 == s.V and s.T(0) == s.scalar and s.T(2) == s.V * s.V
    assert s.T(2).dual() == s.V.dual() * s.V.dual()
    assert (s.V + s.T(2)).dual() == s.V.dual() + s.T(2).dual()
    assert str(s.V + s.V.dual() * s.V) == "V + V*⊗V"
    assert str((s.V + s.scalar) * s.V) == "(V + scalar)⊗V"


@pytest.mark.parametrize(
    "rep", [s.V + s.T(2), (s.V + s.scalar) * (s.V + s.T(2)), 2 * s.V.dual() * s.V], ids=str
)
def test_monomials_cover_every_coordinate_once(rep):
    group = s.Lorentz(2)
    indices = np.concatenate([m.index for m in rep.monomials(group)])
    assert np.array_equal(np.sort(indices), np.arange(rep.dim(group)))


@pytest.mark.parametrize(
    ("group", "rep"),
    [
        (s.Lorentz(2), s.V * s.V.dual() + s.scalar),
        (s.Sp(1), (s.V + s.scalar) * s.V),
        (s.D(3), s.regular * s.V),
        (s.S(4), s.T(2) + s.V),
    ],
    ids=str,
)
def test_rep_matrices_are_homomorphisms(group, rep):
    rng = np.random.default_rng(1)
    g, h = group.sample(rng), group.sample(rng)
    product = rep.matrix(group, g) @ rep.matrix(group, h)
    assert np.allclose(rep.matrix(group, g @ h), product, atol=1e-10)


def test_regular_needs_a_small_finite_group():
    with pytest.raises(s.SolverError, match="finite group"):
        s.regular.dim(s.O(3))
    with pytest.raises(s.SolverError, match="more than"):
        s.regular.dim(s.S(8))


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_bad_tensor_order_is_an_error(bad):
    with pytest.raises(s.SolverError, match="tensor order"):
        s.T(bad)


# ---------------------------------------------------------------------- basis dimensions

V, T, SC, REG = s.V, s.T, s.scalar, s.regular
COUNTS = [
    # S(n) on tensor powers: sum of Stirling numbers S(k + l, b) over b <= n blocks.
    (s.S(2), T(2), T(2), 8),
    (s.S(3), T(2), T(2), 14),
    (s.S(4), T(2), T(2), 15),
    (s.S(6), T(2), T(2), 15),
    (s.S(5), V, V, 2),
    (s.S(5), T(2), SC, 2),
    (s.S(4), SC + V, V, 3),
    # A(n) gains orbits where an S(n) orbit has a trivial stabiliser (k + l >= n - 1).
    (s.A(4), T(2), T(2), 22),
    (s.A(5), T(2), T(2), 16),
    (s.A(6), T(2), T(2), 15),
    (s.A(3), T(2), V, 9),
    (s.S(3), T(2), V, 5),
    # O(n), SO(n): Brauer pairings, plus epsilon terms for SO(n) when k + l >= n.
    (s.O(3), T(2), T(2), 3),
    (s.O(4), V, T(2), 0),
    (s.O(5), T(2), SC, 1),
    (s.O(3), T(2), V, 0),
    (s.SO(3), T(2), V, 1),
    (s.SO(2), V, V, 2),
    (s.O(2), V, V, 1),
    (s.SO(4), T(2), T(2), 4),
    (s.O(3), V + T(2), V + T(2), 4),
    # Lorentz: eta; the Levi-Civita tensor in 1 + 3 dimensions.
    (s.Lorentz(3), V, V, 1),
    (s.Lorentz(3), V * V, SC, 1),
    (s.Lorentz(3), V, V.dual(), 1),
    (s.Lorentz(3), T(2), T(2), 4),
    (s.Lorentz(2), T(2), T(2), 3),
    (s.Lorentz(3), V, T(2), 0),
    # Sp(n): the symplectic form.
    (s.Sp(2), V * V, SC, 1),
    (s.Sp(1), V, V, 1),
    (s.Sp(2), T(2), T(2), 3),
    # Finite rotation groups on R^2 and their regular representations.
    (s.C(4), REG, REG, 4),
    (s.D(4), REG, REG, 8),
    (s.C(4), V, V, 2),
    (s.D(4), V, V, 1),
    (s.D(4), REG, V, 2),
    (s.D(3), V * REG, V, 4),
]


@pytest.mark.parametrize("method", ["auto", "solve"])
@pytest.mark.parametrize(("group", "rep_in", "rep_out", "count"), COUNTS, ids=str)
def test_basis_dimension_and_equivariance(group, rep_in, rep_out, count, method):
    basis = s.equivariant_basis(group, rep_in, rep_out, cache=False, method=method)
    assert basis.shape == (rep_out.dim(group) * rep_in.dim(group), count)
    assert_equivariant(group, rep_in, rep_out, basis)


def _burnside_orbits(group, points: int) -> int:
    """Orbits of a permutation group on index tuples of length `points` (Burnside's lemma)."""
    fixed = [int(np.trace(g)) ** points for g in group.elements]
    return sum(fixed) // len(fixed)


@pytest.mark.parametrize("family", [s.S, s.A])
@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize(("k", "l"), [(1, 1), (2, 1), (2, 2), (0, 3)])
def test_permutation_counts_match_burnside(family, n, k, l):  # noqa: E741
    group = family(n)
    basis = s.equivariant_basis(group, T(k), T(l), cache=False, method="solve")
    assert basis.shape[1] == _burnside_orbits(group, k + l)


def test_stirling_counts_for_s_n():
    for n in range(1, 7):
        expected = sum(_stirling2(4, b) for b in range(1, n + 1))
        assert len(s.PartitionBasis(n, 2, 2)) == expected
    assert [len(s.PartitionBasis(n, 2, 2)) for n in (2, 3, 4)] == [8, 14, 15]


def _stirling2(m: int, b: int) -> int:
    signed = sum((-1) ** i * math.comb(b, i) * (b - i) ** m for i in range(b + 1))
    return signed // math.factorial(b)


# ---------------------------------------------------------------- the invariant tensors


def _direction(basis: np.ndarray, tensor: np.ndarray) -> float:
    vec = tensor.ravel() / np.linalg.norm(tensor)
    return float(np.linalg.norm(basis.T @ vec))


def test_minkowski_metric_is_the_lorentz_invariant():
    basis = s.invariant_basis(s.Lorentz(3), s.V * s.V, cache=False)
    assert basis.shape == (16, 1)
    assert np.isclose(_direction(basis, ETA3), 1.0)
    rng = np.random.default_rng(3)
    g, x, y = s.Lorentz(3).sample(rng), rng.normal(size=4), rng.normal(size=4)
    assert np.isclose((g @ x) @ ETA3 @ (g @ y), x @ ETA3 @ y)


def test_symplectic_form_is_the_sp_invariant():
    basis = s.invariant_basis(s.Sp(2), s.V * s.V, cache=False, method="solve")
    assert np.isclose(_direction(basis, J2), 1.0)


def test_levi_civita_is_the_so3_map_from_tensor2_to_vector():
    epsilon = np.zeros((3, 3, 3))
    for perm in itertools.permutations(range(3)):
        epsilon[perm] = np.linalg.det(np.eye(3)[list(perm)])
    basis = s.equivariant_basis(s.SO(3), s.T(2), s.V, cache=False)
    assert np.isclose(_direction(basis, epsilon), 1.0)


# ---------------------------------------------------------------- methods agree


@pytest.mark.parametrize(
    ("group", "rep_in", "rep_out"),
    [
        (s.O(3), T(2), T(2)),
        (s.Sp(2), T(2), T(2)),
        (s.Lorentz(2), T(2), V * V.dual()),
        (s.SO(3), T(2), V),
        (s.D(3), V * REG, V),
        (s.C(5), V * V, V),
    ],
    ids=str,
)
def test_iterative_solver_agrees_with_dense(group, rep_in, rep_out):
    dense = s.equivariant_basis(group, rep_in, rep_out, cache=False, method="dense")
    iterative = s.equivariant_basis(group, rep_in, rep_out, cache=False, method="iterative")
    assert_same_span(dense, iterative)
    assert_equivariant(group, rep_in, rep_out, iterative)


def test_large_products_switch_to_the_iterative_solver():
    small = s.equivariant_basis(s.O(3), T(2), T(2), cache=False, method="solve", dense_max=10)
    assert_same_span(small, s.equivariant_basis(s.O(3), T(2), T(2), cache=False, method="dense"))


def test_permutation_orbits_agree_with_dense():
    group = s.S(3)
    for rep_in, rep_out in [(REG, REG), (T(2), REG), (T(2), T(2))]:
        orbit = s.equivariant_basis(group, rep_in, rep_out, cache=False, method="solve")
        dense = s.equivariant_basis(group, rep_in, rep_out, cache=False, method="dense")
        assert_same_span(orbit, dense)


def test_reordered_tensor_factors_reuse_one_solve():
    group = s.Lorentz(2)
    a = s.equivariant_basis(group, V.dual() * V, SC, cache=False, method="solve")
    b = s.equivariant_basis(group, V * V.dual(), SC, cache=False, method="solve")
    swap = np.arange(9).reshape(3, 3).T.ravel()
    assert_same_span(a, b[swap])


# ------------------------------------------------------------------------------ cache


def test_second_call_is_a_cache_hit(tmp_path, monkeypatch):
    cache = s.BasisCache(tmp_path)
    first = s.equivariant_basis(s.O(4), T(2), T(2), cache=cache, method="solve")
    assert (cache.hits, cache.misses) == (0, 1)
    assert len(list(tmp_path.glob("*.npz"))) == 1 and not list(tmp_path.glob("*.geoc-tmp"))

    def no_solve(*args, **kwargs):
        raise AssertionError("solved again")

    monkeypatch.setattr(basis_module, "_assemble", no_solve)
    second = s.equivariant_basis(s.O(4), T(2), T(2), cache=cache, method="solve")
    assert cache.hits == 1
    assert np.array_equal(first, second)


def test_corrupt_cache_file_is_recomputed(tmp_path):
    cache = s.BasisCache(tmp_path)
    first = s.equivariant_basis(s.S(3), T(2), V, cache=cache)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a numpy file")
    again = s.equivariant_basis(s.S(3), T(2), V, cache=cache)
    assert np.array_equal(first, again)
    assert (cache.hits, cache.misses) == (0, 2)
    assert s.equivariant_basis(s.S(3), T(2), V, cache=cache).shape == first.shape
    assert cache.hits == 1  # the rewritten file is good again


def test_cache_keys_distinguish_groups_and_reps(tmp_path):
    cache = s.BasisCache(tmp_path)
    s.equivariant_basis(s.O(3), T(2), SC, cache=cache)
    s.equivariant_basis(s.SO(3), T(2), SC, cache=cache)
    s.equivariant_basis(s.O(3), SC, T(2), cache=cache)
    assert cache.misses == 3 and len(list(tmp_path.glob("*.npz"))) == 3


def test_cache_dir_from_the_environment(tmp_path, monkeypatch):
    """`$GEOC_CACHE_DIR` is the cache root (geoc.cache); the solver uses its `solver-v2/`."""
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path))
    assert s.default_cache_dir() == tmp_path / "solver-v2"
    s.equivariant_basis(s.C(4), REG, REG)
    assert len(list((tmp_path / "solver-v2").glob("*.npz"))) == 1
    monkeypatch.delenv("GEOC_CACHE_DIR")
    assert s.default_cache_dir().parts[-3:] == (".cache", "geoc", "solver-v2")


def test_constraint_residual_of_solved_invariants():
    atoms = (s.Vector(), s.Vector(), s.Covector(), s.Covector())
    cons = KroneckerConstraints.of(s.Lorentz(2), atoms)
    basis = dense_nullspace(cons)
    assert basis.shape == (81, 3)
    assert cons.residual(basis) < 1e-12
    assert cons.residual(np.random.default_rng(0).normal(size=(81, 1))) > 1e-2


@pytest.mark.parametrize(
    ("group", "rep"),
    [
        (s.Lorentz(2), s.V * s.V.dual() + s.scalar),
        (s.O(3), (s.V + s.scalar) * s.V),
        (s.Sp(1), s.T(3)),
        (s.D(3), s.regular * s.V + s.V),
    ],
    ids=str,
)
def test_dense_generators_of_composite_reps(group, rep):
    """d rho(A) is the derivative of rho(exp(tA)) at 0; rho(h) is `matrix` at h."""
    for a, d_rho in zip(group.lie, rep.lie(group), strict=True):
        step = 1e-6
        plus, minus = expm(step * a), expm(-step * a)
        derivative = (rep.matrix(group, plus) - rep.matrix(group, minus)) / (2 * step)
        assert np.allclose(derivative, d_rho, atol=1e-6)
    for h, rho_h in zip(group.discrete, rep.discrete(group), strict=True):
        assert np.allclose(rep.matrix(group, h), rho_h)
    assert rep.lie(group).shape[1:] == (rep.dim(group),) * 2
