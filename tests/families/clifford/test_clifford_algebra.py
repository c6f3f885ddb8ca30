"""The algebra under the Clifford operators: the tables and kernels equal the `clifford` package
(a test extra) to 1e-12 in float64, the group acts by algebra automorphisms (including
reflections in +1 and -1 directions and boosts of rapidity up to 2), and the solver's
equivariant maps between multivectors are the grade-wise maps under O(p, q), with the Hodge
duals beside them under SO(p, q) and SO+(p, q)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc import clifford, solver
from geoc.backends.torch_fx.clifford import kernels as rtc
from geoc.groups import Group
from geoc.solver.groups import expm

cf = pytest.importorskip("clifford")

SIGNATURES = [(3, 0), (1, 3), (2, 1)]
PRODUCTS = {
    "geometric": (clifford.cayley, lambda a, b: a * b),
    "wedge": (clifford.wedge_table, lambda a, b: a ^ b),
    "left_contraction": (clifford.left_contraction_table, lambda a, b: a.lc(b)),
}


def _random(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    return rng.normal(size=(batch, 2**n))


def _torch(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_blade_order_is_the_clifford_package_order(p: int, q: int) -> None:
    layout, _ = cf.Cl(p, q)
    names = [clifford.blade_name(b) for b in clifford.blades(p + q)]
    assert names[1:] == layout.names[1:] and layout.names[0] == ""
    assert list(layout.sig) == list(clifford.signature(p, q))


@pytest.mark.parametrize("p, q", SIGNATURES)
@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_products_equal_the_clifford_package(p: int, q: int, product: str) -> None:
    layout, _ = cf.Cl(p, q)
    table, reference = PRODUCTS[product]
    rng = np.random.default_rng(p * 10 + q)
    a, b = _random(rng, 5, p + q), _random(rng, 5, p + q)
    # Two copies per row: the kernel multiplies copy by copy.
    got = rtc.bilinear(_torch(a).repeat(1, 2), _torch(b).repeat(1, 2), _torch(table(p, q)))
    want = np.stack(
        [
            reference(layout.MultiVector(x), layout.MultiVector(y)).value
            for x, y in zip(a, b, strict=True)
        ]
    )
    assert got.shape == (5, 2 * 2 ** (p + q))
    assert np.abs(got.numpy() - np.tile(want, 2)).max() < 1e-12


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_reverse_and_grades_equal_the_clifford_package(p: int, q: int) -> None:
    layout, _ = cf.Cl(p, q)
    n = p + q
    x = _random(np.random.default_rng(1), 4, n)
    got = rtc.scale_blades(_torch(x), _torch(clifford.reverse_signs(n))).numpy()
    want = np.stack([(~layout.MultiVector(v)).value for v in x])
    assert np.abs(got - want).max() < 1e-12
    for k in range(n + 1):
        mask = _torch((clifford.grades(n) == k).astype(float))
        got = rtc.scale_blades(_torch(x), mask).numpy()
        want = np.stack([layout.MultiVector(v)(k).value for v in x])
        assert np.abs(got - want).max() < 1e-12


def _elements(p: int, q: int, count: int = 8) -> list[np.ndarray]:
    """Elements of every component of O(p, q), as `geoc check` draws them."""
    factor = Group.parse(f"O({p}, {q})").matrix
    rng = np.random.default_rng(7)
    group = Group((factor,))
    return [factor.for_trial(group.sample(rng, {}), rng, t).matrix for t in range(count)]


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_sampled_elements_cover_every_component_and_preserve_the_metric(p: int, q: int) -> None:
    eta = solver.indefinite_metric(p, q)
    seen = set()
    for g in _elements(p, q):
        assert np.abs(g.T @ eta @ g - eta).max() < 1e-12
        # The sign of det and of the +1 block's Gram determinant name the component.
        seen.add((round(np.linalg.det(g)), bool(np.linalg.det(g[:p, :p]) > 0) if p else True))
        if p and q:  # boosts of rapidity at most 2
            assert np.abs(g).max() <= np.cosh(2.0) + 1e-9
    assert len(seen) == (4 if p and q else 2)


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_the_outermorphism_is_an_algebra_automorphism(p: int, q: int) -> None:
    n = p + q
    rng = np.random.default_rng(3)
    a, b = _random(rng, 3, n), _random(rng, 3, n)
    for g in _elements(p, q):
        act = clifford.outermorphism(g)
        for make in (clifford.cayley, clifford.wedge_table, clifford.left_contraction_table):
            table = make(p, q)
            left = np.einsum("bi,bj,ijk->bk", a, b, table) @ act.T
            right = np.einsum("bi,bj,ijk->bk", a @ act.T, b @ act.T, table)
            assert np.abs(left - right).max() < 1e-10 * max(1.0, np.abs(left).max())
        signs = clifford.reverse_signs(n)
        assert np.abs((a * signs) @ act.T - (a @ act.T) * signs).max() < 1e-10
        # The pseudoscalar moves by det g: reflections flip it.
        assert act[-1, -1] == pytest.approx(np.linalg.det(g), abs=1e-9)


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_a_reflection_acts_as_the_twisted_versor_conjugation(p: int, q: int) -> None:
    """x -> v α(x) v^-1 (α the grade involution) is the outermorphism of the reflection
    x -> x - 2 <x, v> / <v, v> v, for v squaring to +1 and to -1 (docs/clifford.md)."""
    layout, _ = cf.Cl(p, q)
    n, eta = p + q, solver.indefinite_metric(p, q)
    rng = np.random.default_rng(5)
    for lo, hi in ((0, p), (p, n)):
        if lo == hi:
            continue
        v = np.zeros(n)
        v[lo:hi] = rng.normal(size=hi - lo)
        reflection = np.eye(n) - 2 * np.outer(v, eta @ v) / (v @ eta @ v)
        versor = layout.MultiVector(np.concatenate([[0.0], v, np.zeros(2**n - n - 1)]))
        x = _random(rng, 1, n)[0]
        mv = layout.MultiVector(x)
        want = (versor * mv.gradeInvol() * versor.inv()).value
        got = clifford.outermorphism(reflection) @ x
        assert np.abs(got - want).max() < 1e-12


def test_the_derivation_is_the_derivative_of_the_outermorphism() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 4):
        a = rng.normal(size=(n, n))
        step = 1e-6
        numeric = (
            clifford.outermorphism(expm(step * a)) - clifford.outermorphism(expm(-step * a))
        ) / (2 * step)
        assert np.abs(numeric - clifford.derivation(a)).max() < 1e-7


def _span(maps: list[np.ndarray]) -> np.ndarray:
    return np.stack([m.ravel() for m in maps], axis=1)


def _same_span(a: np.ndarray, b: np.ndarray) -> bool:
    rank = np.linalg.matrix_rank
    return rank(a) == rank(b) == rank(np.hstack([a, b]))


def _grade_projections(n: int) -> list[np.ndarray]:
    return [np.diag((clifford.grades(n) == k).astype(float)) for k in range(n + 1)]


def _hodge_maps(p: int, q: int) -> list[np.ndarray]:
    """x -> <x>_k I (right multiplication by the pseudoscalar), one per grade k."""
    n = p + q
    pseudo = np.zeros(2**n)
    pseudo[-1] = 1.0
    right = np.einsum("ijk,j->ki", clifford.cayley(p, q), pseudo)  # [out, in]
    return [right @ proj for proj in _grade_projections(n)]


@pytest.mark.parametrize("p, q", [(3, 0), (1, 3), (2, 1), (1, 2)])
def test_grade_wise_maps_span_the_solver_basis_under_o_pq(p: int, q: int) -> None:
    mv = solver.Multivector()
    basis = solver.equivariant_basis(solver.indefinite_orthogonal(p, q), mv, mv, cache=False)
    assert basis.shape[1] == p + q + 1
    assert _same_span(basis, _span(_grade_projections(p + q)))


@pytest.mark.parametrize("family", [solver.Family.SO_PQ, solver.Family.SO_PLUS])
@pytest.mark.parametrize("p, q", [(1, 3), (2, 1)])
def test_the_hodge_duals_join_them_under_the_special_groups(
    p: int, q: int, family: solver.Family
) -> None:
    """Under determinant-1 elements the pseudoscalar is invariant, so x -> x I is equivariant:
    the solver's basis is the grade-wise maps and those duals (`mv_linear` types the former,
    a subset, `mv_linear(dual=true)` both; `linear` uses the whole basis)."""
    mv = solver.Multivector()
    group = solver.indefinite_orthogonal(p, q, family)
    basis = solver.equivariant_basis(group, mv, mv, cache=False)
    expected = _span(_grade_projections(p + q) + _hodge_maps(p, q))
    assert basis.shape[1] == 2 * (p + q + 1)
    assert _same_span(basis, expected)


@pytest.mark.parametrize("family", [solver.Family.O_PQ, solver.Family.SO_PQ, solver.Family.SO_PLUS])
@pytest.mark.parametrize(("k", "l"), [(1, 1), (2, 2), (2, 1), (3, 1)])
def test_brauer_closed_forms_with_eta_equal_the_numeric_solve(
    family: solver.Family,
    k: int,
    l: int,  # noqa: E741
) -> None:
    group = solver.indefinite_orthogonal(1, 3, family)
    closed = solver.equivariant_basis(group, solver.T(k), solver.T(l), cache=False)
    dense = solver.equivariant_basis(
        group, solver.T(k), solver.T(l), cache=False, method=solver.Method.DENSE
    )
    assert closed.shape == dense.shape and _same_span(closed, dense)
