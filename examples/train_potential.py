"""Train the built-in NequIP (or MACE) spec as an interatomic potential on EMT data, save it,
reload it without geoc, and report test errors.

    .venv/bin/python examples/train_potential.py                # the default size (minutes)
    .venv/bin/python examples/train_potential.py --quick        # a smoke run (seconds)
    .venv/bin/python examples/train_potential.py --model mace   # specs/mace.geo instead

Data: ``examples/data/emt_alloy.py`` (a Cu/Ni alloy with a vacancy, Langevin MD at 300 K and
1200 K, a third of the frames strained; energies, forces and stresses from ASE's EMT), made
locally from ``--seed`` and cached under ``--out``. Split 80/10/10 into train, validation and
test. Model: ``nequip`` (or ``--model mace``) with ``periodic=true`` and integer species
(Cu -> 0, Ni -> 1).
Loss: mean squared errors of the energy per atom, the forces and the stress, weighted
``--energy-weight / --force-weight / --stress-weight``; Adam with a plateau learning-rate
schedule and early stopping on the validation loss (the best epoch's weights are kept). The
energy starts at the data's scale: the spec's per-atom energy terms (the summands of its
`energy` output, read off the IR) are species energies (an ``embed`` of the species: every
row the mean energy per atom) and readouts (each last layer scaled by the force spread; with
no species term, the last readout's bias is the mean energy per atom), so the saved model
predicts eV, eV/Å and eV/Å³ with nothing around it.

Writes ``learning_curves.png``, ``force_parity.png`` and the trained model (``potential/``, an
exported folder with energy, forces and stress as one program) under ``--out``, reloads the
model in a fresh interpreter that cannot import geoc and checks its forces equal the trained
module's, then prints the test MAEs (energy per atom in meV/atom, forces in meV/Å, stress in
meV/Å³).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import geoc

HERE = Path(__file__).parent
SPECIES = {29: 0, 28: 1}  # atomic number -> type index: Cu, Ni
#: The built-in specs ``--model`` picks, with their size beyond ``channels`` and ``cutoff``
#: (MACE at its spec's defaults: two interactions, correlation 3, harmonics up to l = 3).
MODELS: dict[str, dict[str, int]] = {"nequip": {"depth": 1}, "mace": {}}


@dataclass
class Settings:
    configs: int = 1000
    epochs: int = 40
    batch: int = 8
    channels: int = 8
    cutoff: float = 4.0
    lr: float = 5e-3
    patience: int = 6


QUICK = Settings(configs=40, epochs=2, batch=4, channels=4)


# --- data ------------------------------------------------------------------------------------


def dataset(settings: Settings, seed: int, out: Path) -> dict[str, torch.Tensor]:
    """The EMT data set, generated once per size and seed and cached under ``out``."""
    cache = out / f"emt_alloy_{settings.configs}_{seed}.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    sys.path.insert(0, str(HERE / "data"))
    from emt_alloy import generate

    data = generate(settings.configs, seed=seed)
    partial = cache.with_suffix(".partial")
    torch.save(data, partial)
    partial.replace(cache)
    return data


def split(count: int, seed: int) -> dict[str, torch.Tensor]:
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    train, val = round(0.8 * count), round(0.9 * count)
    return {"train": order[:train], "val": order[train:val], "test": order[val:]}


def batches(
    data: dict,
    rows: torch.Tensor,
    size: int,
    shuffle: torch.Generator | None,
    shard: tuple[int, int] = (0, 1),
):
    """Batches of structures as the model takes them, PyTorch Geometric style: the atoms of
    every structure one after another, ``batch`` their structure, one cell per structure.
    ``shard = (rank, world)``: this process's share of every batch (data-parallel training; a
    last batch smaller than ``world`` is dropped on every process alike)."""
    rank, world = shard
    if shuffle is not None:
        rows = rows[torch.randperm(len(rows), generator=shuffle)]
    lookup = torch.zeros(119, dtype=torch.long)
    for number, index in SPECIES.items():
        lookup[number] = index
    for start in range(0, len(rows), size):
        chosen = rows[start : start + size]
        if len(chosen) < world:
            continue
        chosen = chosen[rank::world]
        graphs, atoms = len(chosen), data["numbers"].shape[1]
        yield (
            {
                "z": lookup[data["numbers"][chosen]].reshape(-1),
                "pos": data["positions"][chosen].reshape(-1, 3).float(),
                "cell": data["cells"][chosen].float(),
                "batch": torch.arange(graphs).repeat_interleave(atoms),
                "num_graphs": graphs,
            },
            {
                "energy": data["energy"][chosen].float(),
                "forces": data["forces"][chosen].reshape(-1, 3).float(),
                "stress": data["stress"][chosen].float(),
            },
        )


# --- model and loss --------------------------------------------------------------------------


def build(
    name: str, settings: Settings, data: dict, rows: torch.Tensor, seed: int
) -> torch.nn.Module:
    """The spec ``name``, its energy started at the data's scale (module docstring)."""
    params = {"species": len(SPECIES), "channels": settings.channels, **MODELS[name]}
    params |= {"cutoff": settings.cutoff, "periodic": True}
    model = geoc.compile(name, params=params, seed=seed)
    atoms = data["numbers"].shape[1]
    per_atom = float((data["energy"][rows] / atoms).mean())
    spread = float(data["forces"][rows].std())
    start_at_scale(model, per_atom, spread)
    return model


