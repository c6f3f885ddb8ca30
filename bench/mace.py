# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""MACE against NequIP (training step) and the symmetric contraction against a dense reference.

    python bench/mace.py                        # both parts, 1 and 2 threads
    python bench/mace.py --part model           # the training step only
    python bench/mace.py --part contraction     # the symmetric contraction only
    python bench/mace.py --quick                # small sizes, few rounds (a smoke run)

Part *model*: one training step, float32 — energy and forces by
``geoc.energy_forces_stress(module, inputs, training=True)``, the loss
``(E - E_ref)^2 / N + mean |F - F_ref|^2`` and its backward into every parameter — of the
built-in ``mace`` spec (its defaults: 32 channels, max_ell 3, correlation 3, 2 interactions)
against ``nequip`` at the same width (32 channels, its defaults: lmax 2, depth 3), both
``periodic=true``, cutoff 5 Å, on rattled fcc Cu/Ni cells (a = 3.61 Å, 0.05 Å rattle, half the
sites Ni at random; 64 and 256 atoms, about 42 neighbours each).

Part *contraction*: ``symmetric_contraction(a, z, out=k x 0e + k x 1o, correlation=ν)`` alone,
compiled from a spec with that one operator, against a dense implementation written here from
the definition
(``docs/symmetric_contraction.md``): per output term and order ``n``, the coupling tensors
``T_η`` (``geoc.o3.coupling_tensor``) of its paths are placed in their slots' block of a dense
``U_n [D^n, 2L + 1, P_n]`` (``D = Σ_s (2 l_s + 1)``; not symmetrised: ``A^{⊗n}`` is symmetric,
so the block alone gives the same features), and the output is
``Σ_n Σ_p W[z, p, c] (A_c^{⊗n} · U_n)[M, p]`` with the tensor power ``A_c^{⊗n}`` formed
explicitly (``[N, k, D^n]``, each order as the outer product of the one below with ``A``). Both
use the same weights and are checked equal (float64 to 1e-10, float32 to 1e-5 relative) before
any timing. ``a`` is ``k x (0e + 1o + .. + lmax)`` (parities ``(-1)^l``), ``N`` nodes, 4 species.

