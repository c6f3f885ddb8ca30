"""Positions between geoc's spans (1-based, code points) and LSP's (0-based, UTF-16 units):
characters outside the BMP, tabs, a last line without a newline, a byte order mark; the
incremental edits built on them; the framing; and an internal error shown as GEO631."""

from __future__ import annotations

import io

import pytest

from geoc.diagnostics import GeoError
from geoc.grammar.parser import parse
from geoc.lsp import analysis as analysis_module
from geoc.lsp.analysis import Document, analyse, path_of
from geoc.lsp.positions import Lines, utf16_length
from geoc.lsp.protocol import PARSE_ERROR, FdReader, ProtocolError, frame, read_message
from geoc.lsp.report import lsp_diagnostics
from geoc.lsp.server import apply_change

EMOJI = "\U0001f600"  # two UTF-16 units, one code point


def test_utf16_length_counts_surrogate_pairs() -> None:
    assert utf16_length("ab") == 2
    assert utf16_length(f"a{EMOJI}b") == 4
    assert utf16_length("é\t") == 2  # in the BMP: one unit each, a tab too


def test_columns_after_a_character_outside_the_bmp() -> None:
    lines = Lines.of(f"x\na{EMOJI}b c")
    assert lines.to_lsp(2, 3) == {"line": 1, "character": 3}  # `b`: after a (1) and 😀 (2)
    assert lines.to_lsp(2, 5) == {"line": 1, "character": 5}
    assert lines.to_geoc({"line": 1, "character": 3}) == (2, 3)
    assert lines.to_geoc({"line": 1, "character": 2}) == (2, 2)  # inside the pair: its start


def test_a_tab_is_one_column_and_one_unit() -> None:
    lines = Lines.of("\tinput x")
    assert lines.to_lsp(1, 2) == {"line": 0, "character": 1}
    assert lines.to_geoc({"line": 0, "character": 7}) == (1, 8)


def test_the_last_line_without_a_newline() -> None:
    assert Lines.of("ab\ncd").end() == {"line": 1, "character": 2}
    assert Lines.of("ab\ncd\n").end() == {"line": 2, "character": 0}
    lines = Lines.of("ab\ncd")
    assert lines.to_lsp(9, 1) == {"line": 1, "character": 2}  # past the end: clamped
    assert lines.offset({"line": 1, "character": 2}) == 5
    assert lines.offset({"line": 7, "character": 0}) == 5
    assert lines.to_geoc({"line": 1, "character": 99}) == (2, 3)


def test_a_byte_order_mark_shifts_line_one() -> None:
    text = "\ufeffmodel M() {}\nx"
    lines = Lines.of(text)
    assert lines.to_lsp(1, 1) == {"line": 0, "character": 1}
    assert lines.to_lsp(2, 1) == {"line": 1, "character": 0}
    assert lines.to_geoc({"line": 0, "character": 1}) == (1, 1)
    assert text[lines.offset({"line": 0, "character": 1})] == "m"


def test_a_real_span_after_a_tab_and_an_emoji_on_its_line() -> None:
    text = f'model M() {{ symmetry trivial }}\n\timport "{EMOJI}.geo" ?\n'
    with pytest.raises(GeoError) as caught:
        parse(text, "t.geo")
    span = caught.value.diagnostics[0].span
    line = text.split("\n")[1]
    assert span is not None and (span.line, span.col) == (2, line.index("?") + 1)
    start = Lines.of(text).range(span)["start"]
    assert start == {"line": 1, "character": line.index("?") + 1}  # the emoji counts twice


def test_incremental_changes_in_utf16() -> None:
    text = f"a{EMOJI}b\ncd"
    change = {"range": {"start": {"line": 0, "character": 3}, "end": {"line": 1, "character": 1}}}
    assert apply_change(text, {**change, "text": "X"}) == f"a{EMOJI}Xd"
    assert apply_change(text, {"text": "whole"}) == "whole"
    insert = {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 2}}
    assert apply_change(text, {"range": insert, "text": "!"}) == f"a{EMOJI}b\ncd!"


def test_framing_round_trip_and_a_body_that_is_not_json() -> None:
    stream = io.BytesIO(frame({"jsonrpc": "2.0", "method": "m"}) + b"Content-Length: 3\r\n\r\n{x}")
    assert read_message(stream) == {"jsonrpc": "2.0", "method": "m"}
    with pytest.raises(ProtocolError) as caught:
        read_message(stream)
    assert caught.value.code == PARSE_ERROR and not caught.value.fatal
    assert read_message(stream) is None


def test_fd_reader_reads_lines_and_exact_sizes(tmp_path) -> None:
    path = tmp_path / "bytes"
    path.write_bytes(frame({"id": 1, "text": "é" * 40_000}) * 2)
    with open(path, "rb") as handle:
        reader = FdReader(handle.fileno())
        assert read_message(reader) == read_message(reader) == {"id": 1, "text": "é" * 40_000}
        assert read_message(reader) is None


def test_file_uris_become_paths(tmp_path) -> None:
    spaced = tmp_path / "a b" / "m.geo"
    assert path_of(spaced.as_uri()) == spaced
    assert path_of("untitled:Untitled-1") is None
    assert Document.of("untitled:Untitled-1").file == "untitled:Untitled-1"


def test_an_internal_error_while_checking_is_geo631(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(analysis_module, "load_program", broken)
    doc = Document.of("untitled:x")
    result = analyse(doc, "model M() { symmetry trivial }")
    (diag,) = lsp_diagnostics(result, doc)
    assert diag["code"] == "GEO631" and "ZeroDivisionError: a bug" in diag["message"]
