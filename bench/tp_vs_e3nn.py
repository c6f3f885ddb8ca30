"""geoc's tensor product against e3nn's ``FullyConnectedTensorProduct``, forward + backward.

    python bench/tp_vs_e3nn.py                    # CPU, 1 then 2 threads, batch 4096, float32
    python bench/tp_vs_e3nn.py --threads 2        # one thread count
    python bench/tp_vs_e3nn.py --device cuda      # e3nn modes that fail there are skipped
    python bench/tp_vs_e3nn.py --no-tp-conv       # without the tp_conv rows
    python bench/tp_vs_e3nn.py --json tp.json     # the rows as JSON too
    python bench/tp_vs_e3nn.py --e3nn-modes       # geoc's rows only (bench/ab.py)

One run times, for each irreps case of issue 4 (lmax 2 and lmax 4), geoc's kernel
(``runtime_tp.tensor_product`` with a ``full`` plan, eager PyTorch) and e3nn 0.6.0 in each of
its modes: ``eager`` (``jit_mode="eager"``, the fx code e3nn generates run as Python; the
default of e3nn 0.6.0 on torch >= 2.10), ``script`` (``jit_mode="script"``: TorchScript, the
default on older torch) and ``compile`` (``torch.compile`` of the eager module, inductor). All
contenders use the same weights, and their outputs are checked against each other first.
The contenders run in alternation, round after round, so load from other processes hits them
alike; the table gives the median (and best) of the rounds, the ratio e3nn/geoc of medians,
and the rate at which each does geoc's arithmetic (``TPPlan.forward_macs``, forward + backward)
as a fraction of a dense float32 matmul timed in the same run. Each thread count of
``--threads`` (default 1 and 2) is one such table, in the same process; after each, the ratio
the acceptance of issue 17 reads: per case, the fastest e3nn mode's median over geoc's
(at least ``TARGETS[case]``).

If ``bench/tp_conv_rows.py`` is present, its ``rows()`` (``tp_conv`` with the ``cg`` and
``so2`` lowerings) are appended to the table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from timing import bench_parser, time_alternating  # bench/timing.py

from geoc.backends.torch_fx.o3.tp_kernels import tensor_product
from geoc.backends.torch_fx.o3.tp_plan import TPPlan, plan_tensor_product

#: The cases of issue 4: name -> (in1, in2, out).
CASES = {
    "lmax2": ("32x0e+32x1o+32x2e", "0e+1o+2e", "32x0e+32x1o+32x2e"),
    "lmax4": (
        "16x0e+16x1o+16x2e+16x3o+16x4e",
        "0e+1o+2e+3o+4e",
        "16x0e+16x1o+16x2e+16x3o+16x4e",
    ),
}
E3NN_MODES = ("eager", "script", "compile")
#: Issue 17's acceptance: geoc at least this much faster than e3nn's fastest mode.
TARGETS = {"lmax2": 1.5, "lmax4": 2.0}


@dataclass
class Row:
    case: str
    impl: str
    median: float | None  # seconds per forward + backward; None: did not run
    best: float | None
    flops: float | None = None  # geoc's forward + backward arithmetic, for the rate column
    note: str = ""

    @classmethod
    def timed(cls, case: str, impl: str, times: list[float], flops: float | None, note: str):
        return cls(case, impl, statistics.median(times), min(times), flops, note)


def parse(text: str) -> list[tuple[int, int, int]]:
    """``"2x1o+0e"`` -> ``[(2, 1, -1), (1, 0, 1)]``."""
    terms = []
    for term in text.split("+"):
        mul, _, irrep = term.strip().rpartition("x")
        terms.append((int(mul or 1), int(irrep[:-1]), 1 if irrep[-1] == "e" else -1))
    return terms


class GeocTP(torch.nn.Module):
    """The kernel as a lowering holds it: plan buffers, a weight parameter, static metadata."""

    def __init__(self, plan: TPPlan, weight: torch.Tensor):
        super().__init__()
        for name, value in plan.buffers().items():
            self.register_buffer(name, value)
        self.meta = plan.meta()
        self.weight = torch.nn.Parameter(weight.detach().clone())

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return tensor_product(x1, x2, self.weight, self.cg, self.weight_index, self.meta)


def e3nn_module(case: tuple[str, str, str], mode: str) -> torch.nn.Module:
    """e3nn's FullyConnectedTensorProduct built in ``mode`` (its jit mode, or compiled)."""
    import e3nn
    from e3nn import o3

    before = e3nn.get_optimization_defaults()["jit_mode"]
    e3nn.set_optimization_defaults(jit_mode="script" if mode == "script" else "eager")
    try:
        module = o3.FullyConnectedTensorProduct(*case)
    finally:
        e3nn.set_optimization_defaults(jit_mode=before)
    return torch.compile(module) if mode == "compile" else module


