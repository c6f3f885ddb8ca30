"""Fuzzing the front end: whatever the input, it parses or it explains itself.

`parse` returns an ``ast.Module`` or raises :class:`GeoError` whose diagnostics have registered
codes and render; no other exception (AssertionError, IndexError, RecursionError, Lark's
own errors) may escape. Inputs: arbitrary and printable text, soups of .geo tokens, random
bytes, and mutations (deletions, duplications, swaps, insertions, truncations) of the built-in
specs and of random well-formed programs.
"""

from __future__ import annotations

import string
from importlib import resources

import pytest
import strategies
from hypothesis import given, settings
from hypothesis import strategies as st
from test_malformed import assert_user_words

from geoc.diagnostics import CODES, GeoError, render
from geoc.grammar import ast
from geoc.grammar.parser import decode_source, parse, parse_expr

SPEC_NAMES = ("deepsets", "egnn", "lorentz_mlp", "nequip", "sfno")
SPECS = {
    name: resources.files("geoc.specs").joinpath(f"{name}.geo").read_text(encoding="utf-8")
    for name in SPEC_NAMES
}
# Pieces of .geo and near-misses: every keyword, bracket and operator, literals of each kind,
# line breaks of each kind, and characters the language does not have.
TOKENS = (
    *("import", "block", "model", "symmetry", "domain", "input", "output", "repeat", "return"),
    *("true", "false", "over", "x", "scalar", "vector", "nodes", "edges", "h", "E", "S"),
    *("(", ")", "[", "]", "{", "}", ",", ":", ";", "=", "+", "-", "*", "->", "==", "=>"),
    *("16", "0", "1.5", "1e-3", ".5", "1.2.3", "0e", "1o", "16x0e", "3u", '"s"', '"', "'"),
    *(" ", "  ", "\t", "\n", "\r\n", "\r", "\x0c", "# c\n", "\ufeff", "\x00", "é", "$", "@"),
)
STARTS = ("model M() {\n", "block f(h: 16 x scalar) -> 16 x scalar {\n", "")

TEXT = st.text(max_size=200)
PRINTABLE = st.text(string.printable, max_size=200)
SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
BODY_SOUP = st.tuples(st.sampled_from(STARTS), SOUP, st.sampled_from(("", "\n}\n"))).map("".join)

# Cheap inputs get a few times the profile's examples; a whole spec per example gets the profile's.
FAST = settings(max_examples=3 * settings.default.max_examples)
SLOW = settings(max_examples=settings.default.max_examples)


def assert_explained(err: GeoError, text: str) -> None:
    """Every diagnostic has a registered code, renders, reads in the user's words, and points
    inside the text."""
    assert err.diagnostics
    line_count = text.count("\n") + 1
    for diag in err.diagnostics:
        assert diag.code in CODES
        out = render(diag, err.sources)
        assert out.startswith(f"error[{diag.code}]: ")
        assert diag.message and diag.help, out
        assert_user_words(diag, text)
        if diag.span is not None:
            assert 1 <= diag.span.line <= line_count and diag.span.col >= 1, out
    assert err.render()


def check_parse(text: str) -> None:
    try:
        module = parse(text, "fuzz.geo")
    except GeoError as err:
        assert_explained(err, text)
    else:
        assert isinstance(module, ast.Module)


@pytest.mark.parametrize(
    "texts",
    [
        pytest.param(TEXT, id="arbitrary_unicode_text"),
        pytest.param(PRINTABLE, id="printable_text"),
        pytest.param(BODY_SOUP, id="soups_of_geo_tokens"),
    ],
)
@FAST
@given(data=st.data())
def test_parse_succeeds_or_explains(texts: st.SearchStrategy[str], data: st.DataObject) -> None:
    check_parse(data.draw(texts, label="text"))