def energy_terms(ir, output: str = "energy") -> list:
    """The IR nodes whose sum over the atoms is ``output``: the summands of its ``sum`` and
    ``add`` nodes, followed back from the output (nequip: one readout; MACE: the species
    energies and one readout per interaction)."""
    terms, pending = [], [ir.outputs[output].value.node]
    while pending:
        node = ir.node(pending.pop())
        if node.op in ("sum", "add"):
            pending += [ref.node for ref in reversed(node.inputs)]
        else:
            terms.append(node)
    return terms


def start_at_scale(model: torch.nn.Module, per_atom: float, spread: float) -> None:
    """Species energies (an ``embed`` of the species) start at the mean energy per atom; each
    readout's last layer (the module holding its last parameter) is scaled by the force
    spread; without species energies the last readout's bias takes the mean."""
    parameters = dict(model.named_parameters())
    terms = energy_terms(model.meta["geoc_ir"])
    species_energies = [t for t in terms if t.op == "embed"]
    biases = []
    with torch.no_grad():
        for node in terms:
            own = [name for name in parameters if name.startswith(f"{node.id}.")]
            if not own:  # a term without weights of its own: nothing to start
                continue
            if node in species_energies:
                for name in own:
                    parameters[name].fill_(per_atom)
                continue
            last_layer = own[-1].rsplit(".", 1)[0]
            for name in (n for n in own if n.rsplit(".", 1)[0] == last_layer):
                parameters[name].mul_(spread)
            biases += [n for n in own if n.startswith(f"{last_layer}.bias")]
        if not species_energies:
            parameters[biases[-1]].fill_(per_atom)


def predict(model: torch.nn.Module, inputs: dict, training: bool) -> dict[str, torch.Tensor]:
    out = geoc.energy_forces_stress(model, inputs, training=training)
    return {
        "energy": out["energy"].reshape(-1),
        "forces": out["forces"],
        "stress": out["stress_voigt"],
    }


def loss_terms(pred: dict, target: dict, atoms: int) -> dict[str, torch.Tensor]:
    return {
        "energy": ((pred["energy"] - target["energy"]) / atoms).pow(2).mean(),
        "forces": (pred["forces"] - target["forces"]).pow(2).mean(),
        "stress": (pred["stress"] - target["stress"]).pow(2).mean(),
    }


