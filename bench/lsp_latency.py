"""Language-server latency: from `didChange` to its `publishDiagnostics`, on a 100-line spec.

    python bench/lsp_latency.py                  # median of 21 edits; exits 1 past 200 ms
    python bench/lsp_latency.py --quick          # 3 edits, no target (the smoke test)
    python bench/lsp_latency.py --json lsp.json  # the row as JSON too

The spec is the built-in EGNN with its `repeat` written out as 24 explicit layers, each with
two statements of its own: 100+ lines of real statements (no comments or blank padding),
elaborated and proved in full at every edit. The edits alternate between a typing error
(`relu` on a vector, GEO402) and its fix, and each published set is checked: empty after a
fix, GEO402 on the edited line after a break. The time is wall clock at the client, from
writing the message to reading the diagnostics of that version, framing and pipes included;
the server's CPU time per edit and the load average are printed beside it (on a shared
machine the wall time includes waiting for a core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from geoc.lsp.client import Client

TARGET_MS = 200.0
LAYERS = 20
EDITS, QUICK_EDITS = 21, 3
GOOD = "    d{i} = sqnorm(x[dst] - x[src])"
BAD = "    d{i} = sqnorm(act(x[dst] - x[src], relu))"  # relu on a vector: GEO402


def spec(bad_layer: int | None = None) -> str:
    """The 100-line spec; with ``bad_layer``, that layer's first statement broken."""
    text = resources.files("geoc.specs").joinpath("egnn.geo").read_text(encoding="utf-8")
    head, _, rest = text.partition("    repeat depth {")
    _, _, tail = rest.partition("    }\n")
    layers = []
    for i in range(LAYERS):
        first = (BAD if i == bad_layer else GOOD).format(i=i)
        layers += [
            first,
            f"    e{i} = sum(mlp(d{i}, [hidden], act=silu), over=edges, into=nodes)",
            f"    h = h + mlp(concat(h, e{i}), [hidden, hidden], act=silu)",
            "    h, x = egnn_layer(h, x, hidden=hidden)",
        ]
    return head + "\n".join(layers) + "\n" + tail


def bad_line(text: str) -> int:
    return next(n for n, line in enumerate(text.split("\n")) if "relu" in line)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None without Linux's /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(edits: int) -> tuple[list[float], int, float | None]:
    """Milliseconds from each didChange to its diagnostics; the spec's line count; the
    server's mean CPU milliseconds per edit (what the edits cost it, whatever the load)."""
    folder = Path(tempfile.mkdtemp(prefix="geoc-lsp-bench-"))
    uri = (folder / "bench.geo").as_uri()
    client = Client()
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    text = spec()
    doc = {"uri": uri, "languageId": "geo", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": doc})
    assert client.diagnostics(uri, 1)["diagnostics"] == [], "the bench spec must be valid"
    times = []
    cpu_before = cpu_seconds(client.process.pid)
    for version in range(2, edits + 2):
        broken = version % 2 == 0
        new = spec(bad_layer=version % LAYERS) if broken else spec()
        ident = {"uri": uri, "version": version}
        start = time.perf_counter()
        client.notify(
            "textDocument/didChange", {"textDocument": ident, "contentChanges": [{"text": new}]}
        )
        found = client.diagnostics(uri, version)["diagnostics"]
        times.append((time.perf_counter() - start) * 1e3)
        _check(found, new if broken else None)
    cpu_after = cpu_seconds(client.process.pid)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    client.request("shutdown")
    client.notify("exit")
    assert client.close() == 0, client.stderr()
    return times, text.count("\n"), None if cpu is None else cpu * 1e3 / edits


def _check(found: list[dict], broken: str | None) -> None:
    if broken is None:
        assert found == [], found
        return
    codes = {(d["code"], d["range"]["start"]["line"]) for d in found}
    assert ("GEO402", bad_line(broken)) in codes, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 edits, no target")
    parser.add_argument("--json", metavar="PATH", help="write the row as JSON")
    args = parser.parse_args()
    times, lines, cpu = measure(QUICK_EDITS if args.quick else EDITS)
    median = statistics.median(times)
    print(f"spec lines {lines:>8}")
    print(f"edits      {len(times):>8}")
    print(f"median     {median:>8.1f} ms")
    print(f"best       {min(times):>8.1f} ms")
    print(f"worst      {max(times):>8.1f} ms")
    if cpu is not None:
        print(f"server CPU {cpu:>8.1f} ms per edit (mean)")
    print(f"load       {os.getloadavg()[0]:>8.1f}   (1-minute average, {os.cpu_count()} CPUs)")
    missed = median >= TARGET_MS
    verdict = "(not judged: --quick)" if args.quick else "MISSED" if missed else "ok"
    print(f"target     {TARGET_MS:>8.0f} ms   {verdict}")
    if args.json:
        row = {"case": f"didChange to diagnostics, {lines}-line spec", "impl": "geoc lsp"}
        with open(args.json, "w") as out:
            json.dump({"rows": [{**row, "median_ms": median}]}, out, indent=1)
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
