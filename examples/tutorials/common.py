"""What every tutorial script shares: its command line, one thread, and its report file.

Each tutorial (``examples/tutorials/<name>.py``) runs a meaningful experiment by default (a few
minutes on one CPU thread) and a smoke-sized one with ``--quick`` (seconds, run by
``tests/project/test_tutorials.py``). Both print what they measured and write it to
``<out>/report.json``, which the test and the pages (``docs/tutorials/``) read.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def arguments(name: str, doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    """``--quick``, ``--seed``, ``--threads`` (default 1) and ``--out`` (default
    ``examples/out/tutorials/<name>``); sets torch's thread count and seed."""
    import torch

    parser = argparse.ArgumentParser(description=(doc or name).strip().split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds (CI)")
    parser.add_argument("--seed", type=int, default=0, help="data, weights and batch order")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=HERE.parent / "out" / "tutorials" / name)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    return args


def write_report(args: argparse.Namespace, report: dict[str, Any]) -> Path:
    """``report`` plus the wall time and settings, as ``<out>/report.json`` (atomically)."""
    report = {**report, "quick": args.quick, "seed": args.seed, "threads": args.threads}
    report["wall_seconds"] = round(time.perf_counter() - args.started, 2)
    path = args.out / "report.json"
    partial = path.with_name(".report.json.partial")
    partial.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    print(f"report: {path} ({report['wall_seconds']:.1f} s)")
    return path


def savefig(figure: Any, path: Path) -> Path:
    """Write a matplotlib figure to ``path`` and close it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
