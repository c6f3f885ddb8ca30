"""The loader of `.cases` files (tests/cases.py): its format and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import CasesError, cases, parse, values

TEXT = """\
# a comment
[good]
dot(v, v) | 2 x scalar over nodes

  # an indented comment
norm(x[dst] - x[src])  |  scalar over edges
[names]
scalar
  vector over nodes
[codes]
    y = h + @v | GEO307 | 1
"""


def test_sections_cases_and_fields() -> None:
    """Comments and blank lines are skipped; the first field keeps its indentation."""
    assert parse(TEXT) == {
        "good": [
            ("dot(v, v)", "2 x scalar over nodes"),
            ("norm(x[dst] - x[src])", "scalar over edges"),
        ],
        "names": [("scalar",), ("  vector over nodes",)],
        "codes": [("    y = h + @v", "GEO307", "1")],
    }


def test_cases_reads_one_section_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "t.cases"
    path.write_text(TEXT, encoding="utf-8")
    assert cases(path, "codes") == [("    y = h + @v", "GEO307", "1")]
    assert values(path, "names") == ["scalar", "  vector over nodes"]
    with pytest.raises(CasesError, match=r"t\.cases: no section \[bad\]"):
        cases(path, "bad")
    with pytest.raises(CasesError, match=r"t\.cases: section \[codes\] has 3 fields, not 1"):
        values(path, "codes")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[a]\nx | y\nx | y | z\n", r"^f\.cases:3: 3 fields, the section's cases have 2$"),
        ("# c\nx | y\n", r"^f\.cases:2: a case before any \[section\]$"),
        ("[a]\nx\n[a]\n", r"^f\.cases:3: empty or repeated section \[a\]$"),
        ("[]\n", r"^f\.cases:1: empty or repeated section \[\]$"),
    ],
)
def test_malformed_file_names_file_and_line(text: str, message: str) -> None:
    with pytest.raises(CasesError, match=message):
        parse(text, "f.cases")
