"""Every fenced code block of the docs and the README has a kind (its info string, from
``docblocks.KINDS``; docs/contributing.md, "Code blocks"), and the test does what the kind says:
specs compile, fragments parse, Python and geoc commands run. A block that fails here is stale
documentation: fix the page."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import sys
from pathlib import Path

import docblocks
import paths
import pytest
from docblocks import KINDS, Block

# Pages whose commands or Python take more than a few seconds (a model check, a compile).
SLOW_PAGES = {"docs/cartesian.md", "docs/check.md", "docs/getting_started.md", "docs/spectral.md"}


def _pages() -> list[Path]:
    """The pages the site renders (not the templates of generated ones) and the README."""
    return [page for page in docblocks.pages() if not page.name.endswith(".in.md")]


def _name(page: Path) -> str:
    return str(page.relative_to(paths.REPO))


BLOCKS = [block for page in _pages() for block in docblocks.blocks(page)]


def _of(kind: str) -> list[Block]:
    return [b for b in BLOCKS if b.info == kind]


def _ids(blocks: list[Block]) -> list[str]:
    return [b.where for b in blocks]


def test_every_block_has_a_kind() -> None:
    untagged = [f"{b.where}: {b.info!r}" for b in BLOCKS if b.info not in KINDS]
    assert not untagged, f"tag these blocks with one of {sorted(KINDS)}: {untagged}"


def test_the_kinds_are_documented() -> None:
    guide = (paths.DOCS / "contributing.md").read_text(encoding="utf-8")
    missing = [kind for kind in KINDS if f"`{kind}`" not in guide]
    assert not missing, f"docs/contributing.md, 'Code blocks', does not describe {missing}"


def test_a_skipped_block_says_why() -> None:
    silent = [b.where for b in _of("python skip") if not b.text.lstrip().startswith("#")]
    assert not silent, f"start these `python skip` blocks with a comment saying why: {silent}"


@pytest.mark.parametrize("block", _of("geo"), ids=_ids(_of("geo")))
def test_complete_specs_compile(block: Block) -> None:
    import geoc

    geoc.compile(block.text)


@pytest.mark.parametrize("block", _of("geo fragment"), ids=_ids(_of("geo fragment")))
def test_fragments_parse(block: Block) -> None:
    assert _parses(block.text) or "..." in block.text, (
        f"{block.where}: parses neither as a file, nor as a model's statements, nor line by "
        "line as expressions (a fragment that elides with `...` is only shown)"
    )


def _parses(text: str) -> bool:
    return docblocks.parses(text)


@pytest.mark.parametrize("block", _of("json"), ids=_ids(_of("json")))
def test_json_parses(block: Block) -> None:
    json.loads(block.text)


@pytest.mark.parametrize("block", _of("lark"), ids=_ids(_of("lark")))
def test_grammar_excerpts_are_rules_of_the_grammar(block: Block) -> None:
    grammar = (paths.REPO / "grammar" / "geo.lark").read_text(encoding="utf-8")
    rules = set(re.findall(r"^[?!]?(\w+)(?:\.\d+)?\s*:", grammar, re.M))
    named = re.findall(r"^[?!]?(\w+)(?:\.\d+)?\s*:", block.text, re.M)
    assert named and set(named) <= rules, f"{block.where}: not rules of geo.lark: {named}"


RUNNABLE = {"python", "bash", "console"}
RUN_PAGES = [p for p in _pages() if any(b.info in RUNNABLE for b in docblocks.blocks(p))]


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=[pytest.mark.slow] * (_name(p) in SLOW_PAGES)) for p in RUN_PAGES],
    ids=[_name(p) for p in RUN_PAGES],
)
def test_a_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's Python blocks in order, in one namespace, and its geoc commands between them,
    in a fresh folder (which is on ``sys.path``: a page may import what it wrote there) that
    sees the repository's ``examples``, ``specs`` and ``docs`` as the pages do."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for folder in ("examples", "specs", "docs"):  # pages name files from the repository root
        (tmp_path / folder).symlink_to(paths.REPO / folder)
    before = set(sys.modules)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for block in docblocks.blocks(page):
            if block.info == "python":
                exec(compile(block.text, block.where, "exec"), namespace)
            elif block.info in {"bash", "console"}:
                for argv in _commands(block):
                    _run_geoc(block, argv)
    finally:  # modules the page imported from its folder (a saved model) go with the folder
        for name in set(sys.modules) - before:
            if str(tmp_path) in str(getattr(sys.modules[name], "__file__", None) or ""):
                del sys.modules[name]


def _commands(block: Block) -> list[list[str]]:
    """A ``bash`` block's command lines, or a ``console`` block's ``$`` lines; each must be a
    geoc command (others belong in ``bash slow``)."""
    lines = block.text.splitlines()
    if block.info == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands = [shlex.split(line, comments=True) for line in lines]
    commands = [argv for argv in commands if argv]
    strangers = [argv for argv in commands if argv[0] != "geoc"]
    assert not strangers, (
        f"{block.where}: not geoc commands (tag the block `bash slow`): {strangers}"
    )
    return commands


def _run_geoc(block: Block, argv: list[str]) -> None:
    from geoc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv[1:])
    assert code == 0, f"{block.where}: `{shlex.join(argv)}` exited {code}:\n{err.getvalue()}"
