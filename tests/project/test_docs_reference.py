"""The site's reference pages are complete: every built-in spec (the catalog), every operator
(the OpDef registry) and every diagnostic code (the code table) has its entry, and the pages
are in the site's navigation (mkdocs.yml)."""

from __future__ import annotations

import re

import paths

from geoc.catalog import builtin_specs
from geoc.diagnostics import CODES
from geoc.ops import REGISTRY, lookup
from geoc.ops.reference import written

DOCS = paths.DOCS


def _nav() -> set[str]:
    """The pages named in mkdocs.yml's ``nav``."""
    config = (paths.REPO / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config.split("\nnav:\n", 1)[1]
    return set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w/.-]+\.md)\s*$", nav, re.M))


def test_the_reference_pages_are_in_the_navigation() -> None:
    missing = {"specs.md", "operators.md", "diagnostics.md", "api/compile.md"} - _nav()
    assert not missing, f"add these pages to mkdocs.yml's nav: {sorted(missing)}"


def test_every_builtin_spec_has_a_row() -> None:
    # docs/specs.md is the spec library's page, specs/README.md, included (pymdownx.snippets)
    assert '--8<-- "specs/README.md"' in (DOCS / "specs.md").read_text(encoding="utf-8")
    page = (paths.SPECS / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in builtin_specs() if f"| `{s.name}.geo` |" not in page]
    assert not missing, f"built-in specs without a row in specs/README.md: {missing}"


def test_every_operator_has_a_row() -> None:
    lookup("linear")  # loads every family
    page = (DOCS / "operators.md").read_text(encoding="utf-8")
    rows = {
        name: "| `{}` |".format(written(op).replace("|", "\\|")) for name, op in REGISTRY.items()
    }
    missing = [name for name, row in rows.items() if row not in page]
    assert not missing, f"operators without a row in docs/operators.md: {missing}"


def test_every_diagnostic_code_has_its_long_form() -> None:
    page = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    missing = [code for code, info in CODES.items() if f"| `{code}` | " not in page]
    assert not missing, f"codes without a row in docs/diagnostics.md: {missing}"
    # each row carries the long form, not only the title (the first words of it, escaped)
    first = {
        code: info.explanation.split(" ")[0].replace("|", "\\|") for code, info in CODES.items()
    }
    short = [
        c
        for c, word in first.items()
        if not re.search(rf"\| `{c}` \| .* \| {re.escape(word)}", page)
    ]
    assert not short, f"codes without their long form in docs/diagnostics.md: {short}"
