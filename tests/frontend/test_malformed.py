"""The malformed-input corpus: every file in ``tests/malformed/`` fails with its expected code,
at its expected place, with a complete rendered diagnostic; never with another exception.

Inputs too large to commit (deep nesting, huge files) are generated here into ``tmp_path``.
"""

from __future__ import annotations

import random
import re
import time
from importlib import resources
from pathlib import Path

import paths
import pytest

from geoc.diagnostics import (
    CODES,
    DEFAULT_MAX_ERRORS,
    MAX_EXCERPT_WIDTH,
    TAB_WIDTH,
    Diagnostic,
    GeoError,
    render,
)
from geoc.grammar import errors
from geoc.grammar.parser import MAX_SOURCE_BYTES, _lark, decode_source, parse, parse_file

CORPUS = paths.MALFORMED

# file -> (code, line, col) of the first diagnostic's primary span; no span for whole-file codes.
EXPECTED: dict[str, tuple[str, int | None, int | None]] = {
    "01_unclosed_brace.geo": ("GEO103", 2, 11),
    "02_unclosed_call_across_lines.geo": ("GEO103", 4, 15),
    "03_unclosed_list.geo": ("GEO104", 4, 37),
    "04_unmatched_paren.geo": ("GEO104", 4, 41),
    "05_unmatched_brace.geo": ("GEO104", 4, 1),
    "06_mismatched_paren_bracket.geo": ("GEO104", 4, 40),
    "07_multiplicity_without_atom.geo": ("GEO105", 3, 18),
    "08_over_without_axis.geo": ("GEO105", 3, 30),
    "09_input_without_type.geo": ("GEO105", 3, 13),
    "10_unterminated_string.geo": ("GEO102", 1, 8),
    "11_dangling_plus.geo": ("GEO106", 4, 11),
    "12_dangling_star.geo": ("GEO106", 4, 11),
    "13_dangling_minus.geo": ("GEO106", 4, 11),
    "14_equals_without_value.geo": ("GEO106", 4, 8),
    "15_missing_comma_between_arguments.geo": ("GEO100", 4, 18),
    "16_positional_after_keyword.geo": ("GEO115", 4, 26),
    "17_duplicate_keyword.geo": ("GEO114", 4, 35),
    "18_duplicate_parameter.geo": ("GEO114", 1, 43),
    "19_input_inside_repeat.geo": ("GEO116", 4, 9),
    "20_input_inside_block.geo": ("GEO116", 2, 5),
    "21_return_in_model.geo": ("GEO116", 4, 5),
    "22_keyword_as_name.geo": ("GEO100", 3, 5),
    "23_statement_at_top_level.geo": ("GEO100", 2, 1),
    "24_crlf_error_on_line_3.geo": ("GEO100", 3, 18),
    "25_tabs_before_error.geo": ("GEO100", 3, 15),
    "26_bom_then_error.geo": ("GEO100", 1, 11),
    "27_bom_in_the_middle.geo": ("GEO101", 3, 9),
    "28_empty.geo": ("GEO111", None, None),
    "29_comments_and_blank_lines_only.geo": ("GEO111", None, None),
    "30_binary_garbage.bin": ("GEO110", 1, 25),
    "31_nul_and_control_characters.geo": ("GEO101", 3, 10),
    "32_dollar.geo": ("GEO101", 3, 9),
    "33_at_sign.geo": ("GEO101", 4, 11),
    "34_single_quotes.geo": ("GEO101", 1, 8),
    "35_number_with_two_dots.geo": ("GEO101", 1, 25),
    "36_unicode_identifier.geo": ("GEO101", 4, 6),
    "37_arrow_without_return_type.geo": ("GEO105", 1, 32),
    "38_model_without_name.geo": ("GEO100", 1, 7),
    "39_repeat_without_body.geo": ("GEO100", 4, 17),
    "40_unclosed_call_at_end_of_file.geo": ("GEO103", 4, 35),
    "41_missing_brace_before_next_model.geo": ("GEO103", 1, 11),
    "42_symmetry_missing_x.geo": ("GEO100", 2, 19),
    "43_output_without_value.geo": ("GEO100", 4, 21),
    "44_misspelt_model.geo": ("GEO100", 1, 1),
    "45_latin1_comment.bin": ("GEO110", 1, 5),
    "46_bare_carriage_returns.geo": ("GEO101", 1, 12),
    "47_double_equals.geo": ("GEO106", 4, 8),
    "48_brackets_nested_too_deep.geo": ("GEO108", 2, 72),
    "49_parameters_without_parentheses.geo": ("GEO100", 1, 9),
    "50_symmetry_without_group.geo": ("GEO100", 2, 13),
    "51_multiplication_sign.geo": ("GEO101", 3, 17),
    "52_misspelt_statement_keyword.geo": ("GEO100", 3, 11),
    "53_block_missing_arrow_or_body.geo": ("GEO100", 1, 29),
    "54_stray_token_after_model.geo": ("GEO100", 3, 3),
    "55_missing_comma_before_over.geo": ("GEO100", 4, 15),
    "56_import_inside_model.geo": ("GEO100", 2, 5),
}