def evaluate(model, data, rows, settings, weights) -> tuple[float, dict[str, torch.Tensor]]:
    """The weighted loss over ``rows`` and every prediction with its target."""
    atoms, total, pairs = data["numbers"].shape[1], 0.0, {"pred": [], "true": []}
    for inputs, target in batches(data, rows, settings.batch, None):
        pred = predict(model, inputs, training=False)
        terms = loss_terms(pred, target, atoms)
        loss = sum(weights[k] * v.detach() for k, v in terms.items())
        total += float(loss) * inputs["num_graphs"]
        pairs["pred"].append({k: v.detach() for k, v in pred.items()})
        pairs["true"].append(target)
    merged = {
        side: {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        for side, parts in pairs.items()
    }
    return total / len(rows), merged


# --- training --------------------------------------------------------------------------------


def train(model, data, rows, settings, weights, seed, shard=(0, 1)) -> dict[str, list[float]]:
    """Adam, plateau schedule, early stopping; the best epoch's weights are kept. Under DDP
    every process sees the same validation loss (parameters stay equal), so all stop alike."""
    verbose = shard[0] == 0
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=2)
    shuffle = torch.Generator().manual_seed(seed)
    atoms = data["numbers"].shape[1]
    curves: dict[str, list[float]] = {"train": [], "val": [], "lr": []}
    best, best_state, waited = math.inf, None, 0
    for epoch in range(settings.epochs):
        start, seen, running = time.perf_counter(), 0, 0.0
        for inputs, target in batches(data, rows["train"], settings.batch, shuffle, shard):
            terms = loss_terms(predict(model, inputs, training=True), target, atoms)
            loss = sum(weights[k] * v for k, v in terms.items())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            seen += inputs["num_graphs"]
            running += float(loss.detach()) * inputs["num_graphs"]
            if verbose:
                done = seen * shard[1]
                _bar(epoch, settings.epochs, done, len(rows["train"]), running / seen, start)
        val, _ = evaluate(model, data, rows["val"], settings, weights)
        schedule.step(val)
        curves["train"].append(running / seen)
        curves["val"].append(val)
        curves["lr"].append(optimiser.param_groups[0]["lr"])
        if verbose:
            print(f"  val {val:.4g}  lr {curves['lr'][-1]:.2g}", file=sys.stderr)
        if val < best:
            best, waited = val, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= settings.patience:
                if verbose:
                    print(f"early stop after epoch {epoch + 1}", file=sys.stderr)
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return curves


def _bar(epoch: int, epochs: int, seen: int, total: int, loss: float, start: float) -> None:
    filled = round(24 * seen / total)
    rate = seen / max(time.perf_counter() - start, 1e-9)
    print(
        f"\repoch {epoch + 1}/{epochs} [{'#' * filled}{'.' * (24 - filled)}] {seen}/{total} "
        f"loss {loss:.4g} ({rate:.1f} structures/s)",
        end="",
        file=sys.stderr,
    )


# --- reporting -------------------------------------------------------------------------------


