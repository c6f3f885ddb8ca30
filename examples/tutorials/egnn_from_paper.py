"""From the EGNN paper's equations to a spec, a trained model, and the same model reloaded.

docs/tutorials/egnn_from_paper.md walks through it. The spec ``egnn_from_paper.geo`` (next to
this file) writes equations 3-7 of Satorras, Hoogeboom & Welling, "E(n) Equivariant Graph
Neural Networks" (ICML 2021) one statement each. This script checks it (the type rules, then
``check`` numerically), trains it on the charged 5-body system of the paper's section 5.1
(simulated here by ``examples/data/nbody_charged.py``: frame 30 -> positions at frame 40),
compares it with the constant-velocity extrapolation, saves it with ``geoc.save``, loads it
back with ``geoc.load`` and verifies that the reloaded model equals the trained one (weights
and outputs, bit for bit).

    .venv/bin/python examples/tutorials/egnn_from_paper.py          # 3,000 systems, 60 epochs
    .venv/bin/python examples/tutorials/egnn_from_paper.py --quick  # seconds
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import geoc
from geoc.backends.torch_fx.verify import check, check_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # common.py
sys.path.insert(0, str(HERE.parent))  # examples/data
from common import arguments, pyplot, savefig, write_report  # noqa: E402
from data.nbody_charged import trajectories  # noqa: E402

SPEC = HERE / "egnn_from_paper.geo"
FRAME_IN, FRAME_OUT = 30, 40
SECONDS_PER_FRAME = 0.1  # 100 leapfrog steps of 1e-3 between stored frames


@dataclass(frozen=True)
class Settings:
    train: int = 3000
    val: int = 500
    test: int = 500
    epochs: int = 60
    batch: int = 100
    lr: float = 5e-4  # the authors' Adam learning rate
    hidden: int = 64
    depth: int = 4


QUICK = Settings(train=60, val=20, test=20, epochs=2, batch=20, hidden=16, depth=2)


def splits(settings: Settings, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    """Inputs (frame 30) and targets (frame 40) per split, float32."""
    sizes = (settings.train, settings.val, settings.test)
    made = trajectories(sum(sizes), seed)
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    out = {}
    for name, lo, hi in zip(("train", "val", "test"), bounds[:-1], bounds[1:], strict=True):
        out[name] = {
            "x": made["positions"][lo:hi, FRAME_IN].float(),
            "v": made["velocities"][lo:hi, FRAME_IN].float(),
            "q": made["charges"][lo:hi].float(),
            "y": made["positions"][lo:hi, FRAME_OUT].float(),
        }
    return out


def batches(split: dict[str, torch.Tensor], size: int, order: torch.Tensor | None = None):
    """Systems one after another (a ``batch`` vector says which node is whose)."""
    count, particles = split["q"].shape
    order = torch.arange(count) if order is None else order
    for start in range(0, count, size):
        rows = order[start : start + size]
        inputs = {
            "x": split["x"][rows].reshape(-1, 3),
            "v": split["v"][rows].reshape(-1, 3),
            "q": split["q"][rows].reshape(-1, 1),
            "batch": torch.arange(len(rows)).repeat_interleave(particles),
            "num_graphs": len(rows),
        }
        yield inputs, split["y"][rows].reshape(-1, 3)


@torch.no_grad()
def mse(model: torch.nn.Module, split: dict[str, torch.Tensor], size: int) -> float:
    errors = [(model(**inputs)["pos"] - y).square() for inputs, y in batches(split, size)]
    return float(torch.cat(errors).mean())


def train(model: torch.nn.Module, data: dict, settings: Settings, seed: int) -> dict:
    """Adam on the mean squared error of the positions; the weights of the best validation
    epoch are kept (the authors' protocol)."""
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=1e-12)
    shuffle = torch.Generator().manual_seed(seed)
    curve: dict[str, list[float]] = {"train": [], "val": []}
    best = (float("inf"), 0, None)
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(settings.train, generator=shuffle)
        losses = []
        for inputs, y in batches(data["train"], settings.batch, order):
            loss = torch.nn.functional.mse_loss(model(**inputs)["pos"], y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        model.eval()
        val = mse(model, data["val"], settings.batch)
        curve["train"].append(sum(losses) / len(losses))
        curve["val"].append(val)
        if val < best[0]:
            best = (val, epoch + 1, {k: t.clone() for k, t in model.state_dict().items()})
        print(f"epoch {epoch + 1:3d}  train {curve['train'][-1]:.5f}  val {val:.5f}", flush=True)
    model.load_state_dict(best[2])
    return {"curve": curve, "best_epoch": best[1], "best_val": best[0]}


def same_model(trained: torch.nn.Module, reloaded: torch.nn.Module, split: dict) -> bool:
    """Equal weights (every tensor, exactly) and equal outputs on a test batch (exactly)."""
    a, b = trained.state_dict(), reloaded.state_dict()
    weights = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    inputs, _ = next(batches(split, 50))
    with torch.no_grad():
        outputs = torch.equal(trained(**inputs)["pos"], reloaded(**inputs)["pos"])
    return weights and outputs


def plot(curve: dict, baseline: float, path: Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    epochs = range(1, len(curve["train"]) + 1)
    axis.semilogy(epochs, curve["train"], label="train")
    axis.semilogy(epochs, curve["val"], label="validation")
    axis.axhline(baseline, color="grey", linestyle=":", label="x + v·Δt (no model)")
    axis.set(xlabel="epoch", ylabel="MSE of positions", title="EGNN from eqs. 3-7, 5 charges")
    axis.legend()
    return savefig(figure, path)


def main(argv: list[str] | None = None) -> int:
    args = arguments("egnn_from_paper", __doc__, argv)
    settings = QUICK if args.quick else Settings()
    params = {"hidden": settings.hidden, "depth": settings.depth}

    verdict = check(SPEC, params=params)  # the type rules, then 3 trials in float64
    print(verdict.render())

    data = splits(settings, args.seed)
    test = data["test"]
    step = (FRAME_OUT - FRAME_IN) * SECONDS_PER_FRAME
    baseline = float((test["x"] + step * test["v"] - test["y"]).square().mean())

    model = geoc.compile(SPEC, params=params, seed=args.seed)
    weights = sum(p.numel() for p in model.parameters())
    print(f"{weights} parameters; {settings.train} training systems, {settings.epochs} epochs")
    result = train(model, data, settings, args.seed)
    test_mse = mse(model, test, settings.batch)
    trained_check = check_module(model)  # the trained weights keep the symmetry too
    folder = geoc.save(model, args.out / "model")
    reloaded = geoc.load(folder)
    equal = same_model(model, reloaded, test)
    reloaded_mse = mse(reloaded, test, settings.batch)
    figure = plot(result["curve"], baseline, args.out / "learning_curve.png")
    print(
        f"test MSE {test_mse:.5f} (best validation epoch {result['best_epoch']}); "
        f"constant velocity {baseline:.5f}"
    )
    print(
        f"trained model: geoc check {'passed' if trained_check.passed else 'FAILED'} "
        f"(max error {trained_check.max_error:.1e})"
    )
    print(
        f"saved to {folder}; reloaded: {'equal' if equal else 'DIFFERENT'} "
        f"(test MSE {reloaded_mse:.5f})"
    )
    write_report(
        args,
        {
            "check_passed": verdict.passed,
            "check_max_error": verdict.max_error,
            "trained_check_passed": trained_check.passed,
            "parameters": weights,
            "best_epoch": result["best_epoch"],
            "best_val_mse": result["best_val"],
            "test_mse": test_mse,
            "constant_velocity_mse": baseline,
            "reloaded_equal": equal,
            "reloaded_test_mse": reloaded_mse,
            "figure": str(figure),
            "settings": asdict(settings),
        },
    )
    return 0 if verdict.passed and trained_check.passed and equal else 1


if __name__ == "__main__":
    sys.exit(main())
