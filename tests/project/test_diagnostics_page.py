"""docs/diagnostics.md is generated from the code table: the committed page is the generated one."""

from __future__ import annotations

import paths
import pytest

from geoc.diagnostics import CODES
from geoc.diagnostics.reference import SECTIONS, render, section_of, section_table

DOCS = paths.DOCS


def test_the_diagnostics_page_is_generated_from_the_code_table() -> None:
    template = (DOCS / "diagnostics.in.md").read_text(encoding="utf-8")
    committed = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    assert committed == render(template), (
        "regenerate: python -m geoc.diagnostics.reference docs/diagnostics.in.md "
        "docs/diagnostics.md"
    )


def test_every_code_is_in_exactly_one_section() -> None:
    for code in CODES:
        assert section_of(code) in SECTIONS
    assert section_of("GEO402") == "equivariance"
    assert section_of("GEO191") == "command-line"
    assert (section_of("GEO600"), section_of("GEO611")) == ("verification", "inputs")


def test_a_row_carries_the_long_form_with_its_pipes_escaped() -> None:
    table = section_table("names")
    row = next(line for line in table.splitlines() if line.startswith("| `GEO204` |"))
    assert row.startswith(f"| `GEO204` | {CODES['GEO204'].title} | ")
    assert "|" not in row[:-1].replace("\\|", "").split(" | ", 2)[2]


def test_a_template_without_a_section_marker_is_refused() -> None:
    with pytest.raises(AssertionError, match="no marker"):
        render("# Diagnostics\n\n<!-- codes: source -->\n")
