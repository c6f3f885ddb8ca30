"""Train the compiled EGNN with velocities (specs/egnn_nbody.geo) on the charged 5-body system.

The N-body experiment of Satorras, Hoogeboom & Welling, "E(n) Equivariant Graph Neural
Networks" (ICML 2021, section 5.1, table 2: EGNN test MSE 0.0071): from the positions and
velocities of 5 charged particles at frame 30 of a trajectory, and their charges, predict the
positions at frame 40 (1,000 simulator steps later). The data are made here by
``examples/data/nbody_charged.py`` (the authors' 3-D version of NRI's charged system; 3,000
training, 2,000 validation and 2,000 test trajectories from ``--data-seed``, seconds) and
cached under ``--out``. The authors' protocol: Adam, learning rate 5e-4, weight decay 1e-12,
batches of 100 (the last partial batch of an epoch dropped), the mean squared error of the
positions, validation and test MSE every 5 epochs, and the test MSE at the best validation
epoch reported.

    .venv/bin/python examples/egnn_nbody.py                  # 1,000 epochs (examples/README.md)
    .venv/bin/python examples/egnn_nbody.py --epochs 10000   # the paper's length
    .venv/bin/python examples/egnn_nbody.py --quick          # a smoke run (seconds)

Writes under ``--out``: ``curves.json`` (rewritten at every evaluation, so a running job can be
read), ``learning_curve.png`` (if matplotlib is installed), ``model/`` (the best-validation
weights, ``geoc.save``) and ``report.json``; the saved model is loaded back with ``geoc.load``
and its test MSE computed again, which must equal the reported one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

import geoc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/data when run as a script
from data.files import write_atomic, write_text
from data.nbody_charged import ChargedSystem, trajectories

HERE = Path(__file__).resolve().parent

FRAME_IN, FRAME_OUT = 30, 40  # the authors' "nbody_small" task
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Settings:
    train: int = 3000
    val: int = 2000
    test: int = 2000
    epochs: int = 1000
    batch: int = 100
    lr: float = 5e-4
    weight_decay: float = 1e-12
    eval_every: int = 5
    hidden: int = 64
    depth: int = 4
    channels: int = 8  # multivector copies of `--spec cgenn_nbody`


QUICK = Settings(train=40, val=20, test=20, epochs=2, batch=10, eval_every=1)


# --- files -----------------------------------------------------------------------------------


# --- data ------------------------------------------------------------------------------------


def dataset(settings: Settings, seed: int, out: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Per split: inputs ``x``, ``v`` ``[S, 5, 3]`` (frame 30), charges ``q`` ``[S, 5]`` and
    targets ``y`` ``[S, 5, 3]`` (frame 40), float32. The trajectories (every frame) are made
    once per size and seed and cached under ``out``."""
    sizes = [settings.train, settings.val, settings.test]
    cache = out / f"charged5_{'_'.join(map(str, sizes))}_seed{seed}.pt"
    if cache.exists():
        data = torch.load(cache, weights_only=True)
    else:
        started = time.perf_counter()
        made = trajectories(sum(sizes), seed, ChargedSystem())
        data = {k: v.float() for k, v in made.items()}
        write_atomic(cache, lambda partial: torch.save(data, partial))
        print(f"simulated {sum(sizes)} trajectories in {time.perf_counter() - started:.1f} s")
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    return {
        name: {
            "x": data["positions"][lo:hi, FRAME_IN],
            "v": data["velocities"][lo:hi, FRAME_IN],
            "q": data["charges"][lo:hi],
            "y": data["positions"][lo:hi, FRAME_OUT],
        }
        for name, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:], strict=True)
    }


def batches(split: dict[str, torch.Tensor], size: int, shuffle: torch.Generator | None):
    """``(inputs, targets)`` per batch, PyTorch Geometric style (the particles of every system
    one after another, ``batch`` their system). Shuffled training drops the last partial batch,
    as the authors' loader does."""
    count, particles = split["q"].shape
    order = torch.randperm(count, generator=shuffle) if shuffle is not None else None
    stop = count - count % size if shuffle is not None else count
    for start in range(0, stop, size):
        rows = order[start : start + size] if order is not None else slice(start, start + size)
        systems = len(split["q"][rows])
        inputs = {
            "x": split["x"][rows].reshape(-1, 3),
            "v": split["v"][rows].reshape(-1, 3),
            "q": split["q"][rows].reshape(-1, 1),
            "batch": torch.arange(systems).repeat_interleave(particles),
            "num_graphs": systems,
        }
        yield inputs, split["y"][rows].reshape(-1, 3)


# --- training --------------------------------------------------------------------------------


@torch.no_grad()
def mse(model: torch.nn.Module, split: dict[str, torch.Tensor], size: int) -> float:
    """Mean squared error of the predicted positions over every coordinate of the split."""
    total, count = 0.0, 0
    for inputs, target in batches(split, size, None):
        total += float((model(**inputs)["pos"] - target).square().sum())
        count += target.numel()
    return total / count


