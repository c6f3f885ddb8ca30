"""`geoc compile` / `geoc check` on a spec with several problems: all of them on stderr in
source order, at most `--max-errors`, a line counting the rest, exit code 1, no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from geoc import cli
from geoc.diagnostics import DEFAULT_MAX_ERRORS

# An equivariance violation (line 6), an unknown name (7), a typing error (9), and a use of
# the failed `b` (10) that must not add a fourth.
SPEC = """model Three() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    a = act(v, relu)
    b = norm(v) + nosuch
    c = linear(norm(v), 4 x scalar)
    d = c + v
    output y: 4 x scalar over nodes = mlp(b, [4])
}
"""
LOCATIONS = ["6:13", "7:19", "9:13"]
CODES = ["GEO402", "GEO200", "GEO307"]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "three.geo"
    path.write_text(SPEC, encoding="utf-8")
    return path


def reported(err: str, spec: Path) -> list[tuple[str, str]]:
    codes = re.findall(r"^error\[(GEO\d+)\]", err, flags=re.MULTILINE)
    where = re.findall(rf"--> {re.escape(str(spec))}:(\d+:\d+)", err)
    return list(zip(codes, where, strict=True))


@pytest.mark.parametrize("argv", [["check", "--static"], ["compile"], ["compile", "--emit", "ir"]])
def test_every_problem_in_source_order_and_exit_1(capsys, spec, argv):
    code = cli.main([*argv, str(spec)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert reported(err, spec) == list(zip(CODES, LOCATIONS, strict=True))
    assert "more error" not in err


def test_max_errors_shows_the_first_and_counts_the_rest(capsys, spec):
    code = cli.main(["check", "--static", "--max-errors", "1", str(spec)])
    _, err = capsys.readouterr()
    assert code == 1
    assert reported(err, spec) == [(CODES[0], LOCATIONS[0])]
    assert err.endswith("\n... and 2 more errors (use --max-errors to see them)\n")


def test_max_errors_zero_shows_all(capsys, tmp_path):
    body = "".join(f"    a{i} = v + missing{i}\n" for i in range(DEFAULT_MAX_ERRORS + 3))
    path = tmp_path / "many.geo"
    path.write_text(SPEC.replace("    a = act(v, relu)\n", body), encoding="utf-8")
    assert cli.main(["check", "--static", str(path)]) == 1
    _, default = capsys.readouterr()
    assert default.count("error[GEO") == DEFAULT_MAX_ERRORS
    assert default.endswith("... and 5 more errors (use --max-errors to see them)\n")
    assert cli.main(["compile", "--max-errors", "0", str(path)]) == 1
    _, every = capsys.readouterr()
    assert every.count("error[GEO") == DEFAULT_MAX_ERRORS + 5 and "more error" not in every


@pytest.mark.parametrize("value", ["-1", "many"])
def test_max_errors_must_be_a_count(capsys, spec, value):
    code = cli.main(["check", f"--max-errors={value}", str(spec)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error[GEO191]") and "--max-errors" in err


def test_process_exit_1_renders_in_order_without_traceback(spec):
    proc = subprocess.run(
        [sys.executable, "-m", "geoc", "check", "--max-errors", "2", str(spec)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 1
    assert reported(proc.stderr, spec) == list(zip(CODES[:2], LOCATIONS[:2], strict=True))
    assert proc.stderr.endswith("... and 1 more error (use --max-errors to see them)\n")
    assert "Traceback" not in proc.stderr + proc.stdout
