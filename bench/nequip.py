"""The built-in nequip spec against NequIP-style code written with e3nn 0.6.0: a training step.

    python bench/nequip.py                     # 64 and 256 atoms, 1 and 2 threads
    python bench/nequip.py --atoms 256 --rounds 5
    python bench/nequip.py --quick             # 64 atoms, 8 channels, 1 thread (a smoke run)
    python bench/nequip.py --json nequip.json  # the rows as JSON too
    python bench/nequip.py --device cuda       # on a GPU (not yet run on one)

The e3nn model is written here from NequIP (Batzner et al., Nat. Commun. 13, 2453, 2022) with
the spec's defaults (``specs/nequip.geo``, ``periodic=true``): species embedding to 32x0e;
edge vectors ``pos[dst] - pos[src] + shift @ cell``; ``o3.SphericalHarmonics`` to lmax 2
(component normalisation, normalised vectors); 8 Bessel functions ``sqrt(2/c) sin(k pi d/c)/d``
times the polynomial envelope (p = 6) at cutoff 5 Å; per layer (3 layers) an
``o3.TensorProduct`` with one ``uvu`` instruction per path ``h_i x sh_j -> l_out`` whose output
is in ``32x0e + 32x1o + 32x2e``, per-edge weights from a radial MLP (Linear(8, 64), SiLU,
Linear(64, weights)), messages summed into ``dst``, ``o3.Linear`` to ``32x0e + 32x1o + 32x2e``
with a bias on ``0e``, and a gate (scalars through SiLU, copy ``i`` of 1o and 2e times
``sigmoid`` of scalar ``i``); energy ``o3.Linear(hidden, 0e)`` summed over the atoms. Forces
``-dE/dpos`` by autograd (``create_graph=True``). Differences from the NequIP package, all
shared by geoc's spec so both compute one function: the gate reads its gating scalars from the
features (NequIP adds extra gate scalars), no self-connection or 1/sqrt(neighbours) scaling,
and the radial MLP is two plain ``nn.Linear`` (NequIP's ``FullyConnectedNet`` scales by
``1/sqrt(fan_in)``, the same multiply-adds). geoc's weights are copied into the e3nn model
(``o3.Linear`` holds ``W.T * sqrt(fan_in)``: docs/operators.md) and energies and forces are
checked equal in float64 (1e-10 relative) before any timing.

Step (``bench/mace.py``'s ``training_step``): energy and forces (geoc:
``geoc.energy_forces_stress(module, inputs, training=True)``, which also returns the stress;
e3nn: ``torch.autograd.grad`` of the energy by the positions), the loss
``(E - E_ref)^2 / N + mean |F - F_ref|^2`` and its backward, float32, on rattled fcc Cu/Ni cells
(``mace.alloy``: 64 and 256 atoms, about 42 neighbours each). geoc searches its neighbours
inside every step (cell lists); e3nn's list (ASE's ``neighbor_list``) is computed once, outside
the timing. No ``torch.compile`` rows: it does not support the double backward of a force loss.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from e3nn import o3
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from mace import CELLS, alloy, training_step  # bench/mace.py
from timing import (
    bench_parser,
    float64_default,
    medians_ms,
    run_header,
    time_alternating,
    write_json,
)

import geoc

SPEC = {"periodic": True}  # the spec's defaults otherwise: 32 channels, lmax 2, depth 3
QUICK = {"periodic": True, "channels": 8, "depth": 2}
BASIS, RADIAL_HIDDEN, CUTOFF = 8, 64, 5.0


def hidden_irreps(channels: int, lmax: int) -> o3.Irreps:
    return o3.Irreps([(channels, (degree, (-1) ** degree)) for degree in range(lmax + 1)])


class Conv(nn.Module):
    """NequIP's interaction: uvu tensor product with radial weights, sum into dst, linear."""

    def __init__(self, irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_out: o3.Irreps) -> None:
        super().__init__()
        mid, instructions = [], []
        for i, (mul, ir_in) in enumerate(irreps_in):
            for j, (_, ir_edge) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_edge:
                    if ir_out in irreps_out:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        self.mid = o3.Irreps(mid)
        self.tp = o3.TensorProduct(
            irreps_in, irreps_sh, self.mid, instructions, shared_weights=False,
            internal_weights=False,
        )  # fmt: skip
        self.radial = nn.Sequential(
            nn.Linear(BASIS, RADIAL_HIDDEN),
            nn.SiLU(),
            nn.Linear(RADIAL_HIDDEN, self.tp.weight_numel),
        )
        self.linear = o3.Linear(self.mid, irreps_out, biases=True)

    def forward(self, h, sh, basis, src, dst):
        messages = self.tp(h[src], sh, self.radial(basis))
        summed = messages.new_zeros(h.shape[0], messages.shape[1]).index_add(0, dst, messages)
        return self.linear(summed)


