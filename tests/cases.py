"""Tables of test cases kept as data: `cases(path, section)` reads one table of a `.cases` file.

A test module keeps its plain string cases in a `.cases` file beside it and parametrizes with
``pytest.mark.parametrize(("expr", "expected"), cases(HERE / "x.cases", "good"))``, as mypy's
``test-data/*.test`` files and LLVM's lit tests keep their cases out of the code.

The format, line by line:

* ``[name]`` starts the section (table) ``name``; each name appears once in a file;
* a blank line, or a line whose first non-blank character is ``#``, is ignored;
* any other line is one case: its fields separated by `` | `` (space, bar, space), each field
  stripped of the blanks around it, except that the first keeps its leading blanks (a statement
  of a spec body keeps its indentation). Every case of a section has as many fields as its first.

A case before any section, a repeated section, a missing section or a case with the wrong number
of fields raises `CasesError`, whose message names the file and the line; so does `values` on a
section of more than one field. Torch-free: the front end tests use it too.
"""

from __future__ import annotations

from pathlib import Path

SEPARATOR = " | "


class CasesError(ValueError):
    """A malformed `.cases` file or a section it does not have."""


def parse(text: str, source: str = "<cases>") -> dict[str, list[tuple[str, ...]]]:
    """Every section of a `.cases` text, each a list of its cases in order."""
    sections: dict[str, list[tuple[str, ...]]] = {}
    current: list[tuple[str, ...]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{source}:{number}"
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if not name or name in sections:
                raise CasesError(f"{where}: empty or repeated section [{name}]")
            current = sections[name] = []
            continue
        if current is None:
            raise CasesError(f"{where}: a case before any [section]")
        first, *rest = f"{line} ".split(SEPARATOR)
        fields = (first.rstrip(), *(field.strip() for field in rest))
        if current and len(fields) != len(current[0]):
            raise CasesError(
                f"{where}: {len(fields)} fields, the section's cases have {len(current[0])}"
            )
        current.append(fields)
    return sections


def cases(path: Path, section: str) -> list[tuple[str, ...]]:
    """The cases of `section` in the `.cases` file at `path`."""
    sections = parse(path.read_text(encoding="utf-8"), str(path))
    if section not in sections:
        raise CasesError(f"{path}: no section [{section}]")
    return sections[section]


def values(path: Path, section: str) -> list[str]:
    """The cases of a one-field `section`, each as its one string."""
    rows = cases(path, section)
    if rows and len(rows[0]) != 1:
        raise CasesError(f"{path}: section [{section}] has {len(rows[0])} fields, not 1")
    return [row[0] for row in rows]