# Lark's internal names for terminals: a message showing one leaks the parser's vocabulary.
TERMINAL_NAME = re.compile(
    r"\$END|\b(?:_NL|__ANON\w*|__IGNORE\w*|LPAR|RPAR|LSQB|RSQB|LBRACE|RBRACE|COMMA|COLON|"
    r"SEMICOLON|EQUAL|ARROW|PLUS|MINUS|STAR|NAME|INT|FLOAT|STRING|IRREP|MUL_IRREP|OVER)\b"
)
# Placeholders in examples that happen to spell a terminal name (GEO111's help, parser.py).
PLACEHOLDERS = ("`model NAME() { ... }`",)
VAGUE = ("something else", "a token", "check the syntax")


# About 2 s alone on one core; a quadratic pass would take minutes. The margin is wide so that
# a loaded machine (parallel jobs) never turns this red.
NOT_QUADRATIC_SECONDS = 20.0


def corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".geo", ".bin"))


def first_error(path: Path) -> GeoError:
    with pytest.raises(GeoError) as info:  # any other exception fails the test as an error
        parse_file(path)
    return info.value


def corpus_text(path: Path) -> str:
    """The text the diagnostics quote: decoded like the parser, undecodable bytes replaced."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")


def source_line(text: str, line: int) -> str:
    """Line ``line`` as the lexer counts lines (only `\\n` ends one), without its line break."""
    raw = text.split("\n")[line - 1]
    return raw[:-1] if raw.endswith("\r") else raw


def display_col(raw: str, col: int) -> int:
    return len(raw[: col - 1].expandtabs(TAB_WIDTH)) + 1


def assert_rendered(diag: Diagnostic, rendered: str, text: str) -> None:
    """Header, location, the source line, carets under the span's columns, and help."""
    assert rendered.startswith(f"error[{diag.code}]: {diag.message}"), rendered
    assert "= help: " in rendered, rendered
    if diag.span is None:
        return
    span = diag.span
    assert f" --> {span.file}:{span.line}:{span.col}" in rendered, rendered
    lines = rendered.splitlines()
    raw = source_line(text, span.line)
    shown = [i for i, row in enumerate(lines) if row.startswith(f"{span.line} | ")]
    assert shown, rendered
    if len(_visible(raw)) > MAX_EXCERPT_WIDTH:  # a long line is shown as a window: the caret
        _assert_windowed(lines[shown[0]], lines[shown[0] + 1], raw[span.col - 1])  # stays on it
        return
    assert lines[shown[0]].split(" | ", 1)[1] == _visible(raw), rendered
    caret_row = lines[shown[0] + 1].split(" | ", 1)[1]
    start = display_col(raw, span.col)
    end_col = span.end_col if span.end_line == span.line else len(raw) + 1
    width = max(display_col(raw, end_col) - start, 1)
    assert caret_row.startswith(" " * (start - 1) + "^" * width), rendered
    assert caret_row[start - 1 + width : start + width] in ("", " "), rendered


def _assert_windowed(source_row: str, caret_row: str, first_char: str) -> None:
    shown, carets = source_row.split(" | ", 1)[1], caret_row.split(" | ", 1)[1]
    assert "…" in shown and len(shown) <= MAX_EXCERPT_WIDTH + 2
    assert shown[carets.index("^")] == first_char


def _visible(raw: str) -> str:
    expanded = raw.expandtabs(TAB_WIDTH)
    return "".join(c if c.isprintable() or c == " " else "\ufffd" for c in expanded)


