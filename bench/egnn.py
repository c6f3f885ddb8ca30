"""The built-in egnn spec against a plain-PyTorch EGNN written from the paper, fwd+bwd.

    python bench/egnn.py                     # N-body and QM9 sizes, 1 and 2 threads
    python bench/egnn.py --sizes nbody       # the N-body size only
    python bench/egnn.py --no-compile        # eager rows only (no torch.compile)
    python bench/egnn.py --quick             # tiny size, 1 thread, 2 rounds, eager (< 60 s)
    python bench/egnn.py --json egnn.json    # the rows as JSON too
    python bench/egnn.py --device cuda       # on a GPU (figures: docs/gpu.md)

The plain model is equations 3-6 of Satorras, Hoogeboom & Welling (2021), "E(n) Equivariant
Graph Neural Networks", with the layer structure of ``specs/egnn.geo``:
``m_ij = phi_e(h_i, h_j, |x_i - x_j|^2)`` (Linear(2H+1, H), SiLU, Linear(H, H), SiLU),
``x_i += 1/(M-1) sum_j (x_i - x_j) phi_x(m_ij)`` (Linear(H, H), SiLU, Linear(H, 1)),
``m_i = sum_j m_ij``, ``h_i += phi_h(h_i, m_i)`` (Linear(2H, H), SiLU, Linear(H, H)); an input
embedding Linear(F, H) before and an energy head ``sum_i phi_E(h_i)`` per graph (Linear(H, H),
SiLU, Linear(H, 1)) after, so both models do the same multiply-adds as written. Its edges
(every ordered pair of distinct nodes of each graph, and the in-degrees) are computed once,
outside the timing; geoc builds its edges inside every step (``batch`` and ``num_graphs``).
Before any timing geoc's weights are copied into the plain model by name and both are checked
to compute the same function (float64, 1e-10 relative): the comparison is fair.

Step: forward, ``energy.sum() + pos.square().sum()`` (both outputs), backward into every
parameter, float32. Rows, alternating in one run per size and thread count (median of the
rounds): plain eager, plain ``torch.compile``, geoc eager (``geoc.compile(..., validate=False)``;
with ``optimize="none"``, the IR as written, when ``geoc.compile`` takes ``optimize``), geoc with
its input checks (``validate=True``), geoc compiled (``optimize="inductor"`` when available,
else ``torch.compile`` of geoc's module). Compilation happens in a first call outside the
timing; its time is printed. Sizes: N-body (100 graphs x 5 nodes, 16 features, hidden 64,
depth 4) and QM9 (96 graphs x 29 nodes, 11 features, hidden 128, depth 7).
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from timing import bench_parser, medians_ms, run_header, time_alternating, timed_once, write_json

import geoc


@dataclass(frozen=True)
class Size:
    name: str
    graphs: int
    nodes: int
    features: int
    hidden: int
    depth: int
    rounds: int  # default rounds: a QM9 step takes seconds on one CPU thread


SIZES = {
    "nbody": Size("nbody", 100, 5, 16, 64, 4, 10),
    "qm9": Size("qm9", 96, 29, 11, 128, 7, 3),
}
QUICK = Size("tiny", 8, 5, 16, 16, 2, 2)
CPU = torch.device("cpu")


def mlp(*widths: int, last_act: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if last_act or i < len(widths) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class Layer(nn.Module):
    """Equations 3-6: messages, coordinate update (mean over the M - 1 others), node update."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.phi_e = mlp(2 * hidden + 1, hidden, hidden, last_act=True)
        self.phi_x = mlp(hidden, hidden, 1, last_act=False)
        self.phi_h = mlp(2 * hidden, hidden, hidden, last_act=False)

    def forward(self, h, x, src, dst, inv_degree):
        diff = x[dst] - x[src]
        m = self.phi_e(torch.cat([h[dst], h[src], diff.square().sum(-1, keepdim=True)], -1))
        dx = x.new_zeros(x.shape).index_add(0, dst, diff * self.phi_x(m)) * inv_degree
        m_i = h.new_zeros((h.shape[0], m.shape[1])).index_add(0, dst, m)
        return h + self.phi_h(torch.cat([h, m_i], -1)), x + dx