def plots(curves: dict, test: dict, out: Path, name: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    epochs = range(1, len(curves["train"]) + 1)
    axis.semilogy(epochs, curves["train"], label="train")
    axis.semilogy(epochs, curves["val"], label="validation")
    axis.set(xlabel="epoch", ylabel="loss", title=f"{name} on EMT Cu/Ni")
    axis.legend()
    figure.tight_layout()
    curves_png = out / "learning_curves.png"
    figure.savefig(curves_png, dpi=120)
    figure, axis = plt.subplots(figsize=(4, 4))
    true, pred = test["true"]["forces"].reshape(-1), test["pred"]["forces"].reshape(-1)
    axis.scatter(true, pred, s=2, alpha=0.4)
    low, high = float(true.min()), float(true.max())
    axis.plot([low, high], [low, high], color="black", linewidth=0.8)
    axis.set(xlabel="EMT force (eV/Å)", ylabel="predicted (eV/Å)", title="test forces")
    figure.tight_layout()
    parity_png = out / "force_parity.png"
    figure.savefig(parity_png, dpi=120)
    plt.close("all")
    return [curves_png, parity_png]


def test_errors(test: dict, atoms: int) -> dict[str, float]:
    pred, true = test["pred"], test["true"]
    return {
        "energy_mae_mev_per_atom": 1e3
        * float(((pred["energy"] - true["energy"]) / atoms).abs().mean()),
        "force_mae_mev_per_a": 1e3 * float((pred["forces"] - true["forces"]).abs().mean()),
        "force_std_mev_per_a": 1e3 * float(true["forces"].std()),
        "stress_mae_mev_per_a3": 1e3 * float((pred["stress"] - true["stress"]).abs().mean()),
    }


_RELOAD = """
import importlib.abc, importlib.util, sys, torch
class NoGeoc(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "geoc" or name.startswith("geoc."):
            raise ImportError("the saved model imported geoc")
sys.meta_path.insert(0, NoGeoc())
folder, inputs, out = sys.argv[1:]
spec = importlib.util.spec_from_file_location(
    "saved", folder + "/__init__.py", submodule_search_locations=[folder])
package = importlib.util.module_from_spec(spec); sys.modules["saved"] = package
spec.loader.exec_module(package)
from saved import potential
torch.save(potential.load()(**torch.load(inputs, weights_only=True)), out)
"""


def save_and_reload(model, data, rows, settings, out: Path) -> float:
    """Save the trained model (an exported potential folder), run it in a fresh interpreter
    that cannot import geoc on a test batch; the largest force difference to the module."""
    folder = geoc.export_potential(model, out / "potential")
    inputs, _ = next(batches(data, rows, settings.batch, None))
    given = {k: v for k, v in inputs.items() if k != "num_graphs"}
    torch.save(given, out / "reload_inputs.pt")
    command = [sys.executable, "-c", _RELOAD, str(folder), str(out / "reload_inputs.pt")]
    subprocess.run([*command, str(out / "reload_out.pt")], check=True)
    reloaded = torch.load(out / "reload_out.pt", weights_only=True)
    here = predict(model, inputs, training=False)
    return float((reloaded["forces"].detach() - here["forces"].detach()).abs().max())


def run(args: argparse.Namespace, settings: Settings, shard: tuple[int, int] = (0, 1)) -> None:
    """Train (this process's share under DDP); process 0 then tests, plots, saves, reports."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    weights = {"energy": args.energy_weight, "forces": args.force_weight}
    weights["stress"] = args.stress_weight
    started = time.perf_counter()
    data = dataset(settings, args.seed, args.out)
    rows = split(len(data["energy"]), args.seed)
    model = build(args.model, settings, data, rows["train"], args.seed)
    if shard[1] > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    curves = train(model, data, rows, settings, weights, args.seed, shard)
    model = getattr(model, "module", model)
    if shard[0] != 0:
        return
    _, test = evaluate(model, data, rows["test"], settings, weights)
    errors = test_errors(test, data["numbers"].shape[1])
    written = plots(curves, test, args.out, args.model)
    reload_gap = save_and_reload(model, data, rows["test"], settings, args.out)
    errors |= {"reload_max_force_difference": reload_gap, "seconds": time.perf_counter() - started}
    (args.out / "report.json").write_text(json.dumps(errors, indent=1) + "\n")
    print(f"test energy MAE {errors['energy_mae_mev_per_atom']:.2f} meV/atom")
    print(
        f"test force MAE {errors['force_mae_mev_per_a']:.1f} meV/Å "
        f"({100 * errors['force_mae_mev_per_a'] / errors['force_std_mev_per_a']:.1f}% of the "
        f"test forces' std {errors['force_std_mev_per_a']:.0f} meV/Å)"
    )
    print(f"test stress MAE {errors['stress_mae_mev_per_a3']:.2f} meV/Å³")
    print(f"reloaded without geoc: forces differ by at most {reload_gap:.1e} eV/Å")
    print(f"wrote {', '.join(str(p) for p in written)} and {args.out / 'potential'}")
    print(f"{errors['seconds']:.0f} s in all")


def _ddp_worker(rank: int, args: argparse.Namespace, settings: Settings, rendezvous: str) -> None:
    import torch.distributed as dist

    # The ranks meet through a file, not a TCP port a second process could take first.
    dist.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=args.ddp
    )
    run(args, settings, (rank, args.ddp))
    # Leave without tearing torch.distributed down: freeing the DDP reducer here, holding the
    # GIL, joins gloo's worker thread, which may still free a finished allreduce and wait for
    # the GIL (a deadlock seen with torch 2.13 under load). Everything is written by now.
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (CI's smoke test)")
    parser.add_argument("--model", choices=list(MODELS), default="nequip", help="the spec")
    parser.add_argument("--configs", type=int, help="structures in the data set")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument(
        "--ddp", type=int, default=1, metavar="N",
        help="data-parallel training on N CPU processes (torch DDP over gloo)",
    )  # fmt: skip
    parser.add_argument("--energy-weight", type=float, default=1.0)
    parser.add_argument("--force-weight", type=float, default=10.0)
    parser.add_argument("--stress-weight", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "potential_run")
    args = parser.parse_args()
    settings = QUICK if args.quick else Settings()
    settings.configs = args.configs or settings.configs
    settings.epochs = args.epochs or settings.epochs
    args.out.mkdir(parents=True, exist_ok=True)
    if args.ddp <= 1:
        run(args, settings)
        return
    dataset(settings, args.seed, args.out)  # made once, before the processes read the cache
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as meeting:
        rendezvous = str(Path(meeting) / "rendezvous")
        mp.spawn(_ddp_worker, args=(args, settings, rendezvous), nprocs=args.ddp, join=True)


if __name__ == "__main__":
    main()
