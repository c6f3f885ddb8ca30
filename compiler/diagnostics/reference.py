"""docs/diagnostics.md, generated: the prose of docs/diagnostics.in.md with, at each marker
``<!-- codes: SECTION -->``, the table of that section's codes from :data:`CODES` (code,
title and the long form ``geoc explain`` prints), in code order.

Regenerate after adding or changing a code (tests/project/test_diagnostics_page.py checks it)::

    python -m geoc.diagnostics.reference docs/diagnostics.in.md docs/diagnostics.md
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from geoc.diagnostics.codes import CODES, CodeInfo

_MARKER = re.compile(r"<!-- codes: ([\w-]+) -->")
_CODE_SPAN = re.compile(r"(`[^`]*`)")

# The page's sections, by the code's number (and, in GEO6xx, by who raises it).
SECTIONS: dict[str, Callable[[int, CodeInfo], bool]] = {
    "source": lambda n, _: 100 <= n < 190,
    "command-line": lambda n, _: 190 <= n < 200,
    "names": lambda n, _: 200 <= n < 300,
    "types": lambda n, _: 300 <= n < 400,
    "equivariance": lambda n, _: 400 <= n < 500,
    "backend": lambda n, _: 500 <= n < 600,
    "verification": lambda n, info: 600 <= n < 700 and not info.runtime,
    "inputs": lambda n, info: 600 <= n < 700 and info.runtime,
}


def section_of(code: str) -> str:
    """The one section of the page that lists ``code``."""
    number, info = int(code[3:]), CODES[code]
    (name,) = [name for name, holds in SECTIONS.items() if holds(number, info)]
    return name


def render(template: str) -> str:
    """The page: ``template`` with every section marker replaced by its table."""
    present = _MARKER.findall(template)
    missing = sorted({section_of(code) for code in CODES} - set(present))
    assert not missing, f"the template has no marker for the sections {missing}"
    return _MARKER.sub(lambda m: section_table(m.group(1)), template)


def section_table(section: str) -> str:
    assert section in SECTIONS, f"unknown section {section}: one of {list(SECTIONS)}"
    codes = sorted(code for code in CODES if section_of(code) == section)
    rows = [f"| `{c}` | {_cell(CODES[c].title)} | {_cell(CODES[c].explanation)} |" for c in codes]
    return "\n".join(["| code | title | long form (`geoc explain CODE`) |", "|---|---|---|", *rows])


def _cell(text: str) -> str:
    """``text`` in a table cell: `|` escaped, and `<` outside code kept from reading as HTML."""
    parts = _CODE_SPAN.split(text.replace("|", "\\|"))
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;") for p in parts)


def main(argv: list[str]) -> None:
    template, page = map(Path, argv)
    page.write_text(render(template.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