def assert_user_words(diag: Diagnostic, source: str = "") -> None:
    """No parser vocabulary and no vague fallbacks; quoting the user's own text is fine."""
    for text in (diag.message, diag.label, diag.help, *diag.notes):
        for placeholder in PLACEHOLDERS:
            text = text.replace(placeholder, "")
        text = QUOTED.sub(lambda m: "" if m.group(1) in source else m.group(0), text)
        assert not TERMINAL_NAME.search(text), f"{diag.code}: {text!r}"
        assert not any(v in text for v in VAGUE), f"{diag.code}: {text!r}"


QUOTED = re.compile(r"`([^`]+)`")


# --- the corpus ------------------------------------------------------------------------------


def test_every_corpus_file_has_an_expectation() -> None:
    assert corpus_files() == sorted(EXPECTED)
    assert len(EXPECTED) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    path = CORPUS / name
    err = first_error(path)
    diag = err.diagnostics[0]
    code, line, col = EXPECTED[name]
    assert diag.code == code, err.render()
    where = (diag.span.line, diag.span.col) if diag.span else (None, None)
    assert where == (line, col), err.render()
    assert all(d.code in CODES for d in err.diagnostics)
    for d in err.diagnostics:
        assert_rendered(d, render(d, err.sources), corpus_text(path))
        assert_user_words(d, corpus_text(path))


def test_crlf_file_really_has_crlf() -> None:
    """Guards against a checkout that rewrites line endings (see malformed/.gitattributes)."""
    data = (CORPUS / "24_crlf_error_on_line_3.geo").read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") > 2


def test_tab_corpus_file_has_tabs_before_the_error() -> None:
    raw = source_line(corpus_text(CORPUS / "25_tabs_before_error.geo"), 3)
    assert raw.count("\t") >= 2 and display_col(raw, 15) > 15


def test_bom_is_stripped_without_shifting_columns() -> None:
    assert (CORPUS / "26_bom_then_error.geo").read_bytes().startswith(b"\xef\xbb\xbf")
    err = first_error(CORPUS / "26_bom_then_error.geo")
    assert "\ufeff" not in err.render()


# --- generated inputs ------------------------------------------------------------------------


def timed_error(text: str, file: str = "gen.geo") -> tuple[GeoError, float]:
    start = time.perf_counter()
    with pytest.raises(GeoError) as info:
        parse(text, file)
    return info.value, time.perf_counter() - start


def test_ten_thousand_nested_parentheses_are_rejected_fast() -> None:
    text = "model M() {\n    x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n}\n"
    err, seconds = timed_error(text)
    assert err.codes == ["GEO108"]
    assert seconds < 1.0
    assert_rendered(err.diagnostics[0], err.render(), text)


def test_ten_thousand_nested_lists_are_rejected_fast() -> None:
    text = "model M() {\n    x = " + "[" * 10_000 + "]" * 10_000 + "\n}\n"
    err, seconds = timed_error(text)
    assert err.codes == ["GEO108"] and seconds < 1.0


@pytest.mark.slow
def test_long_addition_chain_is_too_deep() -> None:
    text = "model M() {\n    x = " + " + ".join(["a"] * 200_000) + "\n}\n"
    err, _ = timed_error(text)
    assert err.codes == ["GEO108"]
    assert err.diagnostics[0].span.line == 2


def test_deep_unary_minus_is_too_deep() -> None:
    text = "model M() {\n    x = " + "-" * 5_000 + "a\n}\n"
    err, _ = timed_error(text)
    assert err.codes == ["GEO108"]


def one_megabyte_spec(statements: int) -> str:
    """A spec with `statements` valid lines, each under a long comment, then a missing comma."""
    comment = "    # " + "the quick brown fox jumps over the lazy dog; " * 8 + "\n"
    lines = ["model Big(hidden: int = 64) {\n", "    symmetry E(3) x S(nodes)\n"]
    lines.append("    input h0: hidden x scalar over nodes\n")
    for i in range(1, statements + 1):
        lines += [comment, f"    h{i} = act(linear(h{i - 1}, hidden x scalar) + h{i - 1}, silu)\n"]
    lines.append(f"    output y: scalar = sum(h{statements} over=nodes)\n}}\n")
    return "".join(lines)


