"""The cost of runtime input validation: EGNN at the N-body size, validation on and off.

    python bench/validation.py                  # 1 and 2 threads, 200 rounds each
    python bench/validation.py --json rows.json

The built-in ``egnn`` spec (defaults: depth 4, hidden 64) on 100 graphs of 5 nodes in one call
(``batch`` and ``num_graphs`` given), compiled twice from one seed, ``validate=True`` and
``validate=False``, timed in alternation in one process (inference, ``torch.no_grad``). The
difference of two medians on a loaded machine is noisy, so the checks are also timed alone:
the validated graph's check calls (and the placeholders and parameter they read), cut out
into a graph of their own. Acceptance (issue 13): the checks cost under 2% of the forward.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch
from torch import fx

sys.path.insert(0, str(Path(__file__).parent))
from timing import bench_parser, time_alternating

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common import validate_kernels

GRAPHS, NODES = 100, 5
TARGET = 0.02


def nbody_inputs() -> dict[str, object]:
    generator = torch.Generator().manual_seed(0)
    n = GRAPHS * NODES
    return {
        "h": torch.randn(n, 16, generator=generator),
        "x": torch.randn(n, 3, generator=generator),
        "batch": torch.arange(GRAPHS).repeat_interleave(NODES),
        "num_graphs": GRAPHS,
    }


def checks_alone(module: fx.GraphModule) -> fx.GraphModule:
    """The module's input checks as a graph of their own (what validation adds to a call)."""
    graph, copied = fx.Graph(), {}
    kept = [
        n
        for n in module.graph.nodes
        if getattr(n.target, "__module__", "") == validate_kernels.__name__
    ]
    needed = {a for n in kept for a in n.all_input_nodes} | set(kept)
    for node in module.graph.nodes:
        if node.op == "placeholder" or node in needed:
            copied[node] = graph.node_copy(node, lambda n: copied[n])
    graph.output(None)
    return fx.GraphModule(module, graph)


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    on = geoc_compile("egnn", seed=0)
    off = geoc_compile("egnn", seed=0, validate=False)
    alone = checks_alone(on)
    inputs = nbody_inputs()
    rows, worst = [], 0.0
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            times = time_alternating(
                {
                    "validate=True": lambda: on(**inputs),
                    "validate=False": lambda: off(**inputs),
                    "checks alone": lambda: alone(**inputs),
                },
                torch.device("cpu"),
                args.rounds,
            )
        medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        share = medians["checks alone"] / medians["validate=False"]
        worst = max(worst, share)
        print(
            f"{threads} thread(s): forward {medians['validate=False']:.3f} ms without checks, "
            f"{medians['validate=True']:.3f} ms with them "
            f"({medians['validate=True'] / medians['validate=False'] - 1:+.1%}); "
            f"the checks alone {medians['checks alone']:.3f} ms = {share:.2%} of the forward"
        )
        rows += [
            {"case": f"egnn 100x5, {threads} thread(s)", "impl": name, "median_ms": ms}
            for name, ms in medians.items()
        ]
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    print(f"worst share {worst:.2%} (target < {TARGET:.0%})")
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