def train(model, data, settings: Settings, seed: int, out: Path) -> dict:
    """The authors' loop; returns the curves and the best validation epoch with its test MSE
    and weights."""
    optimiser = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    shuffle = torch.Generator().manual_seed(seed)
    curves: dict = {"epoch": [], "train": [], "eval_epoch": [], "val": [], "test": []}
    best = {"epoch": -1, "val": math.inf, "test": math.nan, "state": None}
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        total, count = 0.0, 0
        for inputs, target in batches(data["train"], settings.batch, shuffle):
            loss = torch.nn.functional.mse_loss(model(**inputs)["pos"], target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, count = total + float(loss.detach()) * target.numel(), count + target.numel()
        curves["epoch"].append(epoch)
        curves["train"].append(total / count)
        line = f"epoch {epoch + 1:5d}/{settings.epochs}  train {total / count:.5f}"
        if epoch % settings.eval_every == 0 or epoch == settings.epochs - 1:
            model.eval()
            val, test = (mse(model, data[s], settings.batch) for s in ("val", "test"))
            for key, value in (("eval_epoch", epoch), ("val", val), ("test", test)):
                curves[key].append(value)
            if val < best["val"]:
                state = {k: t.detach().clone() for k, t in model.state_dict().items()}
                best = {"epoch": epoch, "val": val, "test": test, "state": state}
            line += f"  val {val:.5f}  test {test:.5f}  best val {best['val']:.5f}"
            line += f" (epoch {best['epoch'] + 1}, test {best['test']:.5f})"
            curves["seconds"] = time.perf_counter() - started
            write_text(out / "curves.json", json.dumps(curves) + "\n")
        seconds = (time.perf_counter() - started) / (epoch + 1)
        print(f"{line}  {seconds:.2f} s/epoch", flush=True)
    curves["seconds"] = time.perf_counter() - started
    return {"curves": curves, "best": best}


# --- reporting -------------------------------------------------------------------------------


def plot(curves: dict, best: dict, path: Path) -> bool:
    """The learning curves (log scale) with the best validation epoch marked; False without
    matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    epochs = [e + 1 for e in curves["epoch"]]
    evals = [e + 1 for e in curves["eval_epoch"]]
    axis.loglog(epochs, curves["train"], label="train", linewidth=0.8)
    axis.loglog(evals, curves["val"], label="validation")
    axis.loglog(evals, curves["test"], label="test", linestyle="--")
    # a first epoch that diverges would squash the rest: the evaluated errors set the top
    axis.set_ylim(top=2 * max(curves["val"] + curves["test"]))
    axis.axhline(0.0071, color="grey", linewidth=0.8, linestyle=":", label="paper (0.0071)")
    axis.axvline(best["epoch"] + 1, color="black", linewidth=0.6)
    axis.set(xlabel="epoch", ylabel="MSE of positions", title="EGNN on charged 5-body")
    axis.legend()
    figure.tight_layout()
    write_atomic(path, lambda partial: figure.savefig(partial, dpi=120))
    plt.close(figure)
    return True


def run(args: argparse.Namespace, settings: Settings) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = dataset(settings, args.data_seed, out)
    params = SPEC_PARAMS[args.spec](settings)
    model = geoc.compile(args.spec, params=params, seed=args.seed)
    weights = sum(p.numel() for p in model.parameters())
    print(f"{args.spec}: {weights} parameters, {args.threads} thread(s), {settings.epochs} epochs")
    result = train(model, data, settings, args.seed, out)
    best, curves = result["best"], result["curves"]
    if best["state"] is None:
        raise SystemExit(f"the validation MSE was never finite ({curves['val'][-1]}): diverged")
    model.load_state_dict(best["state"])
    folder = geoc.save(model, out / "model")
    reloaded = mse(geoc.load(folder), data["test"], settings.batch)
    plotted = plot(curves, best, out / "learning_curve.png")
    report = {
        "best_epoch": best["epoch"] + 1,
        "best_val_mse": best["val"],
        "test_mse_at_best_val": best["test"],
        "reloaded_test_mse": reloaded,
        "final_val_mse": curves["val"][-1],
        "final_test_mse": curves["test"][-1],
        "train_seconds": curves["seconds"],
        "seconds_per_epoch": curves["seconds"] / settings.epochs,
        "wall_seconds": time.perf_counter() - started,
        "parameters": weights,
        "threads": args.threads,
        "spec": args.spec,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "settings": asdict(settings),
    }
    write_text(out / "report.json", json.dumps(report, indent=1) + "\n")
    print(
        f"test MSE at the best validation epoch ({report['best_epoch']}): "
        f"{best['test']:.5f} (validation {best['val']:.5f}; the paper: 0.0071 after 10,000 "
        "epochs)"
    )
    same = "the same" if reloaded == best["test"] else "DIFFERENT"
    print(f"saved to {folder}; reloaded with geoc.load: test MSE {reloaded:.5f} ({same})")
    print(f"learning curve: {out / 'learning_curve.png'}" if plotted else "no matplotlib: no plot")
    print(f"wall time {report['wall_seconds']:.0f} s ({report['seconds_per_epoch']:.2f} s/epoch)")
    return report


#: The built-in specs this loop trains (same inputs and output) and their size parameters.
SPEC_PARAMS = {
    "egnn_nbody": lambda s: {"hidden": s.hidden, "depth": s.depth},
    "cgenn_nbody": lambda s: {"c": s.channels, "depth": s.depth},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, help="training epochs (default 1000)")
    parser.add_argument("--quick", action="store_true", help="tiny data, 2 epochs (CI)")
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order")
    parser.add_argument("--data-seed", type=int, default=0, help="the simulated trajectories")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--spec", choices=sorted(SPEC_PARAMS), default="egnn_nbody")
    parser.add_argument("--out", type=Path, help="default: examples/out/<spec>")
    args = parser.parse_args(argv)
    args.out = args.out or HERE / "out" / args.spec
    settings = QUICK if args.quick else Settings()
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    report = run(args, settings)
    return 0 if report["reloaded_test_mse"] == report["test_mse_at_best_val"] else 1


if __name__ == "__main__":
    sys.exit(main())