def gate(x: torch.Tensor, irreps: o3.Irreps) -> torch.Tensor:
    """Scalars through SiLU; copy ``i`` of every other term times ``sigmoid(scalar i)``."""
    scalars = x[:, : irreps[0].mul]
    gates = torch.sigmoid(scalars).unsqueeze(-1)
    out, start = [F.silu(scalars)], irreps[0].dim
    for mul, ir in irreps[1:]:
        block = x[:, start : start + mul * ir.dim].reshape(-1, mul, ir.dim)
        out.append((block * gates[:, :mul]).flatten(1))
        start += mul * ir.dim
    return torch.cat(out, -1)


def bessel(d: torch.Tensor, p: int = 6) -> torch.Tensor:
    """``sqrt(2/c) sin(k pi d / c) / d`` (k = 1..8) times the polynomial envelope (DimeNet)."""
    k = torch.arange(1, BASIS + 1, dtype=d.dtype, device=d.device)
    x = d / CUTOFF
    envelope = (
        1
        - (p + 1) * (p + 2) / 2 * x**p
        + p * (p + 2) * x ** (p + 1)
        - p * (p + 1) / 2 * x ** (p + 2)
    )
    return math.sqrt(2 / CUTOFF) * torch.sin(k * math.pi * x) / d * envelope * (x < 1)


class E3nnNequIP(nn.Module):
    def __init__(self, species: int, channels: int, lmax: int, depth: int) -> None:
        super().__init__()
        self.hidden = hidden_irreps(channels, lmax)
        self.embed = nn.Embedding(species, channels)
        self.sh = o3.SphericalHarmonics(o3.Irreps.spherical_harmonics(lmax), True, "component")
        first = o3.Irreps(f"{channels}x0e")
        self.layers = nn.ModuleList(
            Conv(first if i == 0 else self.hidden, self.sh.irreps_out, self.hidden)
            for i in range(depth)
        )
        self.readout = o3.Linear(self.hidden, o3.Irreps("0e"), biases=True)

    def forward(self, z, pos, cell, src, dst, shift):
        r = pos[dst] - pos[src] + shift @ cell
        sh, basis = self.sh(r), bessel(r.norm(dim=-1, keepdim=True))
        h = self.embed(z)
        for layer in self.layers:
            h = gate(layer(h, sh, basis, src, dst), self.hidden)
        return self.readout(h).sum(0)


