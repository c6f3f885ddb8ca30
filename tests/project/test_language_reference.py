"""The language reference covers what the compiler knows, derived from its own registries: every
domain kind (docs/domains.md), every atom (docs/atoms.md), every rule, alternative, terminal and
keyword of grammar/geo.lark (docs/language.md); and every cell of the typing-algebra tables in
docs/atoms.md is what the type checker says."""

from __future__ import annotations

import re

import paths
import pytest

from geoc.diagnostics import GeoError
from geoc.domains import KINDS
from geoc.elaborate import elaborate_all
from geoc.grammar.parser import parse
from geoc.pipeline import check_equivariance
from geoc.program import load_program
from geoc.types import CALL_ATOMS, CURVED_ATOMS, NAMED_ATOMS, AtomKind, FeatureType

DOCS = paths.DOCS
GRAMMAR = paths.REPO / "grammar" / "geo.lark"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def headings(text: str, level: str) -> list[str]:
    return [line[len(level) + 1 :] for line in text.splitlines() if line.startswith(level + " ")]


def geo_blocks(text: str) -> list[str]:
    """The complete specs of a page (```geo blocks; fragments are tagged ```geo fragment)."""
    return re.findall(r"^```geo\n(.*?)^```", text, re.M | re.S)


# --- domains --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(k.value for k in KINDS))
def test_every_domain_kind_has_its_section(kind: str) -> None:
    assert kind in headings(page("domains.md"), "##"), f"docs/domains.md: no `## {kind}`"


@pytest.mark.parametrize("kind", sorted(k.value for k, r in KINDS.items() if r.parse))
def test_every_written_domain_has_its_syntax_and_a_complete_example(kind: str) -> None:
    text = page("domains.md")
    assert f"`{kind}(" in text, f"docs/domains.md does not write `{kind}(...)`"
    assert any(f"domain {kind}(" in block for block in geo_blocks(text)), (
        f"docs/domains.md: no complete spec declares `domain {kind}(...)`"
    )


def test_the_global_domain_is_never_written() -> None:
    """The one kind without a written form: a model without `domain` (the page says so)."""
    unwritten = [k.value for k, r in KINDS.items() if r.parse is None]
    assert unwritten == ["global"]


# --- atoms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k.value for k in AtomKind])
def test_every_atom_has_a_row_and_a_section(kind: str) -> None:
    text = page("atoms.md")
    assert f"| `{kind}` |" in text, f"docs/atoms.md: no row for `{kind}` in the atoms table"
    titles = [re.split(r",\s*", t) for t in headings(text, "###")]
    assert any(kind in names for names in titles), f"docs/atoms.md: no `### {kind}` section"


def test_every_written_form_of_an_atom_is_shown() -> None:
    text = page("atoms.md")
    forms = [f"`{n}`" for n in NAMED_ATOMS] + [f"`{n}(" for n in [*CALL_ATOMS, *CURVED_ATOMS]]
    missing = [f for f in forms if f not in text]
    assert not missing, f"docs/atoms.md does not show {missing}"


# --- the grammar ----------------------------------------------------------------------------


def grammar_names() -> tuple[set[str], set[str], set[str]]:
    """Rules (with their `-> alias` alternatives), named terminals, and keyword literals."""
    rules, terminals, keywords = set(), set(), set()
    for line in GRAMMAR.read_text(encoding="utf-8").splitlines():
        code = line.split("//")[0]
        if (found := re.match(r"\??(_?[a-z][a-z_]*)\s*:", code)) is not None:
            rules.add(found[1])
        if (found := re.match(r"([A-Z_][A-Z0-9_]*)(\.\d+)?\s*:", code)) is not None:
            terminals.add(found[1])
        rules.update(re.findall(r"->\s*([a-z_]+)", code))
        keywords.update(re.findall(r'"([a-z]+)"', code))
    return rules, terminals, keywords


def test_the_grammar_is_read() -> None:
    rules, terminals, keywords = grammar_names()
    assert {"model", "breaks", "connected_call", "mul_irrep", "kwarg"} <= rules
    assert {"NAME", "IRREP", "ARROW", "_NL"} <= terminals
    assert {"import", "over", "canonical", "x"} <= keywords


@pytest.mark.parametrize("name", sorted(set().union(*grammar_names())))
def test_every_grammar_name_is_in_the_language_page(name: str) -> None:
    assert f"`{name}`" in page("language.md"), f"docs/language.md never names `{name}`"


# --- the typing algebra ---------------------------------------------------------------------


def typed(group: str, atom: str, expr: str) -> FeatureType | str:
    """What geoc says about ``y = expr`` for ``a: atom over A`` under ``group x S(A)``: the
    type, or the code of the first diagnostic (elaboration, then the static proof)."""
    pseudo = "input q: pseudoscalar over A" if re.search(r"\bq\b", expr) else ""
    text = f"""model M() {{
    symmetry {group} x S(A)
    domain set(A)
    input a: {atom} over A
    input s: scalar over A
    {pseudo}
    y = {expr}
    output o: scalar over A = s
}}"""
    try:
        elaboration = elaborate_all(load_program(parse(text, "<t>"), text, None), None, None)
    except GeoError as err:
        return err.diagnostics[0].code
    if elaboration.problems:
        return elaboration.problems[0].code
    if violations := check_equivariance(elaboration.graph):
        return violations[0].code
    last = [n for n in elaboration.graph.nodes if n.op != "input"][-1]
    return last.out_types[0].with_axes(())


def algebra_rows() -> list[tuple[str, str, str, str]]:
    """(group, atom, expression, cell) of every table whose header is a group, then
    expressions in `a`."""
    lines = page("atoms.md").splitlines()
    cells = []
    for i, header in enumerate(lines[:-1]):
        columns = [c.strip() for c in header.strip().strip("|").split("|")]
        is_algebra = lines[i + 1].startswith("|---") and all(
            re.fullmatch(r"`[^`]*`", c) for c in columns
        )
        if not is_algebra or not all(re.search(r"\ba\b", c) for c in columns[1:]):
            continue
        group = columns[0].strip("`")
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            atom, *values = [c.strip() for c in row.strip().strip("|").split("|")]
            exprs = [c.strip("`") for c in columns[1:]]
            cells += [(group, atom.strip("`"), e, v) for e, v in zip(exprs, values, strict=True)]
    return cells


def agrees(atom: str, expr: str, cell: str, got: FeatureType | str) -> bool:
    if cell.startswith("GEO") or isinstance(got, str):
        return cell == got
    if cell == "✓":
        return True
    want = FeatureType.parse(atom if cell == "same" else cell.strip("`"))
    return want == got


@pytest.mark.slow
def test_the_typing_algebra_tables_are_the_compilers() -> None:
    rows = algebra_rows()
    assert len(rows) > 500, "the typing-algebra tables of docs/atoms.md were not found"
    wrong = []
    for group, atom, column, cell in rows:
        expr = re.sub(r"\bT\b", atom, column)
        got = typed(group, atom, expr)
        if not agrees(atom, expr, cell, got):
            wrong.append(f"{group}, `a: {atom}`, `{column}`: the page says {cell}, geoc {got}")
    assert not wrong, "docs/atoms.md disagrees with the type checker:\n" + "\n".join(wrong)
