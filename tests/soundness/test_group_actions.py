"""The fuzzer's own group actions are group actions, and they move what they must: a harness
that moved nothing would pass every spec."""

from __future__ import annotations

import group_actions as ga
import numpy as np
import pytest
import torch
from spec_grammar import Family, Ty


def _family(**kw) -> Family:
    base = {"name": "t", "group": "", "domain": None, "n": 3, "axis": None, "inputs": {}}
    base["templates"] = []
    return Family(**{**base, **kw})


@pytest.mark.parametrize("atom", ["1o", "1e", "2e", "2o", "0o", "vector", "pseudovector"])
def test_o3_atoms_are_orthogonal_representations(atom: str) -> None:
    """D(R1 R2) = D(R1) D(R2), D orthogonal, and reflections act by the parity."""
    rng = np.random.default_rng(0)
    fam = _family(rotations=True, parity=True, info={"kind": "orth"})
    r1, r2 = (ga.random_orthogonal(rng, 3, reflect=True) for _ in range(2))

    def rep(r: np.ndarray) -> np.ndarray:
        return ga.atom_matrix(atom, ga.Element(matrix=r), fam)

    assert np.allclose(rep(r1 @ r2), rep(r1) @ rep(r2), atol=1e-12)
    assert np.allclose(rep(r1) @ rep(r1).T, np.eye(len(rep(r1))), atol=1e-12)
    inversion = rep(-np.eye(3))
    odd = atom in ("1o", "2o", "0o", "vector")
    assert np.allclose(inversion, (-1 if odd else 1) * np.eye(len(inversion)), atol=1e-12)


def test_points_translate_and_vectors_do_not() -> None:
    fam = _family(rotations=True, info={"kind": "orth"})
    elem = ga.Element(matrix=np.eye(3), translation=np.array([1.0, 2.0, 3.0]))
    zero = torch.zeros(1, 3, dtype=torch.float64)
    moved_point = ga.move(zero, Ty(((1, "point(3)"),)), elem, fam)
    assert torch.equal(moved_point, torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    assert torch.equal(ga.move(zero, Ty(((1, "vector"),)), elem, fam), zero)


def test_lorentz_and_symplectic_elements_keep_their_forms() -> None:
    rng = np.random.default_rng(1)
    lam = ga.random_lorentz(rng, 3)
    assert not np.allclose(lam, np.eye(4))  # a real boost, not the identity
    sp = ga.random_symplectic(rng, 2)
    assert not np.allclose(sp, np.eye(4))


@pytest.mark.parametrize(("order", "dihedral"), [(4, False), (4, True), (2, True)])
def test_grid_turns_form_the_group(order: int, dihedral: bool) -> None:
    """The turn by ``g`` applied |g| times is the identity; once, it moves the field; regular
    channels follow (g·f)(h) = f(g⁻¹h), so ρ(g) composes like g."""
    fam = _family(field="torus", axis="torus", grid=(4, 4), info={"order": order})
    fam.info["dihedral"] = dihedral
    ty = Ty(((1, "regular"),), "torus")
    size = order * (2 if dihedral else 1)
    field = torch.randn(1, size, 4, 4, dtype=torch.float64)
    turns = (4 // order, 0) if order < 4 else (1, 0)
    g = np.linalg.matrix_power(ga.ROT90, turns[0])
    elem = ga.Element(turn=turns, regular=ga._regular_reads(order, dihedral, g))
    moved = field
    for step in range(4 // turns[0]):
        moved = ga.move(moved, ty, elem, fam)
        assert step == 4 // turns[0] - 1 or not torch.equal(moved, field)
    assert torch.equal(moved, field)


def test_quarter_turn_is_about_the_grid_origin() -> None:
    """docs/gcnn.md: ``(i, j) -> (-j mod n, i)``, so the value at (1, 0) goes to (0, 1)."""
    fam = _family(field="torus", axis="torus", grid=(5, 5), info={"order": 4})
    field = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    field[0, 0, 1, 0] = 1.0
    moved = ga.move(field, Ty(((1, "scalar"),), "torus"), ga.Element(turn=(1, 0)), fam)
    assert moved[0, 0, 0, 1] == 1.0 and moved.sum() == 1.0


def test_node_permutation_relabels_edges() -> None:
    """Edge (s, d) of the old labels joins the same two nodes after the permutation."""
    fam = _family(axis="nodes", edges=True, inputs={"x": Ty(((1, "scalar"),), "nodes")})
    x = torch.arange(4, dtype=torch.float64)[:, None]
    edges = torch.tensor([[0, 1, 2], [1, 2, 3]])
    sample = ga.Sample({"x": x, "edge_index": edges}, [4], 1)
    elem = ga.Element(perm=np.array([2, 0, 3, 1]))
    moved = ga.move_inputs(sample, elem, fam)
    new_x, new_edges = moved["x"][:, 0], moved["edge_index"]
    assert torch.equal(new_x[new_edges], x[:, 0][edges])
