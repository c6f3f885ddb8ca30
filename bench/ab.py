"""Compare two checkouts of geoc on one benchmark, in alternating rounds.

    python bench/ab.py --base ../base --head . --rounds 4 -- bench/compile_latency.py
    python bench/ab.py --base ../base --head . --anchor neuralop torch-harmonics -- \
        bench/spectral.py --rounds 5 --threads 1

Each round runs the benchmark once in each checkout (``<checkout>/.venv/bin/python``, from the
checkout's root, the order swapped every round so slow drift hits both alike), with ``--json``
added. The benchmark must write ``{"rows": [{"case" | "config", "impl", "median_ms"}, ...]}``.
The table gives, per row, the median over rounds of each checkout's median and head/base:
a refactor that claims to change no kernel should stay within a few percent. Load from other
processes moves whole runs; ``--anchor IMPL...`` divides each row by the anchor's row of the
same case in the same run (the first of the named anchors that the case has, e.g. the
reference library's), and adds head/base of those ratios, which that load cancels out of.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run_once(checkout: Path, command: list[str], anchors: list[str]) -> dict[str, float]:
    """One benchmark run in ``checkout``: its rows' medians (ms) by ``case / impl``, and each
    row's ratio to its case's anchor (by ``case / impl / anchor``) where ``anchors`` name one."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        python = checkout / ".venv" / "bin" / "python"
        subprocess.run(
            [str(python), *command, "--json", str(out)],
            cwd=checkout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rows = json.loads(out.read_text())["rows"]
    medians = {(r.get("case") or r.get("config"), r["impl"]): r["median_ms"] for r in rows}
    found = {f"{case} / {impl}": ms for (case, impl), ms in medians.items()}
    for (case, impl), ms in medians.items():
        anchor = next((a for a in anchors if (case, a) in medians), None)
        if anchor is not None and anchor != impl:
            found[f"{case} / {impl} / {anchor}"] = ms / medians[case, anchor]
    return found


def compare(
    base: Path, head: Path, command: list[str], rounds: int, anchors: list[str]
) -> dict[str, dict]:
    """Per row, the list of medians (ms) of each checkout over the rounds."""
    times: dict[str, dict[str, list[float]]] = {}
    for index in range(rounds):
        order = [("base", base), ("head", head)]
        for side, checkout in order if index % 2 == 0 else reversed(order):
            for row, median in run_once(checkout, command, anchors).items():
                times.setdefault(row, {"base": [], "head": []})[side].append(median)
        print(f"round {index + 1}/{rounds} done", file=sys.stderr)
    return times


def print_table(times: dict[str, dict[str, list[float]]]) -> None:
    print(f"{'row (ms, or ratio to the anchor)':<56}{'base':>10}{'head':>10}{'head/base':>11}")
    for row, sides in times.items():
        if not sides["base"] or not sides["head"]:
            continue  # a row only one checkout has
        base, head = statistics.median(sides["base"]), statistics.median(sides["head"])
        print(f"{row:<56}{base:>10.3f}{head:>10.3f}{head / base:>10.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--head", type=Path, default=Path("."), help="the checkout under test")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--anchor", nargs="*", default=[], help="reference rows, by impl")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- script [its options]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark after --, e.g. -- bench/compile_latency.py")
    anchors = " ".join(["--anchor", *args.anchor]) + " " if args.anchor else ""
    print(f"python bench/ab.py --base {args.base} --head {args.head} --rounds {args.rounds} "
          f"{anchors}-- " + " ".join(command))  # fmt: skip
    base, head = args.base.resolve(), args.head.resolve()
    print_table(compare(base, head, command, args.rounds, args.anchor))


if __name__ == "__main__":
    main()
