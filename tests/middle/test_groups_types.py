"""Groups, feature types and domains: text round trips, how atoms transform (Schur keys,
invariance, sign), and sampled group elements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import cases, values
from helpers import assert_type_round_trips, type_error_codes
from hypothesis import given
from hypothesis import strategies as st

from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.groups import Group, GroupElement, random_rotation
from geoc.types import (
    PSEUDOSCALAR,
    PSEUDOVECTOR,
    SCALAR,
    VECTOR,
    Atom,
    FeatureType,
    Term,
    irrep,
    point,
)

HERE = Path(__file__).parent
TYPES_CASES = HERE / "test_groups_types.cases"

TYPES = values(HERE / "test_groups_types.cases", "types")


@pytest.mark.parametrize("text", TYPES)
def test_type_text_round_trip(text: str) -> None:
    assert_type_round_trips(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    cases(HERE / "test_groups_types.cases", "type_text_is_canonical"),
)
def test_type_text_is_canonical(text: str, canonical: str) -> None:
    assert str(FeatureType.parse(text)) == canonical


ATOMS = st.sampled_from([SCALAR, PSEUDOSCALAR, VECTOR, PSEUDOVECTOR, point(2), point(3)])
IRREPS = st.builds(irrep, st.integers(0, 4), st.sampled_from([1, -1]))
TERMS = st.builds(Term, st.integers(1, 64), st.one_of(ATOMS, IRREPS))
AXES = st.lists(st.sampled_from(["nodes", "edges", "set"]), max_size=2, unique=True).map(tuple)


@given(st.lists(TERMS, max_size=4).map(tuple), AXES)
def test_any_type_round_trips(terms: tuple[Term, ...], axes: tuple[str, ...]) -> None:
    ftype = FeatureType(terms, axes)
    assert FeatureType.parse(str(ftype)) == ftype


@pytest.mark.parametrize(
    ("group", "a", "b", "same"),
    [(g, a, b, same == "same") for g, a, b, same in cases(TYPES_CASES, "same_rep")],
)
def test_same_rep_compares_the_group_action(group: str, a: str, b: str, same: bool) -> None:
    """Named atoms are the irreps the docs say they are (under the model's group), checked
    against the matrices of sampled elements: equal reps act by equal matrices."""
    g = Group.parse(group).with_default_dim(3)
    ta, tb = FeatureType.parse(a), FeatureType.parse(b)
    assert g.same_rep(ta, tb) == same
    assert g.same_rep(tb, ta) == same
    if g.type_dim(ta) != g.type_dim(tb):
        assert not same
        return
    rng = np.random.default_rng(0)
    equal = [
        np.allclose(g.channel_action(ta, e)[0], g.channel_action(tb, e)[0])
        for e in (g.sample(rng, {}) for _ in range(8))
    ]
    assert all(equal) == same


def test_copies_count_every_term() -> None:
    assert FeatureType.parse("2 x vector + scalar").copies == 3


@pytest.mark.parametrize(
    ("text", "code"),
    [("4 x blob", "GEO301"), ("2.5 x scalar", "GEO302"), ("point(3, 4)", "GEO301")],
)
def test_bad_types(text: str, code: str) -> None:
    assert type_error_codes(text) == [code]


GROUPS = values(HERE / "test_groups_types.cases", "groups")


@pytest.mark.parametrize("text", GROUPS)
def test_group_text_round_trip(text: str) -> None:
    assert str(Group.parse(text)) == text
    assert Group.parse(str(Group.parse(text))) == Group.parse(text)


def test_group_facts() -> None:
    g = Group.parse("E(3) x S(nodes)")
    assert (g.space_dim, g.permuted_axes, g.translations) == (3, ("nodes",), True)
    assert Group.parse("trivial x S(set)") == Group.parse("S(set)")
    assert Group.parse("S(set)").space_dim is None
    assert Group.parse("S(set)").with_default_dim(2).space_dim == 2
    assert Group.parse("O(3)").with_default_dim(2).space_dim == 3


@pytest.mark.parametrize("text", ["Q(3)", "O(0)", "S(0)", "O(3) x SO(3)", "E(n)"])
def test_bad_groups(text: str) -> None:
    with pytest.raises(GeoError) as info:
        Group.parse(text)
    assert info.value.codes == ["GEO202"]


DOMAINS = values(HERE / "test_groups_types.cases", "domains")


@pytest.mark.parametrize("text", DOMAINS)
def test_domain_text_round_trip(text: str) -> None:
    assert str(Domain.parse(text)) == text


def test_domain_axes() -> None:
    assert Domain.parse("set(set)").axes == ("set",)
    assert Domain.parse("graph(nodes)").axes == ("nodes", "edges")
    assert Domain.parse("pointcloud(nodes)").dim == 3


# ---------------------------------------------------------------------------------------------
# How atoms transform: (irrep keys, is_invariant, is_sign) for each group

S, PS, V, PV, P = SCALAR, PSEUDOSCALAR, VECTOR, PSEUDOVECTOR, point(3)
O3_TRUTH = {
    S: ((("0e", 1),), True, False),
    PS: ((("0o", 1),), False, True),
    V: ((("1o", 3),), False, False),
    PV: ((("1e", 3),), False, False),
    P: ((("1o", 3),), False, False),
}
T3_TRUTH = {
    S: ((("0e", 1),), True, False),
    PS: ((("0e", 1),), True, False),
    V: ((("0e", 1),) * 3, True, False),
    PV: ((("0e", 1),) * 3, True, False),
    P: ((("0e", 1),) * 3, False, False),  # translations move points
}
TRUTH = {
    "O(3)": O3_TRUTH,
    "SO(3)": {
        S: ((("0", 1),), True, False),
        PS: ((("0", 1),), True, False),
        V: ((("1", 3),), False, False),
        PV: ((("1", 3),), False, False),
        P: ((("1", 3),), False, False),
    },
    "E(3)": O3_TRUTH,  # atoms transform as under O(3); a point is not invariant either way
    "T(3)": T3_TRUTH,
    "trivial": {**T3_TRUTH, P: ((("0e", 1),) * 3, True, False)},  # nothing moves points
}
CASES = [(g, atom, *facts) for g, table in TRUTH.items() for atom, facts in table.items()]


@pytest.mark.parametrize(("group", "atom", "keys", "invariant", "sign"), CASES)
def test_atom_truth_table(group: str, atom: Atom, keys: tuple, invariant: bool, sign: bool) -> None:
    g = Group.parse(group).with_default_dim(3)
    assert g.irreps(atom) == keys
    assert g.is_invariant(atom) is invariant
    assert g.is_sign(atom) is sign


@pytest.mark.parametrize(
    ("group", "atom", "keys"),
    [
        ("O(3)", irrep(1, -1), (("1o", 3),)),
        ("O(3)", irrep(2, 1), (("2e", 5),)),
        ("SO(3)", irrep(2, -1), (("2", 5),)),
        ("O(3)", irrep(0, -1), (("0o", 1),)),
        ("O(2)", VECTOR, (("1o", 2),)),
    ],
)
def test_irrep_keys(group: str, atom: Atom, keys: tuple) -> None:
    assert Group.parse(group).irreps(atom) == keys


def test_vector_needs_a_space() -> None:
    with pytest.raises(ValueError, match="needs a group acting on R"):
        Group.parse("S(set)").atom_dim(VECTOR)


# ---------------------------------------------------------------------------------------------
# Sampled elements


def samples(group: str, n: int = 40) -> list[GroupElement]:
    rng = np.random.default_rng(0)
    return [Group.parse(group).sample(rng, {"nodes": 5}) for _ in range(n)]


@pytest.mark.parametrize(("group", "dets"), [("O(3)", {-1.0, 1.0}), ("SO(3)", {1.0})])
def test_sampled_rotations_are_orthogonal(group: str, dets: set[float]) -> None:
    elements = samples(group)
    for e in elements:
        assert np.allclose(e.rotation @ e.rotation.T, np.eye(3), atol=1e-12)
        assert abs(abs(np.linalg.det(e.rotation)) - 1) < 1e-12
    assert {e.det for e in elements} == dets


def test_sampling_is_seeded_and_covers_every_factor() -> None:
    a, b = samples("E(3) x S(nodes)", 3), samples("E(3) x S(nodes)", 3)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.rotation, y.rotation)
        assert np.array_equal(x.translation, y.translation)
        assert sorted(x.permutations["nodes"]) == list(range(5))
    (t,) = samples("T(3)", 1)
    assert t.rotation is None and t.translation.shape == (3,)


def test_random_rotation_with_reflection() -> None:
    rng = np.random.default_rng(1)
    assert np.linalg.det(random_rotation(rng, 3, reflect=True)) == pytest.approx(-1)
    assert np.linalg.det(random_rotation(rng, 4, reflect=False)) == pytest.approx(1)


def test_atom_matrices_follow_the_reflection() -> None:
    g = Group.parse("O(3)")
    rot = random_rotation(np.random.default_rng(2), 3, reflect=True)
    element = GroupElement(rotation=rot)
    assert np.allclose(g.atom_matrix(SCALAR, element), [[1.0]])
    assert np.allclose(g.atom_matrix(PSEUDOSCALAR, element), [[-1.0]])
    assert np.allclose(g.atom_matrix(VECTOR, element), rot)
    assert np.allclose(g.atom_matrix(PSEUDOVECTOR, element), -rot)
    so3 = Group.parse("SO(3)")
    assert np.allclose(so3.atom_matrix(PSEUDOSCALAR, element), [[1.0]])


def test_channel_action_of_a_point_includes_the_translation() -> None:
    g = Group.parse("E(3)")
    rng = np.random.default_rng(3)
    element = g.sample(rng, {})
    mat, shift = g.channel_action(FeatureType.parse("point(3) + vector + 2 x scalar"), element)
    rot, t = element.rotation, element.translation
    assert mat.shape == (8, 8)
    assert np.allclose(mat[:3, :3], rot) and np.allclose(mat[3:6, 3:6], rot)
    assert np.allclose(mat[6:, 6:], np.eye(2))
    assert np.allclose(shift, np.concatenate([t, np.zeros(5)]))
    # Acting on a value: the point moves rigidly, the vector only rotates.
    p, v = rng.normal(size=3), rng.normal(size=3)
    moved = np.concatenate([p, v, [1.0, 2.0]]) @ mat.T + shift
    assert np.allclose(moved[:3], rot @ p + t) and np.allclose(moved[3:6], rot @ v)
