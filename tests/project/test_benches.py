"""The whole-model benches run end to end in their smoke mode (``--quick``): their equality or
equivariance checks pass and they write their JSON rows. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
@pytest.mark.parametrize("script", ["egnn.py", "nequip.py", "escn.py", "lsp_latency.py"])
def test_quick_run_writes_its_rows(script: str, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    command = [sys.executable, str(BENCH / script), "--quick", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert rows and all({"case", "impl", "median_ms"} <= row.keys() for row in rows)
    assert all(row["median_ms"] > 0 for row in rows)
