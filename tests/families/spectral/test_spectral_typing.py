"""Typing rules of grid domains and spectral operators: output types on good inputs, and each
error's code and primary span (``@`` marks where it must start)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import cases, values
from helpers import assert_fails_at, checked_type, elaborated

from geoc.diagnostics import GeoError
from geoc.domains import Domain, DomainKind
from geoc.pipeline import check_equivariance, frontend

HERE = Path(__file__).parent

TORUS = "torus(32, 32)"
SPHERE = "sphere(nlat=16, nlon=32, grid=equiangular)"


def spec(body: str, group: str, domain: str, field: str) -> str:
    return (
        f"model M(width: int = 8) {{\n    symmetry {group}\n    domain {domain}\n"
        f"    input u: 3 x scalar over {field}\n    input g: 3 x scalar\n{body}\n"
        f"    output o: 3 x scalar over {field} = u\n}}\n"
    )


def torus(body: str, group: str = "T(2)") -> str:
    return spec(body, group, TORUS, "torus")


def sphere(body: str, group: str = "SO(3)") -> str:
    return spec(body, group, SPHERE, "sphere")


typed = elaborated  # dead values kept: ``y`` is not used by the output
infer = checked_type


def typed_and_checked(text: str) -> None:
    """Elaborate (dead values kept) and raise the first equivariance violation."""
    found = check_equivariance(typed(text))
    if found:
        raise GeoError(found[0])


def fails(text: str, code: str) -> GeoError:
    """``text`` (with one ``@``) fails with ``code`` whose primary span starts at the ``@``."""
    err = assert_fails_at(text, code, run=typed_and_checked)
    assert err.diagnostics[0].help, "every diagnostic has a help line"
    return err


# --- domains ------------------------------------------------------------------------------------


def test_grid_domains_parse_and_print():
    assert str(Domain.parse("torus(64, 32)")) == "torus(64, 32)"
    sphere_domain = Domain.parse("sphere(32, 64, grid=legendre_gauss)")
    assert sphere_domain.kind is DomainKind.SPHERE and sphere_domain.grid == (32, 64)
    assert str(sphere_domain) == "sphere(nlat=32, nlon=64, grid=legendre_gauss)"
    assert Domain.parse("sphere(nlat=8, nlon=16)").quadrature == "equiangular"


@pytest.mark.parametrize(
    "domain",
    values(HERE / "test_spectral_typing.cases", "bad_grid_domains_are_geo204"),
)
def test_bad_grid_domains_are_geo204(domain):
    with pytest.raises(GeoError) as info:
        frontend(spec("", "trivial", domain, "torus"))
    assert info.value.codes == ["GEO204"]


@pytest.mark.parametrize(
    ("make", "group"),
    [(torus, "@E(2)"), (torus, "@T(3)"), (torus, "@SO(2)"), (sphere, "@O(3)"), (sphere, "@E(3)")],
)
def test_groups_without_an_action_on_the_grid_are_geo408(make, group):
    text = make("    y = u", group).replace("symmetry @", "@symmetry ")
    err = fails(text, "GEO408")
    assert "does not act on the domain" in err.render()


def test_permuting_a_grid_axis_is_rejected():
    with pytest.raises(GeoError) as info:
        frontend(torus("    y = u", "T(2) x S(torus)"))
    assert info.value.codes == ["GEO408"]


def test_sphere_takes_polar_rotations_and_trivial():
    assert infer(sphere("    y = sfno_conv(u, 4 x scalar)", "SO(2)")) == "4 x scalar over sphere"
    assert infer(torus("    y = spectral_conv(u, 2 x scalar, modes=4)", "trivial"))


# --- fields -------------------------------------------------------------------------------------


def test_fields_carry_scalar_channels():
    text = spec("", "T(2)", TORUS, "torus").replace(
        "input u: 3 x scalar over torus", "input u: @vector over torus"
    )
    fails(text, "GEO310")


@pytest.mark.parametrize(
    ("expr", "want"),
    cases(HERE / "test_spectral_typing.cases", "pointwise_operators_on_fields"),
)
def test_pointwise_operators_on_fields(expr, want):
    assert infer(torus(f"    y = {expr}")) == want


@pytest.mark.parametrize("expr", ["norm(@u)", "gate(@u)"])
def test_operators_not_defined_on_fields_are_geo311(expr):
    fails(torus(f"    y = {expr}"), "GEO311")


def test_pooling_a_field_over_its_grid():
    """A torus field pools to a global value (invariant: docs/gcnn.md); a sphere's points carry
    quadrature weights, so a plain pool over them is GEO311."""
    assert infer(torus("    y = sum(u, over=torus)")) == "3 x scalar"
    fails(sphere("    y = mean(@u, over=sphere)"), "GEO311")


# --- spectral_conv ------------------------------------------------------------------------------


@pytest.mark.parametrize("modes", ["8", "[4, 17]", "[16, 1]"])
def test_spectral_conv_types(modes):
    assert infer(torus(f"    y = spectral_conv(u, width x scalar, modes={modes})")) == (
        "8 x scalar over torus"
    )


@pytest.mark.parametrize("modes", ["0", "17", "[17, 4]", "[4, 18]", "[4, 4, 4]"])
def test_spectral_conv_modes_beyond_the_grid_are_geo313(modes):
    err = fails(torus(f"    y = @spectral_conv(u, 4 x scalar, modes={modes})"), "GEO313")
    assert "16, 17" in err.render()


# --- sht, isht, sfno_conv -----------------------------------------------------------------------


def test_sht_and_isht_types():
    assert infer(sphere("    y = sht(u)")) == "3 x scalar over spectrum"
    assert infer(sphere("    y = isht(sht(u, lmax=4) + sht(u, lmax=4))")) == (
        "3 x scalar over sphere"
    )


@pytest.mark.parametrize(("lmax", "group"), [("0", "SO(3)"), ("8", "SO(3)"), ("16", "SO(2)")])
def test_sfno_conv_types(lmax, group):
    """Past the exact band (8 on this grid) only polar rotations commute: GEO412 under SO(3)."""
    assert infer(sphere(f"    y = sfno_conv(u, width x scalar, lmax={lmax})", group)) == (
        "8 x scalar over sphere"
    )


def test_per_order_filter_is_fine_under_polar_rotations_or_none():
    body = "    y = sfno_conv(u, 4 x scalar, filter=degree_order)"
    assert infer(sphere(body, "SO(2)")) == "4 x scalar over sphere"
    assert infer(sphere(body, "trivial")) == "4 x scalar over sphere"


# --- errors of the spectral operators ----------------------------------------------------------

# (grid, the statement with an `@`, code, words the message must show), by what they check
OPERATOR_ERRORS = {
    "spectral_conv_needs_a_torus": (sphere, "spectral_conv(@u, 4 x scalar, modes=4)", "GEO312"),
    "spectral_output_must_be_scalar": (torus, "@spectral_conv(u, vector, modes=4)", "GEO310"),
    "isht_needs_coefficients": (sphere, "isht(@u)", "GEO312", "sht"),
    "coefficients_do_not_mix_with_fields": (sphere, "sht(u) + @u", "GEO305"),
    "nonlinearity_on_coefficients_is_rejected": (sphere, "act(@sht(u), gelu)", "GEO311"),
    "sfno_conv_lmax_beyond_the_grid_is_geo313": (
        sphere,
        "@sfno_conv(u, 4 x scalar, lmax=17)",
        "GEO313",
    ),
    "sfno_conv_on_a_torus_is_geo312": (torus, "sfno_conv(@u, 4 x scalar)", "GEO312"),
    "per_order_filter_breaks_so3": (
        sphere,
        "@sfno_conv(u, 4 x scalar, filter=degree_order)",
        "GEO409",
        "filter=degree",
        "SO(2)",
    ),
}


@pytest.mark.parametrize("case", OPERATOR_ERRORS.values(), ids=OPERATOR_ERRORS.keys())
def test_operator_errors(case: tuple) -> None:
    grid, statement, code, *shown = case
    err = fails(grid(f"    y = {statement}"), code)
    assert all(words in err.render() for words in shown)


def test_unknown_filter_is_geo302():
    with pytest.raises(GeoError) as info:
        frontend(sphere("    y = sfno_conv(u, 4 x scalar, filter=block)"))
    assert info.value.codes == ["GEO302"]


def test_coefficients_are_no_model_input() -> None:
    """A module takes fields and computes coefficients (complex, per band) itself: an input over
    `spectrum` is GEO532 (it compiled to a module that validated it as a field and crashed on
    the coefficients); an output over `spectrum` is fine."""
    text = """model S() {
    symmetry SO(3)
    domain sphere(8, 16)
    input c: @2 x scalar over spectrum
    output y: 2 x scalar over sphere = isht(c)
}
"""
    assert_fails_at(text, "GEO532")
    head = text.split("    input")[0]
    out = (
        "    input z: 2 x scalar over sphere\n    y = sht(z)\n"
        "    output o: 2 x scalar over spectrum = y\n}"
    )
    assert checked_type(head + out) == "2 x scalar over spectrum"
