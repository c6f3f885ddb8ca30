"""The equivariance error per dtype: float64, float32, and bfloat16 / float16 autocast on the CPU.

    python bench/precision.py                   # the table of docs/precision.md
    python bench/precision.py --specs egnn nequip --trials 5

Each spec is compiled with its default parameters in the run's dtype and checked by
``check_module`` (random inputs, random group elements, random parameters after the first
trial; 2 graphs per call) with the module called inside ``torch.autocast`` for the half
precision columns (float32 parameters and inputs). A cell is the worst relative error over
outputs and trials: ``max |f(g·x) - g·f(x)| / max |g·f(x)|``. Acceptance (issue 15): the
bfloat16 column under 1e-2.
"""

from __future__ import annotations

import argparse
import contextlib

import torch

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check_module

NAMED = ("egnn", "nequip", "escn", "fno", "sfno")
#: (column, module dtype, autocast dtype or None)
COLUMNS = (
    ("float64", torch.float64, None),
    ("float32", torch.float32, None),
    ("bf16 autocast", torch.float32, torch.bfloat16),
    ("fp16 autocast", torch.float32, torch.float16),
)


def equivariance_error(
    name: str, dtype: torch.dtype, half: torch.dtype | None, trials: int
) -> float:
    module = geoc_compile(name, dtype=dtype)
    mixed = torch.autocast("cpu", dtype=half) if half else contextlib.nullcontext()
    with mixed:
        report = check_module(module, dtype=dtype, atol=1e9, graphs=2, trials=trials)
    return max(row.rel_error for row in report.outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=list(NAMED))
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| spec | " + " | ".join(c[0] for c in COLUMNS) + " |")
    print("|:---|" + "---:|" * len(COLUMNS))
    for name in args.specs:
        cells = [equivariance_error(name, d, h, args.trials) for _, d, h in COLUMNS]
        print(f"| {name} | " + " | ".join(f"{c:.1e}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