def test_one_megabyte_file_points_at_the_last_line(tmp_path: Path) -> None:
    text = one_megabyte_spec(2_600)
    assert len(text.encode()) >= 1_000_000
    path = tmp_path / "big.geo"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    err = first_error(path)
    seconds = time.perf_counter() - start
    assert err.codes == ["GEO100"]
    assert err.diagnostics[0].span.line == text.count("\n") - 1
    assert_rendered(err.diagnostics[0], err.render(), text)
    assert seconds < NOT_QUADRATIC_SECONDS, f"parsing 1 MB took {seconds:.2f} s"


def test_many_structural_problems_are_summarised_quickly() -> None:
    params = ", ".join(f"p{i % 500}: int" for i in range(20_000))
    body = "\n".join(f"    input x{i}: scalar" for i in range(500))
    text = f"model M({params}) {{\n    symmetry trivial\n}}\nblock b() -> T {{\n{body}\n}}\n"
    err, seconds = timed_error(text)
    # 500 repeated parameters (line 1) come before the 500 misplaced inputs of the block
    assert err.codes == ["GEO114"] * 500 + ["GEO116"] * 500
    shown = DEFAULT_MAX_ERRORS
    assert err.render().count("error[GEO114]") == shown
    assert f"... and {1000 - shown} more errors" in err.render()
    assert seconds < NOT_QUADRATIC_SECONDS


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.geo"
    chunk = b"# padding padding padding padding padding padding padding padding\n"
    with path.open("wb") as handle:
        for _ in range(MAX_SOURCE_BYTES // len(chunk) + 2):
            handle.write(chunk)
    err = first_error(path)
    assert err.codes == ["GEO112"]
    assert "8 MiB" in err.render() and "= help:" in err.render()


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert first_error(tmp_path / "absent.geo").codes == ["GEO113"]
    assert first_error(tmp_path).codes == ["GEO113"]


def test_random_bytes_are_not_utf8() -> None:
    data = bytes(random.Random(7).randrange(128, 256) for _ in range(512))
    with pytest.raises(GeoError) as info:
        decode_source(data, "noise.bin")
    assert info.value.codes == ["GEO110"]
    assert info.value.diagnostics[0].span.line == 1


# --- messages in the user's words ------------------------------------------------------------


def parser_terminals() -> set[str]:
    """Every terminal some parser state can expect (what an error message may have to name)."""
    state = _lark().parse_interactive("", start="start").parser_state
    table = state.parse_conf.parse_table.states
    return {name for actions in table.values() for name in actions if name.isupper()}


def test_every_terminal_reads_in_user_words() -> None:
    names = parser_terminals()
    assert {"RPAR", "_NL", "$END", "NAME"} <= names
    for name in names:
        phrase = errors.describe_expected({name})
        assert not TERMINAL_NAME.search(phrase), (name, phrase)
        assert not any(v in phrase for v in VAGUE), (name, phrase)


def spec_text(name: str) -> str:
    return resources.files("geoc.specs").joinpath(f"{name}.geo").read_text(encoding="utf-8")


def truncation_diagnostics(text: str) -> list[tuple[int, Diagnostic]]:
    found = []
    for end in range(len(text)):
        try:
            parse(text[:end], "cut.geo")
        except GeoError as err:
            found.extend((end, d) for d in err.diagnostics)
    return found


def test_every_truncation_of_egnn_explains_itself() -> None:
    text = spec_text("egnn")
    for end, diag in truncation_diagnostics(text):
        assert diag.code in CODES and diag.code.startswith("GEO1"), (end, diag)
        assert_user_words(diag, text[:end])
        assert diag.help, (end, diag)
        if diag.span is not None:  # the caret stays inside what was read
            assert diag.span.line <= text[:end].count("\n") + 1, (end, diag)


def test_truncated_headers_say_what_comes_next() -> None:
    cases = {
        "model": "expected a name for the model",
        "model M": "expected `(` after the model's name",
        "model M()": "expected `{` to open the model's body",
        "block f(x)": "expected `->` or `{`",
        "block f(x) ->": "expected a return type after `->`",
        "block f(x) -> T": "expected `{` to open the block's body",
        "import": "expected",
    }
    for text, words in cases.items():
        with pytest.raises(GeoError) as info:
            parse(text)
        assert words in info.value.diagnostics[0].message, (text, info.value.render())
        assert_user_words(info.value.diagnostics[0], text)