def matmul_flops_per_second(device: torch.device) -> float:
    """Dense float32 matmul rate of this machine (square, large enough to be compute-bound)."""
    n = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    times = time_alternating({"mm": lambda: a @ b}, device, 7)["mm"]
    return 2 * n**3 / min(times)


def fwd_bwd(module: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor, g: torch.Tensor):
    def run() -> None:
        x1.grad = x2.grad = None
        module.zero_grad(set_to_none=True)
        module(x1, x2).backward(g)

    return run


def measure_case(
    name: str, device: torch.device, batch: int, rounds: int, modes: tuple[str, ...] = E3NN_MODES
) -> list[Row]:
    """geoc and each e3nn mode of ``modes`` that runs on ``device``, for one irreps case."""
    case = CASES[name]
    plan = plan_tensor_product(*(parse(t) for t in case), "full")
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(batch, plan.dim1, generator=gen).to(device).requires_grad_()
    x2 = torch.randn(batch, plan.dim2, generator=gen).to(device).requires_grad_()
    g = torch.randn(batch, plan.out_dim, generator=gen).to(device)
    weight = torch.randn(plan.weight_numel, generator=gen)
    modules: dict[str, torch.nn.Module] = {"geoc": GeocTP(plan, weight).to(device)}
    notes: dict[str, str] = {}
    expected = modules["geoc"](x1, x2).detach()
    for mode in modes:
        impl = f"e3nn {mode}"
        try:
            module = e3nn_module(case, mode).to(device)
            with torch.no_grad():
                module.weight.copy_(weight)
            error = (module(x1, x2) - expected).abs().max().item()
            fwd_bwd(module, x1, x2, g)()  # compiles the backward too, inside the try
        except Exception as exc:  # a mode that does not run here is reported, not fatal
            notes[impl] = f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
            continue
        if error > 1e-3:
            raise AssertionError(f"{name}: {impl} differs from geoc by {error:.2e}")
        modules[impl] = module
        notes[impl] = f"max |diff| {error:.1e}"
    times = time_alternating({k: fwd_bwd(m, x1, x2, g) for k, m in modules.items()}, device, rounds)
    macs = plan.forward_macs()
    flops = 2 * batch * (2 * macs["cg"] + 3 * macs["bilinear"] + 3 * macs["weights"])
    rows = [Row.timed(name, impl, t, flops, notes.get(impl, "")) for impl, t in times.items()]
    skipped = [impl for impl in notes if impl not in times]
    rows += [Row(name, impl, None, None, None, notes[impl]) for impl in skipped]
    return rows


