"""Operator traits: every operator declares each one, and they agree with what the checks do.

The checks read traits instead of lists of names, so a wrong trait is a wrong diagnostic:
here each operator is called on the values its traits reject, through the one entry point
every call is typed by (:func:`geoc.ops.infer_call`).
"""

from __future__ import annotations

import dataclasses

import pytest

from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.groups import Group
from geoc.ops import REGISTRY, OpContext, OpDef, Traits, infer_call, lookup
from geoc.types import FeatureType

lookup("linear")  # loads every family
OPS = sorted(REGISTRY.values(), key=lambda op: op.name)


def by_name(op: OpDef) -> str:
    return op.name


def rejects(op: OpDef, domain: str, ftype: str, group: str = "trivial") -> str:
    """The code ``op`` reports for its tensor arguments all of type ``ftype``."""
    ctx = OpContext(op.name, Group.parse(group), Domain.parse(domain))
    value = FeatureType.parse(ftype)
    count = max(len(op.tensor_params), 1)
    with pytest.raises(GeoError) as err:
        infer_call(ctx, op, [value] * count, {})
    return err.value.diagnostics[0].code


def test_traits_have_no_defaults() -> None:
    missing = dataclasses.MISSING
    for field in dataclasses.fields(Traits):
        assert field.default is missing and field.default_factory is missing, field.name


@pytest.mark.parametrize("op", OPS, ids=by_name)
def test_every_operator_declares_its_traits_rules_and_doc(op: OpDef) -> None:
    assert isinstance(op.traits, Traits)
    assert all(hasattr(op.traits, f.name) for f in dataclasses.fields(Traits))
    assert op.infer.__name__ != "_untyped", f"{op.name} has no typing rule"
    assert op.doc and "\n" not in op.doc
    names = {p.name for p in op.tensor_params}
    assert set(op.traits.linear_in) <= names, "linear_in names tensor inputs"


@pytest.mark.parametrize("op", OPS, ids=by_name)
def test_a_bias_attribute_is_a_bias_trait(op: OpDef) -> None:
    if any(p.name == "bias" for p in op.attr_params):
        assert op.traits.bias and op.traits.learned


@pytest.mark.parametrize(
    "op", [o for o in OPS if {p.name for p in o.tensor_params} - set(o.traits.labels)], ids=by_name
)
@pytest.mark.parametrize("group", ["trivial", "E(3) x S(nodes)", "S(4) x S(nodes)"])
def test_operators_without_labels_reject_integer_labels(op: OpDef, group: str) -> None:
    """No argument but those that read labels computes with `index(n)` values: a label is a
    class, so arithmetic on it is never equivariant to renumbering the classes."""
    assert rejects(op, "set(nodes)", "index(4) over nodes", group) == "GEO360"


def test_only_lookups_read_labels() -> None:
    """Labels are read by a table lookup only: embed's rows, the contraction's weights."""
    readers = {o.name: o.traits.labels for o in OPS if o.traits.labels}
    assert readers == {"embed": ("z",), "symmetric_contraction": ("species",)}


@pytest.mark.parametrize("op", [o for o in OPS if o.traits.labels], ids=by_name)
def test_label_readers_name_their_tensor_inputs(op: OpDef) -> None:
    assert set(op.traits.labels) <= {p.name for p in op.tensor_params}


@pytest.mark.parametrize("op", [o for o in OPS if not o.traits.fields], ids=by_name)
def test_operators_without_fields_reject_them(op: OpDef) -> None:
    assert rejects(op, "torus(8, 8)", "4 x scalar over torus") == "GEO311"


@pytest.mark.parametrize("op", [o for o in OPS if not o.traits.spectra], ids=by_name)
def test_operators_without_spectra_reject_coefficients(op: OpDef) -> None:
    domain = "sphere(nlat=8, nlon=16)"
    assert rejects(op, domain, "4 x scalar over spectrum", "SO(3)") == "GEO311"


@pytest.mark.parametrize("op", [o for o in OPS if not o.traits.weights], ids=by_name)
def test_operators_without_weights_reject_weight_values(op: OpDef) -> None:
    domain = "weightspace(mlp=[2, 3, 1])"
    assert rejects(op, domain, "2 x scalar over weights", "S(hidden)") == "GEO342"


@pytest.mark.parametrize("op", [o for o in OPS if o.traits.euclidean], ids=by_name)
@pytest.mark.parametrize("manifold", ["lorentz(3, k=1.0)", "poincare(3, c=1.0)", "spd(3)"])
def test_euclidean_operators_reject_manifold_values(op: OpDef, manifold: str) -> None:
    assert op.traits.euclidean is not None
    code = rejects(op, "set(nodes)", f"{manifold} over nodes", "S(nodes)")
    assert code == op.traits.euclidean.code


def test_the_guard_names_the_manifold_operation() -> None:
    ctx = OpContext("add", Group.parse("trivial"), Domain.parse("set(nodes)"))
    point = FeatureType.parse("poincare(3, c=1.0) over nodes")
    with pytest.raises(GeoError) as err:
        infer_call(ctx, REGISTRY["add"], [point, point], {})
    (diagnostic,) = err.value.diagnostics
    assert "`+` of `poincare(3" in diagnostic.message and "mobius_add" in diagnostic.help


@pytest.mark.parametrize("op", [o for o in OPS if o.traits.ambient], ids=by_name)
def test_ambient_operators_read_unit_vectors_as_coordinates(op: OpDef) -> None:
    ctx = OpContext(op.name, Group.parse("trivial"), Domain.parse("set(nodes)"))
    unit = FeatureType.parse("unit(3) over nodes")
    attrs = {"fn": "relu", "over": "nodes", "into": None}
    (out,) = infer_call(ctx, op, [unit] * len(op.tensor_params), attrs)
    assert not out.has_manifold


@pytest.mark.parametrize(
    ("group", "argument", "out", "code"),
    [
        ("S(nodes)", "4 x scalar over nodes", "vector", "GEO309"),  # no space to rotate
        ("O(2)", "vector over nodes", "1o", "GEO309"),  # an irrep of R^3 under O(2)
        ("Lorentz(2)", "vector over nodes", "1o", "GEO330"),  # a matrix group's refusal
    ],
)
def test_a_result_holds_only_atoms_the_group_acts_on(
    group: str, argument: str, out: str, code: str
) -> None:
    """Every operator's result is checked against the group (declared types are, elsewhere):
    `linear(h, 1o)` under O(2) was accepted once, its `1o` sharing a key with the plane's
    vector."""
    ctx = OpContext("linear", Group.parse(group), Domain.parse("set(nodes)"))
    given = {"out": FeatureType.parse(out)}
    with pytest.raises(GeoError) as err:
        infer_call(ctx, REGISTRY["linear"], [FeatureType.parse(argument)], given)
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == code and diagnostic.help


def test_degree_zero_irreps_stay_under_rotations_of_the_plane() -> None:
    ctx = OpContext("linear", Group.parse("O(2)"), Domain.parse("set(nodes)"))
    scalars = [FeatureType.parse("scalar over nodes")]
    (kept,) = infer_call(ctx, REGISTRY["linear"], scalars, {"out": FeatureType.parse("0e")})
    assert str(kept) == "1x0e over nodes"
