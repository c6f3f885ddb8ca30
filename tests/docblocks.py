"""The fenced code blocks of the Markdown pages, with the kind their info string gives them
(docs/contributing.md, "Code blocks"; tests/project/test_docs_blocks.py runs them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import paths

# Each kind: what the test does with the block (docs/contributing.md, "Code blocks").
KINDS = {
    "geo": "a complete spec: compiled",
    "geo fragment": "part of a spec: parsed as a file, a model body or an expression",
    "python": "run, the page's blocks in order in one namespace, in a temporary folder",
    "python skip": "shown only; its first line is a comment saying why",
    "bash": "geoc commands, run in order with the page's other blocks",
    "bash slow": "commands not run by the test (slow, a server, or not geoc's)",
    "console": "`$ geoc ...` lines run; the lines after each are its output, not compared",
    "text": "shown only",
    "lark": "grammar excerpt: every rule in it is a rule of grammar/geo.lark",
    "json": "parsed as JSON",
    "yaml": "shown only",
    "lua": "shown only (an editor's configuration)",
}

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(paths.REPO)}:{self.line}"


def pages() -> list[Path]:
    """Every Markdown page of the site and the README."""
    return [paths.REPO / "README.md", *sorted(paths.DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order (a fence closes with the same characters, at
    least as many, and nothing after them)."""
    found, lines, i = [], page.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines))
        body = "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])
        info = " ".join(opening["info"].split())
        found.append(Block(page, i + 1, info, body + "\n"))
        i = end + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """``line`` less the fence's indentation (a block inside a list item is indented)."""
    return line[indent:] if line[:indent].isspace() or not indent else line.lstrip()


def suggest(block: Block) -> str:
    """The kind a ``geo`` or untagged block would pass as (for retagging a page by hand)."""
    import contextlib

    import geoc
    from geoc.diagnostics import GeoError

    if block.info in KINDS and not block.info.startswith("geo"):
        return block.info
    with contextlib.suppress(GeoError):
        geoc.compile(block.text)
        return "geo"
    if parses(block.text):
        return "geo fragment"
    if block.info == "geo" and "..." in block.text:
        return "geo fragment (shown: it elides with ...)"
    return "text (or fix it: it does not parse)"


def parses(text: str) -> bool:
    """``text`` parses as a file, as a model's or a block's statements, or line by line as
    expressions."""
    import contextlib

    from geoc.diagnostics import GeoError
    from geoc.grammar.parser import parse, parse_expr

    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    for attempt in (
        lambda: parse(text),
        lambda: parse("model Fragment() {\n" + text + "\n}"),
        lambda: parse("block fragment() {\n" + text + "\n}"),
        lambda: [parse_expr(line) for line in lines if line],
    ):
        with contextlib.suppress(GeoError):
            attempt()
            return True
    return False


if __name__ == "__main__":  # python tests/docblocks.py docs/PAGE.md: a kind for each block
    import sys

    for name in sys.argv[1:]:
        for block in blocks(Path(name).resolve()):
            print(f"{block.where}: {block.info!r} -> {suggest(block)}")
