"""Compare two checkouts of geoc on one benchmark, in alternating rounds.

    python bench/ab.py --base ../base --head . --rounds 4 -- bench/compile_latency.py
    python bench/ab.py --base ../base --head . -- bench/spectral.py --rounds 5 --threads 1

Each round runs the benchmark once in each checkout (``<checkout>/.venv/bin/python``, from the
checkout's root, the order swapped every round so slow drift hits both alike), with ``--json``
added. The benchmark must write ``{"rows": [{"case" | "config", "impl", "median_ms"}, ...]}``.
The table gives, per row, the median over rounds of each checkout's median and head/base:
a refactor that claims to change no kernel should stay within a few percent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run_once(checkout: Path, command: list[str]) -> dict[str, float]:
    """One benchmark run in ``checkout``: its rows' medians (ms) by ``case / impl``."""
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
    return {f"{r.get('case') or r.get('config')} / {r['impl']}": r["median_ms"] for r in rows}


def compare(base: Path, head: Path, command: list[str], rounds: int) -> dict[str, dict]:
    """Per row, the list of medians (ms) of each checkout over the rounds."""
    times: dict[str, dict[str, list[float]]] = {}
    for index in range(rounds):
        order = [("base", base), ("head", head)]
        for side, checkout in order if index % 2 == 0 else reversed(order):
            for row, median in run_once(checkout, command).items():
                times.setdefault(row, {"base": [], "head": []})[side].append(median)
        print(f"round {index + 1}/{rounds} done", file=sys.stderr)
    return times


def print_table(times: dict[str, dict[str, list[float]]]) -> None:
    print(f"{'row':<48}{'base ms':>10}{'head ms':>10}{'head/base':>11}")
    for row, sides in times.items():
        if not sides["base"] or not sides["head"]:
            continue  # a row only one checkout has
        base, head = statistics.median(sides["base"]), statistics.median(sides["head"])
        print(f"{row:<48}{base:>10.2f}{head:>10.2f}{head / base:>10.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--head", type=Path, default=Path("."), help="the checkout under test")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- script [its options]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark after --, e.g. -- bench/compile_latency.py")
    print(f"python bench/ab.py --base {args.base} --head {args.head} --rounds {args.rounds} -- "
          + " ".join(command))  # fmt: skip
    print_table(compare(args.base.resolve(), args.head.resolve(), command, args.rounds))


if __name__ == "__main__":
    main()
