"""Where things are, for tests in any folder (import as ``paths``; imports nothing heavy)."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SPECS = REPO / "specs"
DOCS = REPO / "docs"
EXAMPLES = REPO / "examples"
MALFORMED = TESTS / "malformed"  # the syntax-error corpus
NONEQUIVARIANT = TESTS / "nonequivariant"  # specs the static proof must reject