@FAST
@given(SOUP)
def test_expressions_from_token_soup(text: str) -> None:
    try:
        parse_expr(text, "expr.geo")
    except GeoError as err:
        assert_explained(err, text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    try:
        text = decode_source(data, "bytes.geo")
    except GeoError as err:
        assert err.codes == ["GEO110"]
        assert_explained(err, data.decode("utf-8", errors="replace"))
        return
    check_parse(text)


@FAST
@given(st.binary(max_size=40), st.sampled_from(SPEC_NAMES), st.integers(0, 2000))
def test_bytes_spliced_into_a_spec(junk: bytes, name: str, at: int) -> None:
    data = SPECS[name].encode()
    at = min(at, len(data))
    spliced = data[:at] + junk + data[at:]
    try:
        text = decode_source(spliced, "spliced.geo")
    except GeoError as err:
        assert_explained(err, spliced.decode("utf-8", errors="replace"))
        return
    check_parse(text)


# --- mutations -------------------------------------------------------------------------------


def edit(text: str, kind: int, at: int, other: int, piece: str) -> str:
    """One edit of the text at character positions ``at`` and ``other``."""
    at, other = sorted((at % (len(text) + 1), other % (len(text) + 1)))
    if kind == 0:
        return text[:at] + text[other:]  # delete a range
    if kind == 1:
        return text[:other] + text[at:other] + text[other:]  # duplicate a range
    if kind == 2:
        return text[:at] + piece + text[at:]  # insert a piece
    if kind == 3 and other < len(text):
        chars = list(text)
        chars[at], chars[other] = chars[other], chars[at]  # swap two characters
        return "".join(chars)
    return text[:at]  # truncate


EDITS = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.integers(0, 4000),
        st.integers(0, 4000),
        st.sampled_from(TOKENS) | st.characters(),
    ),
    min_size=1,
    max_size=4,
)


def mutate(text: str, edits: list[tuple[int, int, int, str]]) -> str:
    for kind, at, other, piece in edits:
        text = edit(text, kind, at, other, piece)
    return text


def token_edit(tokens: list[str], kind: int, at: int, other: int, piece: str) -> list[str]:
    """The same edits on whole tokens: drop, duplicate, swap, insert."""
    if not tokens:
        return [piece]
    at, other = at % len(tokens), other % len(tokens)
    out = list(tokens)
    if kind == 0:
        del out[at]
    elif kind == 1:
        out.insert(at, out[at])
    elif kind == 2:
        out.insert(at, piece)
    elif kind == 3:
        out[at], out[other] = out[other], out[at]
    else:
        out = out[:at]
    return out


def split_tokens(text: str) -> list[str]:
    """Rough .geo tokens with the blanks between them kept, so joining restores the text."""
    import re

    return re.findall(r"\s+|#[^\n]*|\"[^\"\n]*\"|\w+|->|.", text)


@SLOW
@given(st.sampled_from(SPEC_NAMES), EDITS)
def test_character_mutations_of_specs(name: str, edits: list[tuple[int, int, int, str]]) -> None:
    check_parse(mutate(SPECS[name], edits))


@SLOW
@given(st.sampled_from(SPEC_NAMES), EDITS)
def test_token_mutations_of_specs(name: str, edits: list[tuple[int, int, int, str]]) -> None:
    tokens = split_tokens(SPECS[name])
    for kind, at, other, piece in edits:
        tokens = token_edit(tokens, kind, at, other, piece)
    check_parse("".join(tokens))


@SLOW
@given(st.sampled_from(SPEC_NAMES), st.integers(0, 4000))
def test_truncated_specs(name: str, at: int) -> None:
    text = SPECS[name]
    check_parse(text[: at % (len(text) + 1)])


@SLOW
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the strategy's own repr
@given(strategies.sources(), EDITS)
def test_mutations_of_random_programs(
    generated: tuple[ast.Module, str], edits: list[tuple[int, int, int, str]]
) -> None:
    _, text = generated
    check_parse(mutate(text, edits))