class PlainEGNN(nn.Module):
    def __init__(self, features: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.embed = nn.Linear(features, hidden)
        self.layers = nn.ModuleList(Layer(hidden) for _ in range(depth))
        self.head = mlp(hidden, hidden, 1, last_act=False)

    def forward(self, h, x, src, dst, inv_degree, batch, num_graphs: int):
        h = self.embed(h)
        for layer in self.layers:
            h, x = layer(h, x, src, dst, inv_degree)
        energy = h.new_zeros((num_graphs, 1)).index_add(0, batch, self.head(h))
        return energy, x


def plain_name(geoc_name: str) -> str:
    """The plain model's name of a geoc parameter (``layers.0.egnn_layer.m.1.weight`` ->
    ``layers.0.phi_e.2.weight``: geoc counts linear maps, nn.Sequential counts SiLUs too)."""
    parts = geoc_name.split(".")
    if parts[0] == "h":
        return "embed." + parts[1]
    linear, tensor = int(parts[-2]), parts[-1]
    if parts[0] == "energy":
        return f"head.{2 * linear}.{tensor}"
    block = {"m": "phi_e", "dx": "phi_x", "h2": "phi_h"}[parts[3]]
    return f"layers.{parts[1]}.{block}.{2 * linear}.{tensor}"


def copy_weights(module: nn.Module, plain: PlainEGNN) -> None:
    state = {plain_name(k): v for k, v in module.state_dict().items()}
    plain.load_state_dict(state, strict=True)


def full_graph_edges(graphs: int, nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ordered pair of distinct nodes within each graph (graph g holds nodes
    ``g * nodes ..``), as (src, dst)."""
    local = torch.arange(nodes)
    src, dst = local.repeat(nodes), local.repeat_interleave(nodes)
    keep = src != dst
    offsets = (torch.arange(graphs) * nodes).repeat_interleave(int(keep.sum()))
    return src[keep].repeat(graphs) + offsets, dst[keep].repeat(graphs) + offsets


def make_inputs(
    size: Size, dtype: torch.dtype, device: torch.device = CPU, seed: int = 0
) -> dict[str, object]:
    gen = torch.Generator().manual_seed(seed)
    n = size.graphs * size.nodes
    return {
        "h": torch.randn(n, size.features, generator=gen, dtype=dtype).to(device),
        "x": torch.randn(n, 3, generator=gen, dtype=dtype).to(device),
        "batch": torch.arange(size.graphs).repeat_interleave(size.nodes).to(device),
        "num_graphs": size.graphs,
    }


def plain_call(plain: PlainEGNN, size: Size, inputs: dict[str, object]) -> Callable:
    """The plain model with its edges precomputed here, once (outside any timing)."""
    x = inputs["x"]
    assert isinstance(x, torch.Tensor)
    src, dst = (e.to(x.device) for e in full_graph_edges(size.graphs, size.nodes))
    degree = x.new_zeros(x.shape[0]).index_add(0, dst, torch.ones_like(dst, dtype=x.dtype))
    inv_degree = (1.0 / degree.clamp(min=1)).unsqueeze(-1)
    batch, graphs = inputs["batch"], inputs["num_graphs"]

    def call(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        return model(inputs["h"], x, src, dst, inv_degree, batch, graphs)

    return call


def geoc_call(inputs: dict[str, object]) -> Callable:
    def call(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(**inputs)
        return out["energy"], out["pos"]

    return call


def check_same_function(size: Size) -> None:
    """geoc's egnn and the plain model, same weights, agree in float64 (1e-10 relative)."""
    params = {"features": size.features, "hidden": size.hidden, "depth": size.depth}
    module = geoc.compile("egnn", params=params, dtype=torch.float64)
    plain = PlainEGNN(size.features, size.hidden, size.depth).double()
    copy_weights(module, plain)
    small = Size(size.name, 4, size.nodes, size.features, size.hidden, size.depth, 1)
    inputs = make_inputs(small, torch.float64, seed=1)  # on the CPU
    theirs = plain_call(plain, small, inputs)(plain)
    ours = geoc_call(inputs)(module)
    for name, a, b in zip(("energy", "pos"), ours, theirs, strict=True):
        error = ((a - b).abs().max() / b.abs().max()).item()
        if error > 1e-10:
            raise AssertionError(f"{size.name}: geoc and plain {name} differ by {error:.1e}")


def takes_optimize() -> bool:
    return "optimize" in inspect.signature(geoc.compile).parameters


def contenders(
    size: Size, compiled: bool, device: torch.device = CPU
) -> dict[str, tuple[nn.Module, Callable]]:
    """Every row's module and its call (a function of the module), float32, one seed."""
    params = {"features": size.features, "hidden": size.hidden, "depth": size.depth}
    inputs = make_inputs(size, torch.float32, device)
    base = geoc.compile("egnn", params=params, validate=False, device=device)
    plain = PlainEGNN(size.features, size.hidden, size.depth).to(device)
    copy_weights(base, plain)
    call_plain, call_geoc = plain_call(plain, size, inputs), geoc_call(inputs)
    rows: dict[str, tuple[nn.Module, Callable]] = {"plain eager": (plain, call_plain)}
    if compiled:
        rows["plain compiled"] = (torch.compile(plain, dynamic=False), call_plain)
    rows["geoc eager"] = (base, call_geoc)
    if takes_optimize():
        rows["geoc optimize=none"] = (
            geoc.compile("egnn", params=params, validate=False, optimize="none", device=device),
            call_geoc,
        )
    validated = geoc.compile("egnn", params=params, device=device)
    rows["geoc eager validate"] = (validated, call_geoc)
    if compiled:
        if takes_optimize():
            module = geoc.compile(
                "egnn", params=params, validate=False, optimize="inductor", device=device
            )
        else:
            module = torch.compile(base, dynamic=False)
        rows["geoc compiled"] = (module, call_geoc)
    return rows  # every geoc module has seed 0's weights, the plain ones a copy


def step(module: nn.Module, call: Callable) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        energy, pos = call(module)
        (energy.sum() + pos.square().sum()).backward()

    return run


def measure(
    size: Size, threads: int, rounds: int, compiled: bool, device: torch.device
) -> list[dict[str, object]]:
    torch.set_num_threads(threads)
    rows = contenders(size, compiled, device)
    runs = {impl: step(module, call) for impl, (module, call) in rows.items()}
    first = {impl: timed_once(run, device) for impl, run in runs.items()}  # compiles
    medians = medians_ms(time_alternating(runs, device, rounds, warmup=1))
    plain, plain_c = medians["plain eager"], medians.get("plain compiled")
    out = []
    for impl, ms in medians.items():
        vs_c = f"{plain_c / ms:.2f}x" if plain_c else "-"
        print(
            f"| {size.name} | {threads} | {impl} | {ms:.1f} ms | {plain / ms:.2f}x | {vs_c} "
            f"| {first[impl]:.1f} s |",
            flush=True,
        )
        out.append({"case": f"{size.name} {threads}t", "impl": impl, "median_ms": ms,
                    "threads": threads, "first_call_s": first[impl]})  # fmt: skip
    return out


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    parser.add_argument("--thread-counts", type=int, nargs="+", default=None,
                        help="default 1 2 (quick: 1)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=None, help="default per size (10 / 3)")
    parser.add_argument("--quick", action="store_true", help="tiny size, 1 thread, eager only")
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile rows")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = [QUICK] if args.quick else [SIZES[name] for name in args.sizes]
    threads = args.thread_counts or ([1] if args.quick else [1, 2])
    print(run_header(args.rounds or ", ".join(f"{s.name} {s.rounds}" for s in sizes)))
    print(f"geoc.compile takes optimize=: {takes_optimize()}")
    print("\n| size | threads | impl | median | plain eager / impl | plain compiled / impl "
          "| first call |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    rows = []
    for size in sizes:
        check_same_function(size)
        for count in threads:
            compile_rows = not (args.no_compile or args.quick)  # compiling takes a minute
            rows += measure(size, count, args.rounds or size.rounds, compile_rows, device)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
