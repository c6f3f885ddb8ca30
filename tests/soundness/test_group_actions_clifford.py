"""The fuzzer's own action on multivectors is the documented one: the outermorphism is a
representation and an automorphism of the `clifford` package's geometric product, and a
reflection acts by the twisted conjugation ``x ↦ v α(x) v⁻¹`` of the package (docs/clifford.md),
not by plain conjugation; the sampled elements cover the components of their group."""

from __future__ import annotations

import functools

import group_actions_clifford as gac
import numpy as np
import pytest

cf = pytest.importorskip("clifford")
# The package compiles its products per algebra (numba): seconds per signature.
pytestmark = pytest.mark.slow


@functools.cache
def _layout(p: int, q: int):
    return cf.Cl(p, q)[0]


SIGNATURES = [(3, 0), (1, 3), (2, 1), (1, 2), (0, 3)]


def _mv(layout, values: np.ndarray):
    return cf.MultiVector(layout, values.astype(float))


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_blade_order_is_the_package_order(p: int, q: int) -> None:
    layout = _layout(p, q)
    names = ["e" + "".join(str(i + 1) for i in b) if b else "" for b in gac.blades(p + q)]
    assert names == list(layout.names)


@pytest.mark.parametrize("p, q", SIGNATURES)
@pytest.mark.parametrize("family", ["O", "SO", "SO+"])
def test_elements_act_by_automorphisms(p: int, q: int, family: str) -> None:
    """Λ(gh) = Λg Λh, and Λg (a b) = (Λg a)(Λg b) with the package's product."""
    rng = np.random.default_rng(p * 10 + q)
    layout = _layout(p, q)
    for _ in range(4):
        g, h = (gac.random_element(rng, p, q, family) for _ in range(2))
        lg, lh = gac.outermorphism(g), gac.outermorphism(h)
        assert np.allclose(gac.outermorphism(g @ h), lg @ lh, atol=1e-9)
        a, b = rng.normal(size=(2, 2 ** (p + q)))
        prod = (_mv(layout, a) * _mv(layout, b)).value
        moved = (_mv(layout, lg @ a) * _mv(layout, lg @ b)).value
        assert np.allclose(lg @ prod, moved, atol=1e-8 * max(1, np.abs(moved).max()))


@pytest.mark.parametrize("p, q", SIGNATURES)
def test_reflections_are_the_twisted_conjugation(p: int, q: int) -> None:
    """For v in either sign block, Λ(I - 2 v vᵀ) x = v α(x) v⁻¹, which differs from plain
    conjugation v x v⁻¹ (so the harness would catch a checker using that)."""
    rng = np.random.default_rng(7)
    layout = _layout(p, q)
    n = p + q
    for block in [b for b, size in (("+", p), ("-", q)) if size]:
        r = gac.reflection(p, q, block, rng)
        v = _mv(
            layout, np.concatenate([[0.0], (np.eye(n) - r) @ np.ones(n), np.zeros(2**n - n - 1)])
        )
        x = _mv(layout, rng.normal(size=2**n))
        twisted = (v * x.gradeInvol() * v.inv()).value
        plain = (v * x * v.inv()).value
        assert np.allclose(gac.outermorphism(r) @ x.value, twisted, atol=1e-10)
        assert not np.allclose(twisted, plain, atol=1e-6)
        assert np.isclose(np.linalg.det(r), -1.0)


@pytest.mark.parametrize("p, q", [(1, 3), (2, 1)])
def test_components_are_sampled(p: int, q: int) -> None:
    """O draws both reflections' components, SO only det +1 (but not only SO+), SO+ only
    elements with a future-keeping +1 block; boosts are real (rapidity up to 2)."""
    rng = np.random.default_rng(3)
    seen = {f: set() for f in ("O", "SO", "SO+")}
    for family in seen:
        for _ in range(40):
            g = gac.random_element(rng, p, q, family)
            seen[family].add((np.sign(np.linalg.det(g[:p, :p])), np.sign(np.linalg.det(g[p:, p:]))))
    assert len(seen["O"]) == 4
    assert seen["SO"] == {(1, 1), (-1, -1)}
    assert seen["SO+"] == {(1, 1)}
    boosted = gac.random_element(rng, p, q, "SO+")
    assert np.abs(boosted).max() > 1.0 + 1e-3


@pytest.mark.parametrize("p, q", [(1, 3), (2, 1), (0, 3), (3, 0)])
def test_the_dual_map_fails_under_reflections_only(p: int, q: int) -> None:
    """x ↦ x I (``mv_linear``'s dual weights) commutes with Λg for det g = 1 and not for a
    reflection: the harness tells GEO429's class apart (a harness that moved nothing, or moved
    by plain conjugation in odd n, where I is central, would not)."""
    rng = np.random.default_rng(11)
    layout = _layout(p, q)
    n = p + q
    pseudo = np.zeros(2**n)
    pseudo[-1] = 1.0

    def dual(x: np.ndarray) -> np.ndarray:
        return (_mv(layout, x) * _mv(layout, pseudo)).value

    x = rng.normal(size=2**n)
    for family, commutes in (("SO+", True), ("SO", True)):
        lg = gac.outermorphism(gac.random_element(rng, p, q, family))
        assert (
            np.allclose(dual(lg @ x), lg @ dual(x), atol=1e-8 * np.abs(lg).max() ** 2) == commutes
        )
    block = "+" if p else "-"
    lr = gac.outermorphism(gac.reflection(p, q, block, rng))
    assert not np.allclose(dual(lr @ x), lr @ dual(x), atol=1e-6)


@pytest.mark.parametrize("group, reflections", [("O(2, 1)", True), ("SO(2, 1)", False)])
def test_the_fuzzer_catches_a_dual_layer_forced_through(monkeypatch, group, reflections) -> None:
    """With GEO429 bypassed, `mv_linear(x, 1, dual=true)` under O(2, 1) fails the harness on
    every element with a reflection; under SO(2, 1) it passes."""
    import soundness_run
    from spec_grammar import Family, Spec, Ty

    from geoc.ops import clifford as ops

    monkeypatch.setattr(ops, "keeps_orientation", lambda _group: True)
    atom = Ty(((1, "multivector(2, 1)"),))
    info = {"kind": "indefinite", "signature": (2, 1), "group_family": group.split("(")[0]}
    family = Family("clifford", group, None, 3, None, {"x": atom}, [], rotations=True, info=info)
    text = (
        f"model M() {{\n    symmetry {group}\n    input x: {atom.text()}\n"
        f"    output o: {atom.text()} = mv_linear(x, 1, dual=true)\n}}\n"
    )
    spec = Spec(text, family, {"x": atom}, {"o": atom}, frozenset())
    outcomes = [soundness_run.run(spec, seed) for seed in range(6)]
    assert all(o.verdict == "accepted" for o in outcomes)
    assert any(not o.harness_ok for o in outcomes) == reflections
    assert all(o.checker_ok != reflections for o in outcomes)  # geoc check agrees
