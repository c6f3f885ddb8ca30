"""Front-end speed: parse a realistic ~5,000-line spec (text to AST, diagnostics checked).

    python bench/parse_speed.py            # best and median of 7 parses

The spec is the built-in library repeated with renamed models and blocks, comments and blank
lines kept, so it reads like a large hand-written file. Target: the best parse under 1 s;
exits 1 if it is missed.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from importlib import resources

from geoc.grammar.lexer import Lexer
from geoc.grammar.parser import _token_table, parse

TARGET_LINES = 5_000
TARGET_SECONDS = 1.0
REPEATS = 7
SPECS = ("egnn", "deepsets", "nequip", "sfno", "lorentz_mlp")


def renamed(text: str, copy: int) -> str:
    """One copy of a spec with every model and block name made unique (and its uses)."""
    for name in re.findall(r"^(?:model|block)\s+(\w+)", text, flags=re.MULTILINE):
        text = re.sub(rf"\b{name}\b", f"{name}_{copy}", text)
    return text


def large_spec(lines: int = TARGET_LINES) -> str:
    library = [
        resources.files("geoc.specs").joinpath(f"{name}.geo").read_text(encoding="utf-8")
        for name in SPECS
    ]
    parts: list[str] = []
    copy = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.extend(renamed(text, copy) + "\n" for text in library)
        copy += 1
    return "".join(parts)


def count_tokens(text: str) -> int:
    return sum(1 for _ in Lexer("bench.geo", text, _token_table()).tokens())


def measure(text: str) -> list[float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        parse(text, "bench.geo")
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parse("model Warm() {}")  # grammar tables are built once per process
    text = large_spec()
    tokens = count_tokens(text)
    times = measure(text)
    best, median = min(times), statistics.median(times)
    print(f"lines      {text.count(chr(10)):>10,}")
    print(f"bytes      {len(text.encode()):>10,}")
    print(f"tokens     {tokens:>10,}")
    print(f"tokens/s   {tokens / best:>10,.0f}   (best parse)")
    print(f"best       {best * 1e3:>10.1f} ms")
    print(f"median     {median * 1e3:>10.1f} ms")
    verdict = "ok" if best < TARGET_SECONDS else "MISSED"
    print(f"target     {TARGET_SECONDS * 1e3:>10.0f} ms   {verdict}")
    return 0 if best < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
