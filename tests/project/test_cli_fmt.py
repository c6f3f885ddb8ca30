"""`geoc fmt`: rewriting .geo files in the canonical layout, in place, by diff, or as a filter;
atomic writes, symlinks, hidden folders, and no tracebacks."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import paths
import pytest
from cli_runner import run, run_process

from geoc import catalog

SPEC_DIR = paths.SPECS
SPEC_NAMES = sorted(p.stem for p in SPEC_DIR.glob("*.geo"))
MESSY = "model M(  features:int=4 ) {\n symmetry   trivial\n  input x :features x scalar\n}\n"
BROKEN = "model M( {\n"


@pytest.fixture
def format_source():
    formatter = pytest.importorskip("geoc.grammar.formatter")
    return formatter.format_source


@pytest.fixture
def canonical(format_source) -> str:
    text = format_source(MESSY)
    assert text != MESSY, "MESSY must not already be canonical"
    assert format_source(text) == text
    return text


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_fmt_rewrites_and_keeps_mode(capsys, tmp_path, canonical):
    spec = tmp_path / "m.geo"
    spec.write_text(MESSY)
    spec.chmod(0o640)
    code, out, err = run(capsys, "fmt", str(spec))
    assert code == 0
    assert spec.read_text() == canonical
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640
    assert f"reformatted {spec}" in err
    assert out == ""
    assert _names(tmp_path) == {"m.geo"}


def test_fmt_leaves_canonical_file_untouched(capsys, tmp_path, canonical):
    spec = tmp_path / "m.geo"
    spec.write_text(canonical)
    before = spec.stat()
    code, _, err = run(capsys, "fmt", str(spec))
    assert code == 0
    after = spec.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "1 file unchanged" in err


def test_fmt_check(capsys, tmp_path, canonical):
    messy, clean = tmp_path / "messy.geo", tmp_path / "clean.geo"
    messy.write_text(MESSY)
    clean.write_text(canonical)
    code, out, err = run(capsys, "fmt", "--check", str(messy), str(clean))
    assert code == 1
    assert f"would reformat {messy}" in err
    assert str(clean) not in err
    assert out == ""
    assert messy.read_text() == MESSY
    code, _, _ = run(capsys, "fmt", "--check", str(clean))
    assert code == 0


def test_fmt_diff_writes_nothing(capsys, tmp_path, canonical):
    spec = tmp_path / "m.geo"
    spec.write_text(MESSY)
    code, out, _ = run(capsys, "fmt", "--diff", str(spec))
    assert code == 0
    assert out.startswith(f"--- {spec} (original)\n+++ {spec} (formatted)\n@@")
    assert spec.read_text() == MESSY
    code, _, _ = run(capsys, "fmt", "--diff", "--check", str(spec))
    assert code == 1


def test_fmt_syntax_error_leaves_file_and_goes_on(capsys, tmp_path, canonical):
    bad, good = tmp_path / "a_bad.geo", tmp_path / "b_good.geo"
    bad.write_text(BROKEN)
    good.write_text(MESSY)
    code, _, err = run(capsys, "fmt", str(bad), str(good))
    assert code == 1
    assert f"--> {bad}:1:" in err
    assert bad.read_text() == BROKEN
    assert good.read_text() == canonical
    assert _names(tmp_path) == {"a_bad.geo", "b_good.geo"}


def test_fmt_failed_write_keeps_original(capsys, tmp_path, monkeypatch, canonical):
    spec = tmp_path / "m.geo"
    spec.write_text(MESSY)

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    code, _, err = run(capsys, "fmt", str(spec))
    assert code == 1
    assert err.startswith(f"error[GEO192]: cannot write `{spec}`: Permission denied")
    assert spec.read_text() == MESSY
    assert _names(tmp_path) == {"m.geo"}


def test_fmt_missing_file(capsys, tmp_path, format_source):
    code, _, err = run(capsys, "fmt", str(tmp_path / "gone.geo"))
    assert code == 1
    assert err.startswith("error[GEO113]")


def test_fmt_stdin_to_stdout(capsys, monkeypatch, canonical):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    code, out, err = run(capsys, "fmt", "-")
    assert (code, out, err) == (0, canonical, "")


def test_fmt_stdin_check(capsys, monkeypatch, canonical):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    code, out, err = run(capsys, "fmt", "--check", "-")
    assert (code, out) == (1, "")
    assert "would reformat <stdin>" in err


def test_fmt_stdin_diff(capsys, monkeypatch, canonical):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    code, out, _ = run(capsys, "fmt", "--diff", "-")
    assert code == 0
    assert out.startswith("--- <stdin> (original)\n+++ <stdin> (formatted)\n")


def test_fmt_stdin_syntax_error(capsys, monkeypatch, format_source):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BROKEN.encode())))
    code, out, err = run(capsys, "fmt", "-")
    assert (code, out) == (1, "")
    assert "--> <stdin>:1:" in err


def test_fmt_folder_skips_hidden(capsys, tmp_path, canonical):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in ("a.geo", "sub/b.geo", ".hidden/c.geo", "notes.txt"):
        (tmp_path / rel).write_text(MESSY)
    code, _, err = run(capsys, "fmt", str(tmp_path))
    assert code == 0
    assert (tmp_path / "a.geo").read_text() == canonical
    assert (tmp_path / "sub/b.geo").read_text() == canonical
    assert (tmp_path / ".hidden/c.geo").read_text() == MESSY
    assert (tmp_path / "notes.txt").read_text() == MESSY
    assert "2 files reformatted" in err


def test_fmt_follows_symlink(capsys, tmp_path, canonical):
    target, link = tmp_path / "real.geo", tmp_path / "link.geo"
    target.write_text(MESSY)
    link.symlink_to(target.name)
    code, _, _ = run(capsys, "fmt", str(link))
    assert code == 0
    assert link.is_symlink()
    assert target.read_text() == canonical


def test_fmt_check_builtin_spec_folder(capsys, format_source):
    folder = Path(catalog.builtin_specs()[0].path).parent
    code, out, err = run(capsys, "fmt", "--check", str(folder))
    assert (code, out) == (0, ""), err
    assert err.strip() == f"{len(SPEC_NAMES)} files unchanged"


def test_process_fmt_check(tmp_path, format_source):
    spec = tmp_path / "m.geo"
    spec.write_text(MESSY)
    proc = run_process("fmt", "--check", str(spec))
    assert proc.returncode == 1
    assert f"would reformat {spec}" in proc.stderr
    assert "Traceback" not in proc.stderr
