"""The Clifford operators end to end: the `multivector(p, q)` atom and the `O(p, q)` groups in
specs, each operator's result type and errors (code and primary span, ``@`` marks where it
starts), each operator's equivariance under random elements of every component with random
parameters in float64 (batches, and sets with no element), finite second derivatives at zero
and in general position, and capture by torch.compile(fullgraph) and torch.export."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_captures, assert_fails_at, checked_type

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.clifford import kernels as rtc
from geoc.backends.torch_fx.verify import check
from geoc.groups import Group
from geoc.types import FeatureType

pytestmark = pytest.mark.usefixtures("one_thread")

HEADER = """model M() {{
    symmetry {group} x S(set)
    domain set(set)
    input x: 2 x multivector({sig}) over set
    input v: vector over set
"""


def spec(body: str, group: str = "O(1, 3)", sig: str = "1, 3") -> str:
    return HEADER.format(group=group, sig=sig) + body + "\n    output z: vector over set = v\n}\n"


def infer(expr: str, group: str = "O(1, 3)", sig: str = "1, 3") -> str:
    return checked_type(spec(f"    y = {expr}", group, sig))


# --- the atom and the groups ------------------------------------------------------------------


def test_atom_and_groups_round_trip_and_size() -> None:
    ftype = FeatureType.parse("4 x multivector(1, 3) over set")
    assert str(ftype) == "4 x multivector(1, 3) over set"
    group = Group.parse("SO+(1, 3) x S(set)")
    assert str(group) == "SO+(1, 3) x S(set)" and group.type_dim(ftype) == 64
    assert str(Group.parse("O(2, 1)")) == "O(2, 1)" and Group.parse("SO(1, 3)").space_dim == 4


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("geometric_product(x, x)", "2 x multivector(1, 3) over set"),
        ("wedge(x, reverse(x))", "2 x multivector(1, 3) over set"),
        ("left_contraction(grade(x, 1), x)", "2 x multivector(1, 3) over set"),
        ("mv_linear(x, 5)", "5 x multivector(1, 3) over set"),
        ("mv_linear(x, 5, share=mod4)", "5 x multivector(1, 3) over set"),
        ("mv_product(x, reverse(x), share=mod4)", "2 x multivector(1, 3) over set"),
        ("mv_norm(mv_gate(x))", "2 x multivector(1, 3) over set"),
        ("embed_vector(v)", "multivector(1, 3) over set"),
        ("embed_scalar(linear(x, 3 x scalar))", "3 x multivector(1, 3) over set"),
        ("vector_part(x)", "2 x vector over set"),
        ("linear(x, 3 x multivector(1, 3))", "3 x multivector(1, 3) over set"),
        ("linear(x, 2 x scalar)", "2 x scalar over set"),
    ],
)
def test_result_types(expr: str, want: str) -> None:
    assert infer(expr) == want


def test_under_rotations_vectors_embed_in_cl_n0() -> None:
    assert infer("embed_vector(v)", "E(3)", "3, 0") == "multivector(3, 0) over set"
    assert infer("vector_part(x)", "SO(3)", "3, 0") == "2 x vector over set"


ERRORS = [
    # (body with @, code, group, signature)
    ("    y = geometric_product(x, @v)", "GEO422", "O(1, 3)", "1, 3"),
    ("    y = wedge(x, @concat(x, x))", "GEO424", "O(1, 3)", "1, 3"),
    ("    y = grade(x, @5)", "GEO426", "O(1, 3)", "1, 3"),
    ("    y = @mv_linear(x, 0)", "GEO428", "O(1, 3)", "1, 3"),
    ("    y = mv_norm(x, eps=@0.0)", "GEO427", "O(1, 3)", "1, 3"),
    ("    y = embed_vector(@x)", "GEO425", "O(1, 3)", "1, 3"),
    ("    y = embed_scalar(@v)", "GEO425", "O(1, 3)", "1, 3"),
    ("    y = act(@x, relu)", "GEO402", "O(1, 3)", "1, 3"),
    ("    y = norm(@x)", "GEO420", "O(1, 3)", "1, 3"),
]


@pytest.mark.parametrize(("body", "code", "group", "sig"), ERRORS)
def test_errors(body: str, code: str, group: str, sig: str) -> None:
    assert_fails_at(spec(body, group, sig), code)


def test_embedding_needs_a_group_with_an_algebra() -> None:
    text = spec("    y = @embed_vector(v)").replace("O(1, 3)", "Lorentz(3)")
    text = text.replace("input x: 2 x multivector(1, 3) over set", "input x: scalar over set")
    assert_fails_at(text, "GEO425")


def test_products_of_different_algebras_are_refused() -> None:
    text = """model M() {
    symmetry S(set)
    domain set(set)
    input a: multivector(1, 3) over set
    input b: multivector(3, 0) over set
    output y: multivector(1, 3) over set = geometric_product(a, @b)
}
"""
    assert_fails_at(text, "GEO423")


@pytest.mark.parametrize(
    ("group", "sig", "code"),
    [("O(1, 3)", "3, 0", "GEO330"), ("E(3)", "1, 3", "GEO330"), ("Lorentz(3)", "1, 3", "GEO330")],
)
def test_multivectors_of_another_algebra_than_the_groups(group: str, sig: str, code: str) -> None:
    text = spec("", group, sig)
    at = text.index("2 x multivector")
    assert_fails_at(text[:at] + "@" + text[at:], code)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("    input w: @multivector(4, 3) over set\n", "GEO421"),
        ("", "GEO202"),  # O(p, q) without a signature
    ],
)
def test_atom_and_group_syntax_errors(text: str, code: str) -> None:
    bad_group = spec("").replace("O(1, 3) x", "@O(1, -1) x")
    assert_fails_at(bad_group if code == "GEO202" else spec(text), code)


# --- equivariance, numerically -----------------------------------------------------------------

OP_BODIES = {
    "geometric_product": "geometric_product(x, mv_linear(x, 2))",
    "wedge": "wedge(x, mv_linear(x, 2))",
    "left_contraction": "left_contraction(mv_linear(x, 2), x)",
    "grade": "grade(x, 2) + grade(x, 0)",
    "reverse": "reverse(x)",
    "mv_linear": "mv_linear(x, 3)",
    "mv_linear_shared": "mv_linear(x, 3, share=mod4)",
    "mv_product": "mv_product(x, mv_linear(x, 2, share=mod4), share=mod4)",
    "mv_product_grade": "mv_product(mv_linear(x, 2), x)",
    "mv_gate": "mv_gate(x)",
    "mv_norm": "mv_norm(x)",
    "embed_vector": "embed_vector(concat(v, v))",
    "embed_scalar": "x + embed_scalar(linear(x, 2 x scalar))",
    "linear": "linear(x, 3 x multivector({sig}))",
}
GROUPS = [("O(1, 3)", "1, 3"), ("SO+(1, 3)", "1, 3"), ("O(2, 1)", "2, 1"), ("E(3)", "3, 0")]


def _op_spec(op: str, group: str, sig: str) -> str:
    body = OP_BODIES[op].format(sig=sig)
    return f"""model M() {{
    symmetry {group} x S(set)
    domain set(set)
    input x: 2 x multivector({sig}) over set
    input v: vector over set
    y = {body}
    s = vector_part(mv_linear(sum(y, over=set), 1))
    output o: vector over set = vector_part(mv_linear(y, 1)) + s
    output m: multivector({sig}) over set = mv_linear(mv_gate(y), 1)
}}
"""


@pytest.mark.parametrize(("group", "sig"), GROUPS)
@pytest.mark.parametrize("op", sorted(OP_BODIES))
def test_each_operator_is_equivariant(op: str, group: str, sig: str) -> None:
    """Every component of the group (both reflections, boosts up to rapidity 2), random
    parameters, a batch of graphs; a set with no element too."""
    text = _op_spec(op, group, sig)
    for nodes in (5, 0):
        report = check(text, trials=4, nodes=nodes, graphs=3)
        assert report.passed, report
        assert all(row.max_error < 1e-10 for row in report.outputs)
    if group.startswith("O(1"):
        met = " ".join(report.elements)
        assert "reflection in a +1 direction" in met and "reflection in a -1 direction" in met


MODEL = """model CliffordSet(c: int = 4) {
    symmetry O(1, 3) x S(set)
    domain set(set)
    input x: c x multivector(1, 3) over set
    input v: vector over set
    h = mv_linear(concat(x, embed_vector(v)), 8)
    h = mv_gate(mv_norm(h))
    g = geometric_product(h, reverse(h))
    h = mv_linear(h, 8) + wedge(h, g) + left_contraction(g, h) + grade(g, 2)
    m = mv_linear(sum(h, over=set), 2)
    output y: 2 x multivector(1, 3) over set = mv_linear(geometric_product(h, h), 2)
    output s: multivector(1, 3) = mv_linear(m, 1)
    output u: vector over set = vector_part(mv_linear(h, 1))
}
"""


def test_a_multivector_model_passes_geoc_check() -> None:
    report = check(MODEL, trials=6, nodes=6, graphs=2)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


# --- derivatives and capture ------------------------------------------------------------------


def _tables(p: int, q: int) -> tuple[torch.Tensor, torch.Tensor]:
    from geoc import clifford

    squares = torch.tensor(clifford.reverse_norms(p, q))
    expand = torch.tensor(clifford.grade_indicator(p + q))
    return squares, expand


@pytest.mark.parametrize("at_zero", [True, False])
def test_second_derivatives_of_gate_and_norm_are_finite(at_zero: bool) -> None:
    squares, expand = _tables(1, 3)
    x = torch.zeros(2 * 16, dtype=torch.float64)
    if not at_zero:
        x = torch.randn(2 * 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        x[16:20] = 0.0  # a grade of one copy exactly zero
    a, b = torch.full((2, 5), 0.3, dtype=torch.float64), torch.zeros(2, 5, dtype=torch.float64)

    def gate(y: torch.Tensor) -> torch.Tensor:
        return (rtc.mv_gate(y, a, b, squares, expand) ** 2).sum()

    def norm(y: torch.Tensor) -> torch.Tensor:
        return (rtc.mv_norm(y, a, squares, expand, 1e-6) ** 2).sum()

    for f in (gate, norm):
        hess = torch.autograd.functional.hessian(f, x)
        assert torch.isfinite(hess).all()


@pytest.mark.slow
def test_model_captures_with_torch_compile_and_export() -> None:
    model = geoc_compile(MODEL)
    g = torch.Generator().manual_seed(0)
    inputs = {"x": torch.randn(5, 64, generator=g), "v": torch.randn(5, 4, generator=g)}
    out = assert_captures(model, inputs, atol=1e-5)
    assert out["y"].shape == (5, 32) and out["s"].shape == (16,)


@pytest.mark.parametrize("group", ["O(1, 3)", "SO(1, 3)", "SO+(2, 1)"])
def test_vectors_and_tensors_of_the_indefinite_groups(group: str) -> None:
    """`mdot` is η's form (not the Euclidean one), and `linear` between tensors uses the
    solver's basis for O(p, q) (Brauer diagrams with η, and ε under determinant 1)."""
    text = f"""model T() {{
    symmetry {group} x S(set)
    domain set(set)
    input v: vector over set
    input t: tensor(2) over set
    output y: 2 x scalar over set = concat(mdot(v, v), mdot(t, t))
    u = concat(t, v)
    output z: tensor(2) + scalar + vector over set = linear(u, tensor(2) + scalar + vector)
    output w: tensor(3) over set = linear(concat(t, v), tensor(3))
}}
"""
    report = check(text, trials=4, nodes=5, graphs=2)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("glgenn", {"c": 4, "depth": 2}),
        pytest.param("cgenn_nbody", {"c": 4, "depth": 2}, marks=pytest.mark.slow),
    ],
)
def test_builtin_specs_pass_geoc_check(name: str, params: dict) -> None:
    """Every component of the group (O(1, 3): both reflections; E(3): reflections), random
    parameters, batches of graphs, to 1e-10."""
    report = check(name, params, trials=4, nodes=5, graphs=2)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


def test_a_set_with_no_element() -> None:
    """Empty sets: per-element outputs are empty, the pooled one is its bias (finite)."""
    model = geoc_compile(MODEL, dtype=torch.float64)
    empty = torch.zeros(0, 64, dtype=torch.float64)
    out = model(x=empty, v=torch.zeros(0, 4, dtype=torch.float64))
    assert out["y"].shape == (0, 32) and out["u"].shape == (0, 4)
    assert out["s"].shape == (16,) and torch.isfinite(out["s"]).all()
