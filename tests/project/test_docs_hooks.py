"""The site's MkDocs hooks (scripts/docs_hooks.py): a fence keeps its language, a table cell
its `|` inside code, and the API pages find geoc's folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import paths
import pytest

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")


def _hooks():
    spec = importlib.util.spec_from_file_location(
        "docs_hooks", paths.REPO / "scripts/docs_hooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_fence_keeps_its_language_and_drops_the_qualifier() -> None:
    page = "```python skip\n# why\n```\n  ```geo fragment\nx\n  ```\n```bash\ngeoc specs\n```\n"
    shown = _hooks().on_page_markdown(page)
    assert shown == "```python\n# why\n```\n  ```geo\nx\n  ```\n```bash\ngeoc specs\n```\n"


def test_a_pipe_in_code_in_a_table_loses_its_backslash() -> None:
    page = "| `x[src \\| dst]` | a \\| b |\n\n`a \\| b` outside a table\n"
    shown = _hooks().on_page_markdown(page)
    assert shown == "| `x[src | dst]` | a \\| b |\n\n`a \\| b` outside a table\n"


def test_the_package_view_nests_the_mapped_folders(tmp_path: Path) -> None:
    root = Path(_hooks().package_view(tmp_path)) / "geoc"
    assert (root / "builder" / "api.py").exists()
    assert (root / "backends" / "torch_fx" / "api.py").exists()
    assert (root / "grammar" / "parser.py").exists()