def neighbour_list(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ASE's periodic list as (src, dst, shift): ``pos[dst] - pos[src] + shift @ cell`` is the
    edge vector (ASE's ``D = pos[j] - pos[i] + S @ cell`` with src = i, dst = j)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    cell = inputs["cell"].double().numpy()
    atoms = Atoms(positions=inputs["pos"].double().numpy(), cell=cell, pbc=True)
    i, j, shift = neighbor_list("ijS", atoms, CUTOFF)
    return {
        "src": torch.as_tensor(i),
        "dst": torch.as_tensor(j),
        "shift": torch.as_tensor(shift, dtype=inputs["pos"].dtype),
    }


def e3nn_linear_weights(state: dict[str, torch.Tensor], prefix: str, linear: o3.Linear) -> None:
    """geoc's Schur blocks into ``o3.Linear``: weight (term i -> term o) = geoc's block
    ``W[o's copies, i's copies]`` transposed, times sqrt(fan_in) (copies of that irrep)."""

    def first_copies(irreps: o3.Irreps) -> tuple[list[int], dict[o3.Irrep, int]]:
        seen: dict[o3.Irrep, int] = {}
        first = []
        for mul, ir in irreps:
            first.append(seen.get(ir, 0))
            seen[ir] = seen.get(ir, 0) + mul
        return first, seen

    first_in, fan_in = first_copies(linear.irreps_in)
    first_out, _ = first_copies(linear.irreps_out)
    with torch.no_grad():
        offset = 0
        for ins in (i for i in linear.instructions if i.i_in >= 0):  # i_in = -1: biases
            (mul_in, ir), mul_out = linear.irreps_in[ins.i_in], linear.irreps_out[ins.i_out].mul
            a, b = first_in[ins.i_in], first_out[ins.i_out]
            weight = state[f"{prefix}.weight_{ir}"]
            block = weight[b : b + mul_out, a : a + mul_in].T * math.sqrt(fan_in[ir])
            linear.weight[offset : offset + block.numel()] = block.reshape(-1)
            offset += block.numel()
        linear.bias.copy_(state[f"{prefix}.bias_0e"])


def copy_weights(module: nn.Module, model: E3nnNequIP) -> None:
    state = dict(module.state_dict())
    with torch.no_grad():
        model.embed.weight.copy_(state["h.weight"])
        for i, layer in enumerate(model.layers):
            prefix = f"layers.{i}.h.tp_conv"
            for at, linear in ((0, 0), (1, 2)):
                layer.radial[linear].weight.copy_(state[f"{prefix}.radial.{at}.weight"])
                layer.radial[linear].bias.copy_(state[f"{prefix}.radial.{at}.bias"])
            e3nn_linear_weights(state, f"{prefix}.update", layer.linear)
        e3nn_linear_weights(state, "energy.linear", model.readout)


def e3nn_energy_forces(model: E3nnNequIP, edges: dict[str, torch.Tensor]) -> Callable:
    """``geoc.energy_forces_stress``'s signature for the e3nn model: energy and forces, with
    the graph of the forces kept for a loss on them."""

    def energy_forces(_: Any, inputs: dict[str, torch.Tensor], **__: Any) -> dict:
        pos = inputs["pos"].detach().requires_grad_(True)
        energy = model(inputs["z"], pos, inputs["cell"], **edges)
        (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=True)
        return {"energy": energy, "forces": -grad}

    return energy_forces


def build(params: dict[str, Any], dtype: torch.dtype) -> tuple[nn.Module, E3nnNequIP]:
    module = geoc.compile("nequip", params=params, dtype=dtype, validate=False)
    defaults = {"species": 4, "channels": 32, "lmax": 2, "depth": 3} | params
    with float64_default():  # exact constants; the model is cast to `dtype` next
        model = E3nnNequIP(
            defaults["species"], defaults["channels"], defaults["lmax"], defaults["depth"]
        )
    copy_weights(module, model.to(dtype))
    return module, model


def check_same_function(params: dict[str, Any]) -> None:
    """Energies and forces of geoc's nequip and the e3nn model, same weights, float64."""
    module, model = build(params, torch.float64)
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in alloy(64, seed=2).items()}
    ours = geoc.energy_forces_stress(module, inputs)
    theirs = e3nn_energy_forces(model, neighbour_list(inputs))(model, inputs)
    for name in ("energy", "forces"):
        a, b = ours[name].detach().reshape(-1), theirs[name].detach().reshape(-1)
        error = ((a - b).abs().max() / b.abs().max()).item()
        print(f"geoc and e3nn {name}: largest difference {error:.1e} of the largest value")
        if error > 1e-10:
            raise AssertionError(f"geoc and e3nn {name} differ by {error:.1e}")


def contenders(
    params: dict[str, Any], cpu_inputs: dict[str, torch.Tensor], device: torch.device
) -> dict[str, Callable]:
    module, model = build(params, torch.float32)
    module, model = module.to(device), model.to(device)
    inputs = {k: v.to(device) for k, v in cpu_inputs.items()}
    edges = {k: v.to(device) for k, v in neighbour_list(cpu_inputs).items()}
    runs = {"e3nn eager": training_step(model, inputs, e3nn_energy_forces(model, edges))}
    runs["geoc eager"] = training_step(module, inputs)
    if "optimize" in inspect.signature(geoc.compile).parameters:
        plain = geoc.compile("nequip", params=params, validate=False, optimize="none")
        runs["geoc optimize=none"] = training_step(plain.to(device), inputs)
    validated = geoc.compile("nequip", params=params, device=device)
    runs["geoc eager validate"] = training_step(validated, inputs)
    return runs


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--atoms", type=int, nargs="+", default=None, choices=sorted(CELLS))
    parser.add_argument("--thread-counts", type=int, nargs="+", default=None,
                        help="default 1 2 (quick: 1)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (quick: 2)")
    parser.add_argument("--quick", action="store_true", help="64 atoms, 8 channels, 1 thread")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    device = torch.device(args.device)
    params = QUICK if args.quick else SPEC
    atoms = args.atoms or ([64] if args.quick else [64, 256])
    threads = args.thread_counts or ([1] if args.quick else [1, 2])
    rounds = args.rounds or (2 if args.quick else 5)
    print(run_header(rounds))
    check_same_function(params)
    print(f"geoc and e3nn agree (float64, below 1e-10); params {params}")
    print("\n| atoms | threads | impl | median | e3nn / impl |")
    print("|---:|---:|---|---:|---:|")
    rows = []
    for count in threads:
        torch.set_num_threads(count)
        for n in atoms:
            runs = contenders(params, alloy(n), device)
            medians = medians_ms(time_alternating(runs, device, rounds, warmup=1))
            for impl, ms in medians.items():
                ratio = medians["e3nn eager"] / ms
                print(f"| {n} | {count} | {impl} | {ms:.0f} ms | {ratio:.2f}x |", flush=True)
                rows.append({"case": f"{n} atoms {count}t", "impl": impl, "median_ms": ms,
                             "threads": count})  # fmt: skip
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