Timing: the contenders run in alternation (``bench/timing.py``), median of the rounds, 1 and
2 threads (``torch.set_num_threads``) in the same process; ratios are against the anchor
(nequip, resp. geoc's kernel) measured in the same run. Memory, for one forward + backward
call: ``peak``, the rise of the peak resident set over the resident set before the call, in a
fresh process (``VmHWM`` reset through ``/proc/self/clear_refs``; glibc's mmap threshold pinned
at 64 KiB there, so freed tensors go back to the system rather than to a heap the call reuses),
and ``saved``, the bytes of the tensors autograd keeps for the backward (``saved_tensors_hooks``,
each storage once).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from timing import bench_parser, time_alternating  # bench/timing.py

import geoc
from geoc.o3 import coupling_tensor, symmetric_paths

CUTOFF = 5.0
LATTICE = 3.61  # Å, fcc Cu
SPECIES = 4
#: Conventional fcc cells per side: 4 atoms each.
CELLS = {64: (2, 2, 4), 256: (4, 4, 4)}


# -- part 1: the training step ----------------------------------------------------------------


def alloy(atoms: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A rattled fcc Cu/Ni cell (species 0 and 1) as the periodic specs take it, float32."""
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    crystal = bulk("Cu", "fcc", a=LATTICE, cubic=True).repeat(CELLS[atoms])
    pos = crystal.get_positions() + rng.normal(0.0, 0.05, (atoms, 3))
    return {
        "z": torch.as_tensor(rng.integers(0, 2, atoms)),
        "pos": torch.as_tensor(pos, dtype=torch.float32),
        "cell": torch.as_tensor(np.asarray(crystal.get_cell()), dtype=torch.float32),
        "pbc": torch.ones(3, dtype=torch.bool),
    }


def neighbours(inputs: dict[str, torch.Tensor]) -> float:
    """Mean neighbours within the cutoff (ASE's list)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    cell = inputs["cell"].double().numpy()
    atoms = Atoms(positions=inputs["pos"].double().numpy(), cell=cell, pbc=True)
    return len(neighbor_list("i", atoms, CUTOFF)) / len(atoms)


def training_step(
    module: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    energy_forces: Callable[..., dict[str, torch.Tensor]] = geoc.energy_forces_stress,
) -> Callable[[], None]:
    """Energy + forces (kept for the derivative), a loss on both, backward. ``energy_forces``
    has ``geoc.energy_forces_stress``'s signature (bench/nequip.py passes e3nn's)."""
    gen = torch.Generator().manual_seed(1)
    atoms = inputs["pos"].shape[0]
    device = inputs["pos"].device
    energy_ref = torch.randn((), generator=gen).to(device)
    forces_ref = torch.randn(atoms, 3, generator=gen).to(device)

    def step() -> None:
        module.zero_grad(set_to_none=True)
        out = energy_forces(module, inputs, training=True)
        energy_error = (out["energy"].sum() - energy_ref) ** 2 / atoms
        loss = energy_error + ((out["forces"] - forces_ref) ** 2).mean()
        loss.backward()

    return step


def model_part(sizes: list[int], threads: list[int], rounds: int) -> None:
    models = {
        "nequip": geoc.compile("nequip", params={"periodic": True, "channels": 32}),
        "mace": geoc.compile("mace", params={"periodic": True, "channels": 32}),
    }
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    print(
        "\nTraining step (energy + forces + loss backward), float32; parameters: "
        + ", ".join(f"{name} {count:,}" for name, count in counts.items())
    )
    print("\n| threads | atoms | neighbours | nequip | mace | mace / nequip |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in threads:
        torch.set_num_threads(count)
        for atoms in sizes:
            inputs = alloy(atoms)
            steps = {name: training_step(m, inputs) for name, m in models.items()}
            times = {
                k: statistics.median(v) for k, v in time_alternating(steps, cpu, rounds).items()
            }
            print(
                f"| {count} | {atoms} | {neighbours(inputs):.1f} | {times['nequip'] * 1e3:.0f} ms "
                f"| {times['mace'] * 1e3:.0f} ms | {times['mace'] / times['nequip']:.2f}x |",
                flush=True,
            )


# -- part 2: the symmetric contraction alone ---------------------------------------------------


def irreps(lmax: int) -> list[tuple[int, int]]:
    return [(l, (-1) ** l) for l in range(lmax + 1)]


def written(terms: list[tuple[int, int]], k: int) -> str:
    return " + ".join(f"{k}x{l}{'e' if p == 1 else 'o'}" for l, p in terms)


OUT = [(0, 1), (1, -1)]  # MACE's hidden irreps: 0e + 1o


def geoc_module(lmax: int, k: int, correlation: int) -> torch.nn.Module:
    a, out = written(irreps(lmax), k), written(OUT, k)
    source = f"""
model SymmetricContraction(species: int = {SPECIES}) {{
    symmetry O(3) x S(nodes)
    domain set(nodes)
    input a: {a} over nodes
    input z: index(species) over nodes
    output b: {out} over nodes = symmetric_contraction(a, z, out={out}, correlation={correlation})
}}
"""
    return geoc.compile(source)


class Dense(torch.nn.Module):
    """The definition, densely: per term and order ``n`` a ``U_n [D^n, (2L+1) P_n]`` of the
    paths' coupling tensors in their slots' blocks, contracted with ``A_c^{⊗n}``."""

    def __init__(self, lmax: int, k: int, correlation: int, weights: list[torch.Tensor]) -> None:
        super().__init__()
        self.k, self.correlation = k, correlation
        slots = irreps(lmax)
        dims = [2 * l + 1 for l, _ in slots]
        self.dims = dims
        offsets = np.cumsum([0, *dims])
        width = int(offsets[-1])
        self.shapes: list[tuple[int, list[int]]] = []  # per term: 2L + 1, paths per order
        for t, target in enumerate(OUT):
            paths = symmetric_paths(slots, target, correlation)
            per_order = [[p for p in paths if p.order == n] for n in range(1, correlation + 1)]
            for n, chosen in enumerate(per_order, start=1):
                u = np.zeros((width,) * n + (2 * target[0] + 1, len(chosen)))
                for j, path in enumerate(chosen):
                    block = tuple(slice(offsets[s], offsets[s + 1]) for s in path.slots)
                    u[(*block, slice(None), j)] = coupling_tensor(path, slots)
                flat = torch.from_numpy(u.reshape(width**n, -1))  # float64 until the check
                self.register_buffer(f"u_{t}_{n}", flat)
            self.shapes.append((2 * target[0] + 1, [len(c) for c in per_order]))
            self.register_parameter(f"weight_{t}", torch.nn.Parameter(weights[t].clone()))

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        nodes = a.shape[0]
        blocks = torch.split(a, [self.k * d for d in self.dims], dim=-1)
        x = torch.cat(
            [b.reshape(nodes, self.k, d) for b, d in zip(blocks, self.dims, strict=True)], dim=-1
        )
        powers = [x]
        for _ in range(1, self.correlation):
            powers.append((powers[-1].unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2))
        outs = []
        for t, (dim, paths) in enumerate(self.shapes):
            features = [
                (power @ getattr(self, f"u_{t}_{n + 1}")).reshape(nodes, self.k, dim, p)
                for n, (power, p) in enumerate(zip(powers, paths, strict=True))
            ]
            w = getattr(self, f"weight_{t}")[z]  # [N, P, k]
            out = torch.einsum("nkmp,npk->nkm", torch.cat(features, dim=-1), w)
            outs.append(out.reshape(nodes, self.k * dim))
        return torch.cat(outs, dim=-1)


@dataclass
class Case:
    lmax: int
    correlation: int
    nodes: int
    params: int
    peak: dict[str, float]  # bytes, rise of the resident set over a fwd+bwd call
    saved: dict[str, float]  # bytes autograd saves for the backward of one call
    times: dict[str, float]  # median seconds, by "<contender> <fwd|fwd+bwd>"


def check_equal(geoc_m: torch.nn.Module, dense: Dense, lmax: int, k: int) -> None:
    """The two agree: float64 to 1e-10, float32 to 1e-5 (relative to the output's size)."""
    gen = torch.Generator().manual_seed(3)
    width = k * sum(2 * l + 1 for l in range(lmax + 1))
    a, z = torch.randn(64, width, generator=gen), torch.randint(0, SPECIES, (64,), generator=gen)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        ours = geoc_m.to(dtype)(a=a.to(dtype), z=z)["b"]
        theirs = dense.to(dtype)(a.to(dtype), z)
        error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
        if error > tol:
            raise AssertionError(f"lmax {lmax}: geoc and dense differ by {error:.1e} ({dtype})")


def contraction_calls(
    lmax: int, correlation: int, k: int, nodes: int
) -> tuple[dict[str, Callable[[], None]], dict[str, Callable[[], torch.Tensor]], int]:
    """Both contenders checked equal, then their calls: ``"<name> fwd"`` / ``"<name> fwd+bwd"``
    (timed), the bare forward of each (for the saved tensors) and the parameter count."""
    module = geoc_module(lmax, k, correlation)
    weights = [p.detach() for _, p in sorted(module.named_parameters())]
    dense = Dense(lmax, k, correlation, weights)
    check_equal(module, dense, lmax, k)
    module, dense = module.float(), dense.float()
    params = sum(p.numel() for p in module.parameters())
    assert params == sum(p.numel() for p in dense.parameters())
    gen = torch.Generator().manual_seed(4)
    width = k * sum(2 * l + 1 for l in range(lmax + 1))
    a = torch.randn(nodes, width, generator=gen).requires_grad_()
    z = torch.randint(0, SPECIES, (nodes,), generator=gen)
    grad = torch.randn(nodes, k * sum(2 * l + 1 for l, _ in OUT), generator=gen)
    runs = {"geoc": lambda: module(a=a, z=z)["b"], "dense": lambda: dense(a, z)}

    def forward(run: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def call() -> None:
            with torch.no_grad():
                run()

        return call

    def backward(run: Callable[[], torch.Tensor], owner: torch.nn.Module) -> Callable[[], None]:
        def call() -> None:
            a.grad = None
            owner.zero_grad(set_to_none=True)
            run().backward(grad)

        return call

    owners = {"geoc": module, "dense": dense}
    timed = {f"{n} fwd": forward(r) for n, r in runs.items()}
    timed |= {f"{n} fwd+bwd": backward(r, owners[n]) for n, r in runs.items()}
    return timed, runs, params


def contraction_case(lmax: int, correlation: int, k: int, nodes: int, rounds: int) -> Case:
    timed, runs, params = contraction_calls(lmax, correlation, k, nodes)
    times = {k_: statistics.median(v) for k_, v in time_alternating(timed, cpu, rounds).items()}
    saved = {name: saved_bytes(run) for name, run in runs.items()}
    peak = peak_in_subprocess(lmax, correlation, k, nodes)
    return Case(lmax, correlation, nodes, params, peak, saved, times)


def peaks(lmax: int, correlation: int, k: int, nodes: int) -> dict[str, float]:
    """Run in a fresh process: the peak of one forward + backward call of each contender."""
    pin_mmap_threshold()
    timed, runs, _ = contraction_calls(lmax, correlation, k, nodes)
    found = {}
    for name in runs:
        timed[f"{name} fwd+bwd"]()  # warm-up: freed tensors are unmapped, nothing is reused
        found[name] = peak_bytes(timed[f"{name} fwd+bwd"])
    return found


@functools.lru_cache  # memory does not depend on the thread count
def peak_in_subprocess(lmax: int, correlation: int, k: int, nodes: int) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import mace; "
        "print(json.dumps(mace.peaks(*map(int, sys.argv[2:]))))"
    )
    args = [str(Path(__file__).parent), *map(str, (lmax, correlation, k, nodes))]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"lmax {lmax}, ν {correlation}: the memory run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_bytes(call: Callable[[], None]) -> float:
    """The rise of the peak resident set over the resident set before ``call()``."""
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # peak resident set := current
    call()
    return 1024.0 * max(_status_kib("VmHWM") - before, 0)


def pin_mmap_threshold() -> None:
    """Allocations of 64 KiB and more get their own mapping, returned to the system on free
    (glibc otherwise raises the threshold as tensors are freed and keeps them in its heap)."""
    import ctypes

    ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD


def saved_bytes(run: Callable[[], torch.Tensor]) -> float:
    """Bytes of the tensors autograd saves for the backward of ``run()``, each storage once."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return float(sum(storages.values()))


def contraction_part(
    lmaxes: list[int], orders: list[int], k: int, nodes: int, threads: list[int], rounds: int
) -> None:
    print(
        f"\nSymmetric contraction alone: a = {k}x(0e+1o+..+lmax), out = {k}x0e + {k}x1o, "
        f"{SPECIES} species (labels), float32; dense / geoc in the ratio columns"
    )
    print(
        "\n| threads | lmax | ν | nodes | weights | peak geoc / dense | saved geoc / dense "
        "| geoc fwd | dense fwd | ratio | geoc fwd+bwd | dense fwd+bwd | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for count in threads:
        torch.set_num_threads(count)
        for lmax in lmaxes:
            for correlation in orders:
                case = contraction_case(lmax, correlation, k, nodes, rounds)
                t = {name: value * 1e3 for name, value in case.times.items()}
                peak = {name: value / 2**20 for name, value in case.peak.items()}
                saved = {name: value / 2**20 for name, value in case.saved.items()}
                print(
                    f"| {count} | {lmax} | {correlation} | {nodes} | {case.params:,} "
                    f"| {peak['geoc']:.0f} / {peak['dense']:.0f} MiB "
                    f"| {saved['geoc']:.0f} / {saved['dense']:.0f} MiB "
                    f"| {t['geoc fwd']:.2f} | {t['dense fwd']:.2f} "
                    f"| {t['dense fwd'] / t['geoc fwd']:.2f}x "
                    f"| {t['geoc fwd+bwd']:.2f} | {t['dense fwd+bwd']:.2f} "
                    f"| {t['dense fwd+bwd'] / t['geoc fwd+bwd']:.2f}x |",
                    flush=True,
                )


cpu = torch.device("cpu")


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--part", choices=("model", "contraction", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 rounds")
    parser.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=None, help="default 7 (quick: 3)")
    parser.add_argument("--atoms", type=int, nargs="+", default=None, choices=sorted(CELLS))
    parser.add_argument("--lmax", type=int, nargs="+", default=None)
    parser.add_argument("--correlation", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--nodes", type=int, default=None, help="default 1000 (quick: 100)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    atoms = args.atoms or ([64] if args.quick else [64, 256])
    lmaxes = args.lmax or ([1, 2] if args.quick else [1, 2, 3])
    nodes = args.nodes or (100 if args.quick else 1000)
    load = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"$ python bench/mace.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"{started}; {platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
        f"median of {rounds} alternating rounds; load average {load:.2f} at the start"
    )
    if args.part in ("model", "both"):
        model_part(atoms, args.thread_counts, rounds)
    if args.part in ("contraction", "both"):
        contraction_part(lmaxes, args.correlation, args.channels, nodes, args.thread_counts, rounds)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
