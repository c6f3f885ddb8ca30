"""MkDocs hooks (mkdocs.yml ``hooks:``) for the documentation site.

Code blocks carry their kind in the info string (docs/contributing.md, "Code blocks"): a
language and a qualifier, ```` ```python skip ```` or ```` ```geo fragment ````. The qualifier
is for tests/project/test_docs_blocks.py; Markdown takes the whole info string as the language
and would not see a fence, so the hook keeps the first word before the page is rendered.

The API pages are read from the source by mkdocstrings, which finds a package by its folder:
geoc's folders are named otherwise (pyproject's ``package-dir``: ``geoc`` is ``compiler/``,
``geoc.backends`` is ``backends/``), so the hook lays them out as one ``geoc`` folder of links
in a temporary directory and puts it first on the search path.

A `|` inside code in a table cell is written `\\|` (GitHub's tables need it); Python-Markdown's
tables already skip code spans and would show the backslash, so the hook removes it there.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import tomllib
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]+)[ \t]+[\w -]+$", re.M
)
_TABLE_ROW = re.compile(r"^\|.*\|[ \t]*$", re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_VIEW = tempfile.TemporaryDirectory(prefix="geoc-docs-")  # removed when mkdocs exits


def on_page_markdown(markdown: str, **_: object) -> str:
    """The page with each fence's info string cut to its language."""
    markdown = _FENCE.sub(lambda m: m["indent"] + m["fence"] + m["lang"], markdown)
    return _TABLE_ROW.sub(lambda row: _CODE_SPAN.sub(_unescape, row[0]), markdown)


def _unescape(code: re.Match[str]) -> str:
    return code[0].replace("\\|", "|")


@event_priority(100)  # before mkdocstrings reads sys.path
def on_config(config: object, **_: object) -> object:
    """Put the ``geoc`` package view first on ``sys.path``, and drop the ``mkdocs`` script's
    folder (``.venv/bin``): its ``geoc`` console script would be taken for the package."""
    script_dir = Path(sys.argv[0]).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != script_dir]
    sys.path.insert(0, package_view(Path(_VIEW.name)))
    return config


def package_view(where: Path) -> str:
    """``where/geoc``: links to pyproject's ``package-dir`` folders, nested by package name."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = pyproject["tool"]["setuptools"]["package-dir"]
    top = where / "geoc"
    if not top.exists():
        top.mkdir()
        for entry in (ROOT / folders["geoc"]).iterdir():
            (top / entry.name).symlink_to(entry)
        for name, folder in folders.items():
            if name != "geoc":
                link = top.joinpath(*name.split(".")[1:])
                link.unlink(missing_ok=True)
                link.symlink_to(ROOT / folder)
    return str(where)