def tp_conv_rows(device: torch.device, threads: int) -> list[Row]:
    """The rows of ``bench/tp_conv_rows.py`` (``cg`` vs ``so2``), when that module exists."""
    path = Path(__file__).with_name("tp_conv_rows.py")
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location("tp_conv_rows", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = []
    for row in module.rows(device=device, threads=threads):
        flops = 3 * 2 * row["model_macs"] if "model_macs" in row else None
        note = f"auto picks {row['auto_picks']}" if "auto_picks" in row else ""
        median, best = row["median_ms"] * 1e-3, row["best_ms"] * 1e-3
        out.append(Row(row["case"], row["impl"], median, best, flops, note))
    return out


def print_table(rows: list[Row], peak: float) -> None:
    header = f"{'case':<28}{'implementation':<16}{'median ms':>10}{'best ms':>9}"
    print(header + f"{'e3nn/geoc':>10}{'GFLOP/s':>9}{'of mm':>7}  note")
    geoc = {r.case: r.median for r in rows if r.impl == "geoc"}
    for row in rows:
        if row.median is None or row.best is None:
            print(f"{row.case:<28}{row.impl:<16}{'-':>10}{'-':>9}{'':>26}  {row.note}")
            continue
        base = geoc.get(row.case)
        ratio = f"{row.median / base:.2f}x" if row.impl.startswith("e3nn") and base else ""
        rate = f"{row.flops / row.median / 1e9:.1f}" if row.flops else ""
        share = f"{row.flops / row.median / peak:.0%}" if row.flops else ""
        print(
            f"{row.case:<28}{row.impl:<16}{row.median * 1e3:>10.2f}{row.best * 1e3:>9.2f}"
            f"{ratio:>10}{rate:>9}{share:>7}  {row.note}"
        )


def speedups(rows: list[Row]) -> dict[str, tuple[str, float]]:
    """Per case: the fastest e3nn mode and its median over geoc's."""
    geoc = {r.case: r.median for r in rows if r.impl == "geoc" and r.median}
    fastest: dict[str, Row] = {}
    for r in rows:
        if r.impl.startswith("e3nn") and r.median and r.case in geoc:
            best = fastest.get(r.case)
            fastest[r.case] = r if best is None or r.median < (best.median or 0) else best
    return {c: (r.impl, (r.median or 0) / geoc[c]) for c, r in fastest.items()}


def main() -> None:
    parser = bench_parser(__doc__)
    threads = parser._option_string_actions["--threads"]  # several counts here, one table each
    threads.nargs, threads.default, threads.help = "+", None, "default: 1 2 (CPU), 1 (GPU)"
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--no-tp-conv", action="store_true", help="skip the tp_conv rows")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument(
        "--e3nn-modes", nargs="*", default=list(E3NN_MODES), choices=E3NN_MODES,
        help="the e3nn contenders (none: geoc's rows only, e.g. to compare two checkouts)",
    )  # fmt: skip
    args = parser.parse_args()
    device = torch.device(args.device)
    import e3nn

    counts = args.threads or ([1, 2] if device.type == "cpu" else [1])
    timed = []
    for threads in counts:
        torch.set_num_threads(threads)
        peak = matmul_flops_per_second(device)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"forward+backward, batch {args.batch}, float32, {threads} threads, {device} "
            f"({platform.processor() or platform.machine()}); torch {torch.__version__}, "
            f"e3nn {e3nn.__version__}; load average {load:.2f}"
        )
        print(f"dense float32 matmul: {peak / 1e9:.0f} GFLOP/s; median (best) of {args.rounds}")
        rows = []
        for name in args.cases:
            rows += measure_case(name, device, args.batch, args.rounds, tuple(args.e3nn_modes))
        if not args.no_tp_conv:
            rows += tp_conv_rows(device, threads)
        print_table(rows, peak)
        for case, (impl, ratio) in speedups(rows).items():
            target = TARGETS.get(case)
            asks = f" (issue 17 asks {target}x)" if target else ""
            print(f"{case}, {threads} threads: fastest e3nn ({impl}) / geoc = {ratio:.2f}x{asks}")
        print()
        timed += [(threads, r) for r in rows if r.median is not None]
    if args.json:  # bench/ab.py keys rows by case: the thread count joins it when it varies
        label = (lambda t, r: f"{r.case} {t}t") if len(counts) > 1 else (lambda t, r: r.case)
        with open(args.json, "w") as out:
            json.dump({"rows": [{"case": label(t, r), "impl": r.impl, "threads": t,
                                 "median_ms": r.median * 1e3} for t, r in timed]},
                      out, indent=1)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
