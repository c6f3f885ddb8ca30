"""Train the compiled MgNO (specs/mgno.geo) and an FNO of similar size on 2-D Darcy flow.

The Darcy benchmark of He, Liu & Xu, "MgNO: Efficient Parameterization of Linear Operators via
Multigrid" (ICLR 2024) and of Li et al. (FNO, ICLR 2021): learn the map from the permeability
a(x) to the pressure u(x) of -∇·(a ∇u) = 1 on the unit square with u = 0 on the boundary. The
data are made here by the finite-volume solver of examples/data/darcy.py (a = exp(ψ), ψ a
Gaussian random field; cached under --out), at 32 x 32 by default.

Both networks get the same inputs (log a, standardised by the training set's mean and
deviation), the same targets (u over the training set's deviation), and are trained the same
way in the same run: Adam, a cosine learning rate to zero, the same epochs and batches (one
seeded order), the relative L2 loss of Li et al.; the test relative L2 error of each is
printed. The FNO is `specs/fno_grid.geo` (the published FNO, grid coordinates as input), its
width and modes chosen so that its parameter count is close to MgNO's (both printed). The
trained MgNO is saved with ``geoc.save``, loaded back with ``geoc.load``, and must predict the
test set exactly as before.

    .venv/bin/python examples/darcy_mgno.py                 # 7 min on one thread (docs/mgno.md)
    .venv/bin/python examples/darcy_mgno.py --quick         # a smoke run (seconds)

Writes under ``--out``: the data cache, ``mgno/`` (the saved model), ``report.json`` and
``darcy_mgno.png`` (one test sample, if matplotlib is installed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

import geoc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/data when run as a script
from data.darcy import make_dataset
from data.files import write_atomic, write_text

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    """What one run does; ``--quick`` shrinks every size."""

    n: int = 32
    train: int = 1000
    test: int = 200
    epochs: int = 10
    batch: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    mgno_width: int = 24
    mgno_depth: int = 4
    mgno_smooth: int = 1
    mgno_post: int = 1
    fno_width: int = 24
    fno_modes: int = 5


QUICK = Settings(
    n=16, train=12, test=4, epochs=2, batch=4, mgno_width=4, mgno_depth=2, fno_width=4, fno_modes=3
)


@dataclass(frozen=True)
class Split:
    """Network inputs ``[S, 1, n, n]`` (standardised log a) and targets (scaled u)."""

    inputs: torch.Tensor
    targets: torch.Tensor


# --- data ------------------------------------------------------------------------------------


def dataset(settings: Settings, seed: int, out: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients and solutions ``[S, n, n]`` float64, train then test, made once per size and
    seed and cached under ``out`` (written to a temporary name, then renamed)."""
    samples = settings.train + settings.test
    cache = out / f"darcy_n{settings.n}_{samples}_seed{seed}.pt"
    if cache.exists():
        data = torch.load(cache, weights_only=True)
        return data["a"], data["u"]
    started = time.perf_counter()
    a, u = make_dataset(samples, settings.n, seed=seed)
    write_atomic(cache, lambda partial: torch.save({"a": a, "u": u}, partial))
    print(
        f"solved {samples} Darcy problems at {settings.n}x{settings.n} in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return a, u


def splits(a: torch.Tensor, u: torch.Tensor, train: int) -> tuple[Split, Split, float]:
    """Train and test splits in float32; log a standardised and u scaled by the training
    set's statistics (returned: the scale of u)."""
    log_a = a.log()
    mean, std = log_a[:train].mean(), log_a[:train].std()
    scale = float(u[:train].std())
    inputs = ((log_a - mean) / std).unsqueeze(1).float()
    targets = (u / scale).unsqueeze(1).float()
    return Split(inputs[:train], targets[:train]), Split(inputs[train:], targets[train:]), scale


def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ``‖pred - target‖ / ‖target‖`` (Li et al.'s metric)."""
    dims = tuple(range(1, pred.dim()))
    return (pred - target).square().sum(dims).sqrt() / target.square().sum(dims).sqrt()


# --- models and training ---------------------------------------------------------------------


def models(settings: Settings, seed: int) -> dict[str, torch.nn.Module]:
    """The compiled MgNO and FNO, each taking ``a`` and giving ``u`` over the grid."""
    mgno = geoc.compile(
        "mgno",
        params={
            "width": settings.mgno_width,
            "depth": settings.mgno_depth,
            "smooth": settings.mgno_smooth,
            "post": settings.mgno_post,
        },
        seed=seed,
    )
    fno = geoc.compile(
        "fno_grid",
        params={
            "width": settings.fno_width,
            "hidden": max(1, settings.fno_width // 2),
            "modes": settings.fno_modes,
        },
        seed=seed,
    )
    return {"MgNO": mgno, "FNO": fno}


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: torch.Tensor, batch: int = 50) -> torch.Tensor:
    return torch.cat([model(a=x)["u"] for x in inputs.split(batch)])


def train(
    name: str, model: torch.nn.Module, data: Split, settings: Settings, seed: int
) -> list[float]:
    """Adam with a cosine learning rate to zero over every step, the mean relative L2 loss,
    batches in one seeded order per epoch (the same for every model); the mean loss per epoch."""
    steps_per_epoch = len(data.inputs) // settings.batch
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, settings.epochs * steps_per_epoch)
    )
    order = torch.Generator().manual_seed(seed)
    losses, started = [], time.perf_counter()
    for epoch in range(settings.epochs):
        total = 0.0
        permutation = torch.randperm(len(data.inputs), generator=order)
        for step in range(steps_per_epoch):
            rows = permutation[step * settings.batch : (step + 1) * settings.batch]
            loss = relative_l2(model(a=data.inputs[rows])["u"], data.targets[rows]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        losses.append(total / max(steps_per_epoch, 1))
        progress(name, epoch + 1, settings.epochs, losses[-1], time.perf_counter() - started)
    return losses


def progress(name: str, epoch: int, epochs: int, loss: float, seconds: float) -> None:
    """One line per epoch, rewritten in place on a terminal; in a log, every 5th and the last."""
    line = f"  {name:4s} epoch {epoch:3d}/{epochs}  train relative L2 {loss:.4f}  {seconds:5.0f} s"
    if sys.stdout.isatty():
        print(f"\r{line}", end="\n" if epoch == epochs else "", flush=True)
    elif epoch % 5 == 0 or epoch == epochs:
        print(line, flush=True)


# --- output ----------------------------------------------------------------------------------


def plot(a: torch.Tensor, truth: torch.Tensor, preds: dict[str, torch.Tensor], path: Path) -> bool:
    """One test sample: log a, u, and each model's error; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(a.log(), "log a", "viridis"), (truth, "u (finite volumes)", "viridis")]
    panels += [(p - truth, f"{name} - u", "RdBu_r") for name, p in preds.items()]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for axis, (field, title, cmap) in zip(axes, panels, strict=True):
        limit = float(field.abs().max()) if cmap == "RdBu_r" else None
        image = axis.imshow(
            field.numpy().T,
            origin="lower",
            extent=(0, 1, 0, 1),
            cmap=cmap,
            vmin=-limit if limit else None,
            vmax=limit,
        )
        axis.set(title=title, xlabel="x", ylabel="y")
        figure.colorbar(image, ax=axis, shrink=0.8)
    figure.tight_layout()
    write_atomic(path, lambda partial: figure.savefig(partial, dpi=90))
    plt.close(figure)
    return True


def run(args: argparse.Namespace, settings: Settings) -> dict:
    """Make the data, train both models, compare, save and reload MgNO, plot, report."""
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    a, u = dataset(settings, args.data_seed, out)
    train_set, test_set, scale = splits(a, u, settings.train)
    nets = models(settings, args.seed)
    counts = {name: count(model) for name, model in nets.items()}
    print(
        f"{settings.train} train / {settings.test} test at {settings.n}x{settings.n}; "
        + ", ".join(f"{name} {c:,} parameters" for name, c in counts.items())
        + f"; {settings.epochs} epochs, {args.threads} thread(s)"
    )
    errors, seconds, preds = {}, {}, {}
    for name, model in nets.items():
        clock = time.perf_counter()
        train(name, model, train_set, settings, args.seed)
        seconds[name] = time.perf_counter() - clock
        preds[name] = predict(model, test_set.inputs)
        errors[name] = relative_l2(preds[name], test_set.targets).mean().item()
    folder = geoc.save(nets["MgNO"], out / "mgno")
    reloaded = predict(geoc.load(folder), test_set.inputs)
    same = bool(torch.equal(reloaded, preds["MgNO"]))
    physical = {name: p[0, 0] * scale for name, p in preds.items()}
    plotted = plot(a[settings.train], u[settings.train].float(), physical, out / "darcy_mgno.png")
    report = {
        "test_relative_l2": errors,
        "parameters": counts,
        "train_seconds": seconds,
        "reloaded_mgno_predicts_the_same": same,
        "wall_seconds": time.perf_counter() - started,
        "threads": args.threads,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "settings": asdict(settings),
    }
    write_text(out / "report.json", json.dumps(report, indent=1) + "\n")
    for name in nets:
        print(
            f"test relative L2 error: {name} {errors[name]:.4f} "
            f"({counts[name]:,} parameters, {seconds[name]:.0f} s of training)"
        )
    print(
        f"saved MgNO to {folder}; reloaded with geoc.load: {'the same' if same else 'DIFFERENT'}"
        " predictions"
    )
    print(f"plot: {out / 'darcy_mgno.png'}" if plotted else "no matplotlib: no plot")
    print(f"wall time {report['wall_seconds']:.0f} s")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, help="training epochs of each model (default 10)")
    parser.add_argument("--quick", action="store_true", help="tiny data, 2 epochs (CI)")
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order")
    parser.add_argument("--data-seed", type=int, default=0, help="the random coefficients")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "darcy_mgno")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    report = run(args, settings)
    return 0 if report["reloaded_mgno_predicts_the_same"] else 1


if __name__ == "__main__":
    sys.exit(main())
