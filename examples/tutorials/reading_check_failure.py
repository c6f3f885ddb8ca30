"""Reading a `geoc check` failure: a hand-written kernel that breaks rotations, found and fixed.

docs/tutorials/reading_check_failure.md walks through it. The type rules prove a spec
equivariant, but they know nothing of code written outside it. Here a user replaces the
edge length ``d = norm(r)`` of the compiled ``reading_check_failure.geo`` by a kernel of their
own (torch.fx graph surgery on the module geoc returns), with a bug: the L1 norm
|r_x| + |r_y| + |r_z|, which a rotation changes. ``check_module`` (the engine of ``geoc check``)
fails the module and names the first value that breaks its law (``d``, line 8), by how much,
and under which group element; the fix (the Euclidean norm) passes. Last, a spec that
declares a symmetry breaking (``reading_check_breaking.geo``): how the report states what was
checked and how far the outputs move under the part given up.

    .venv/bin/python examples/tutorials/reading_check_failure.py          # 20 trials per check
    .venv/bin/python examples/tutorials/reading_check_failure.py --quick  # 3 trials
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import fx

import geoc
from geoc.backends.torch_fx.verify import check, check_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import arguments, write_report  # noqa: E402

SPEC = HERE / "reading_check_failure.geo"
BREAKING = HERE / "reading_check_breaking.geo"


def with_norm(module: fx.GraphModule, value: str, order: float) -> fx.GraphModule:
    """``module`` with the fx node that computes the spec's ``value`` replaced by a call of
    ``torch.linalg.vector_norm`` of the given order (1: the bug, 2: the fix). geoc tags each
    node with the IR value it computes (``meta["geoc_node"]``); its first argument is ``r``."""
    node = next(n for n in module.graph.nodes if n.meta.get("geoc_node") == value)
    node.target = torch.linalg.vector_norm
    node.args = (node.args[0],)
    node.kwargs = {"ord": order, "dim": -1, "keepdim": True}
    module.recompile()
    return module


def failure_facts(report) -> dict:
    fail = report.first_failure
    return {
        "passed": report.passed,
        "outputs": {row.name: row.max_error for row in report.outputs},
        "value": fail.node if fail else None,
        "op": fail.op if fail else None,
        "line": fail.span.line if fail else None,
        "error": fail.error if fail else None,
        "relative": fail.rel_error if fail else None,
        "element": fail.element if fail else None,
        "trial": fail.trial + 1 if fail else None,
    }


def by_hand() -> dict[str, float]:
    """The bug in two numbers: an edge along x, and the same edge turned 45 degrees about z."""
    edge = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    c = math.cos(math.pi / 4)
    turn = torch.tensor([[c, -c, 0.0], [c, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    found = {}
    for order in (1, 2):
        found[f"l{order}_before"] = float(torch.linalg.vector_norm(edge, ord=order))
        found[f"l{order}_after"] = float(torch.linalg.vector_norm(turn @ edge, ord=order))
    return found


def main(argv: list[str] | None = None) -> int:
    args = arguments("reading_check_failure", __doc__, argv)
    trials = 3 if args.quick else 20
    spec_report = check(SPEC, trials=trials, seed=args.seed)
    print(spec_report.render(), end="\n\n")

    broken = with_norm(geoc.compile(SPEC, seed=args.seed), "d", 1)
    broken_report = check_module(broken, trials=trials, seed=args.seed)
    print(broken_report.render(), end="\n\n")
    hand = by_hand()
    print(
        f"by hand: L1 length of (1, 0, 0) {hand['l1_before']:.4f}, turned 45° about z "
        f"{hand['l1_after']:.4f}; L2 {hand['l2_before']:.4f} and {hand['l2_after']:.4f}"
    )

    fixed = with_norm(geoc.compile(SPEC, seed=args.seed), "d", 2)
    fixed_report = check_module(fixed, trials=trials, seed=args.seed)
    print(fixed_report.render(), end="\n\n")

    breaking_report = check(BREAKING, trials=trials, seed=args.seed)
    print(breaking_report.render())
    row = breaking_report.breaking
    write_report(
        args,
        {
            "trials": trials,
            "spec_passed": spec_report.passed,
            "broken": failure_facts(broken_report),
            "broken_render": broken_report.render(),
            "by_hand": hand,
            "fixed_passed": fixed_report.passed,
            "fixed_max_error": fixed_report.max_error,
            "breaking_passed": breaking_report.passed,
            "breaking_checked_group": breaking_report.group,
            "breaking_observed": row.observed if row else None,
            "breaking_rel_error": row.rel_error if row else None,
        },
    )
    expected = spec_report.passed and not broken_report.passed and fixed_report.passed
    return 0 if expected and breaking_report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
