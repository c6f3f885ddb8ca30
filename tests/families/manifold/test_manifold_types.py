"""Manifold atoms and the typing rules of the manifold operators: text round trips, how groups
act on manifold atoms, output types on good inputs, and each error's code and primary span
(``@`` marks where it must start). Euclidean operators on manifold values are GEO320/GEO321
with a help line naming the manifold operation; learned maps under rotations are GEO410."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import cases, values
from helpers import assert_fails_at, assert_type_round_trips, checked_type, header, type_error_codes

from geoc.diagnostics import GeoError
from geoc.groups import Group, GroupElement, random_rotation
from geoc.ops import REGISTRY, lookup
from geoc.pipeline import frontend
from geoc.types import AtomKind, FeatureType, lorentz, poincare

HERE = Path(__file__).parent

SET = "S(set)"
DOMAIN = "set(set)"
# The statements under test start on line 11.
HEADER = header("k: float = 0.5", values(HERE / "test_manifold_types.cases", "header"))

OPS = values(HERE / "test_manifold_types.cases", "ops")


# Under O(3) x S(set): only atoms of R^3.
ROTATED = """model M() {{
    symmetry {group}
    domain   {domain}
    input h: 4 x scalar over set
    input v: vector over set
    input x: spd(3) over set
"""


def model(body: str, group: str = SET, domain: str = DOMAIN) -> str:
    lines = HEADER if group == SET else ROTATED
    tail = "\n    output o: 4 x scalar over set = h\n}\n"
    return lines.format(group=group, domain=domain) + body + tail


def infer(expr: str, group: str = SET, domain: str = DOMAIN) -> str:
    return checked_type(model(f"    y = {expr}", group, domain))


def assert_error(body: str, code: str, group: str = SET, domain: str = DOMAIN) -> GeoError:
    """``body`` (with an ``@``) fails with ``code`` whose primary span starts at the ``@``."""
    return assert_fails_at(model(body, group, domain), code)


# ---------------------------------------------------------------------------------------------
# Atoms


@pytest.mark.parametrize(
    "text",
    values(HERE / "test_manifold_types.cases", "manifold_types_round_trip"),
)
def test_manifold_types_round_trip(text: str) -> None:
    assert_type_round_trips(text)


def test_curvature_defaults_and_positional_form() -> None:
    assert FeatureType.parse("lorentz(3)").atoms[0] == lorentz(3, 1.0)
    assert FeatureType.parse("poincare(3, 0.5)").atoms[0] == poincare(3, 0.5)
    assert FeatureType.parse("poincare(3, c=0.5)") != FeatureType.parse("poincare(3, c=1.0)")


@pytest.mark.parametrize(
    ("text", "code"),
    [("lorentz(3, k=-1.0)", "GEO324"), ("poincare(0)", "GEO324"), ("lorentz(3, c=1.0)", "GEO301")],
)
def test_bad_atoms(text: str, code: str) -> None:
    assert type_error_codes(text) == [code]


def test_atom_dimensions() -> None:
    group = Group()
    dims = {"lorentz(4)": 5, "poincare(4)": 4, "unit(4)": 4, "spd(4)": 16, "sym(3)": 9}
    for text, dim in dims.items():
        assert group.type_dim(FeatureType.parse(text)) == dim


def test_rotations_act_on_manifold_atoms() -> None:
    group = Group.parse("O(3)")
    rot = random_rotation(np.random.default_rng(0), 3, reflect=True)
    element = GroupElement(rotation=rot)
    mat = group.atom_matrix(FeatureType.parse("spd(3)").atoms[0], element)
    x = np.random.default_rng(1).normal(size=(3, 3))
    assert np.allclose(mat @ x.reshape(-1), (rot @ x @ rot.T).reshape(-1))  # congruence
    mat = group.atom_matrix(lorentz(3), element)
    assert np.allclose(mat[0], [1, 0, 0, 0]) and np.allclose(mat[1:, 1:], rot)
    assert np.allclose(group.atom_matrix(poincare(3), element), rot)


def test_manifold_atoms_are_invariant_only_without_rotations() -> None:
    for atom in (lorentz(3), poincare(3), FeatureType.parse("spd(3)").atoms[0]):
        assert Group.parse("S(nodes)").is_invariant(atom)
        assert not Group.parse("O(3)").is_invariant(atom)
        assert atom.is_manifold
    assert not FeatureType.parse("sym(3)").atoms[0].is_manifold


def test_manifold_operators_are_registered() -> None:
    lookup("linear")
    assert all(REGISTRY[op].family == "manifold" for op in OPS)


# ---------------------------------------------------------------------------------------------
# Typing: good inputs

GOOD = cases(HERE / "test_manifold_types.cases", "good")


@pytest.mark.parametrize(("expr", "expected"), GOOD)
def test_good_types(expr: str, expected: str) -> None:
    assert infer(expr) == expected


def test_centroid_over_edges_into_nodes() -> None:
    text = """model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input z: lorentz(4) over nodes
    m = lorentz_centroid(z[src], over=edges, into=nodes)
    output o: lorentz(4, k=1.0) over nodes = m
}
"""
    graph = frontend(text)
    assert str(graph.outputs["o"].type) == "lorentz(4, k=1.0) over nodes"


ROTATION_GOOD = [
    ("expmap0(v, manifold=poincare(3))", "poincare(3, c=1.0) over set"),
    ("expmap0(v, manifold=lorentz(3, k=2.0))", "lorentz(3, k=2.0) over set"),
    ("logmap0(expmap0(v, manifold=lorentz(3)))", "vector over set"),
    (
        "mobius_add(expmap0(v, manifold=poincare(3)), expmap0(v, manifold=poincare(3)))",
        "poincare(3, c=1.0) over set",
    ),
    ("normalize(2 x vector)", None),
    ("reeig(x)", "spd(3) over set"),
    ("spd_batch_norm(x)", "spd(3) over set"),
    ("spd_batch_norm(x, metric=gbw)", "spd(3) over set"),
    ("logeig(x)", "sym(3) over set"),
    ("eigvals(x)", "3 x scalar over set"),
    ("norm(logeig(x))", "scalar over set"),
    ("expmap0(logeig(x), manifold=spd(3))", "spd(3) over set"),
]


@pytest.mark.parametrize(("expr", "expected"), [c for c in ROTATION_GOOD if c[1]])
def test_good_types_under_rotations(expr: str, expected: str) -> None:
    assert infer(expr, "O(3) x S(set)") == expected


# ---------------------------------------------------------------------------------------------
# Typing: errors, each at its span

BAD = cases(HERE / "test_manifold_types.cases", "bad")


@pytest.mark.parametrize(("body", "code"), BAD)
def test_errors(body: str, code: str) -> None:
    assert_error(body, code)


@pytest.mark.parametrize(
    ("body", "needle"),
    cases(HERE / "test_manifold_types.cases", "help_names_the_manifold_operation"),
)
def test_help_names_the_manifold_operation(body: str, needle: str) -> None:
    err = assert_error(body, "GEO320" if "+" in body or "sum" in body else "GEO321")
    assert needle in err.diagnostics[0].help


# ---------------------------------------------------------------------------------------------
# Equivariance contracts under rotations


ROT_BAD = cases(HERE / "test_manifold_types.cases", "rot_bad")


@pytest.mark.parametrize(("body", "code"), ROT_BAD)
def test_rotation_violations(body: str, code: str) -> None:
    assert_error(body, code, "O(3) x S(set)")


def test_bimap_help_names_the_equivariant_maps() -> None:
    err = assert_error("    y = bimap(@x, 2)", "GEO410", "O(3) x S(set)")
    assert "congruence" in err.diagnostics[0].message
    assert "reeig" in err.diagnostics[0].help and "eigvals" in err.diagnostics[0].help


def test_manifold_dimension_must_match_the_group() -> None:
    text = model("    y = h", "O(3) x S(set)").replace("input x: spd(3)", "input x: spd(4)")
    with pytest.raises(GeoError) as info:
        frontend(text)
    assert info.value.codes == ["GEO309"]
    assert "spd(4)" in info.value.diagnostics[0].message


def test_atom_kinds_listed() -> None:
    kinds = {AtomKind.LORENTZ, AtomKind.POINCARE, AtomKind.UNIT, AtomKind.SPD}
    assert all(FeatureType.parse(f"{k.value}(2)").atoms[0].is_manifold for k in kinds)
