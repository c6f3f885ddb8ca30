"""Predict the test accuracy of small CNNs from their weights: a weight-space model against
baselines, on a zoo trained here.

The zoo (examples/data/cnn_zoo.py): a few hundred two-layer CNNs of varied widths, seeds,
learning rates, training lengths and label noise, trained on a synthetic 4-class image task
and cached (default ``build/cnn_zoo``). Its networks are split, by a fixed seed, into
training, validation and test networks; each predictor learns a network's test accuracy from
its weights, and is scored on the held-out networks by the rank correlations Kendall τ and
Spearman ρ (what matters when ranking networks) and R².

The predictors, trained the same way (Adam, mean squared error on the standardised accuracy,
the epoch of best validation τ kept):

* **UNF** (``geoc.compile("unf_cnn")``, the built-in spec of Universal Neural Functionals,
  Zhou et al. 2023, on the weight space of the CNNs, invariant to permutations of their hidden
  channels), fed the calling convention of docs/weightspace.md: the list ``[K_1, b_1, K_2,
  b_2, W_head, b_head]`` zero-padded to the largest widths, and the true widths ``[batch,
  2]``. Skipped, with a message, where the spec is not built in.
* **MLP on flattened weights**: the padded weights as one vector (standardised per entry),
  an MLP: the plain baseline of the weight-space papers, blind to the symmetry.
* **Weight statistics** (Unterthiner et al. 2020, "Predicting Neural Network Accuracy from
  Weights"): per tensor, mean, variance and the 0/25/50/75/100% quantiles (42 numbers), an MLP.

    .venv/bin/python examples/cnn_zoo_accuracy.py           # 300 networks (docs/weightspace.md)
    .venv/bin/python examples/cnn_zoo_accuracy.py --quick   # 24 networks, a smoke run

Writes under ``--out``: ``results.md`` (the table), ``report.json`` and
``cnn_zoo_accuracy.png`` (predicted against true accuracy of the test networks, per model).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

import geoc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/data when run as a script
from data.cnn_zoo import ZooConfig, load_or_make, pad_networks
from data.files import write_atomic, write_text

HERE = Path(__file__).resolve().parent
UNF_SPEC = "unf_cnn"


@dataclass(frozen=True)
class Settings:
    """What one run does; ``--quick`` shrinks every size."""

    zoo: ZooConfig = field(default_factory=ZooConfig)
    train_fraction: float = 0.6
    val_fraction: float = 0.15
    epochs: int = 200
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = 64


QUICK = Settings(
    zoo=ZooConfig(
        networks=24,
        widths=(4, 8),
        lr=(2e-3, 3e-2),
        steps=(30, 300),
        train_images=500,
        test_images=300,
    ),
    epochs=15,
    batch=8,
    hidden=16,
)


@dataclass(frozen=True)
class Split:
    """Network indices of the zoo: training, validation, test."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def split_networks(count: int, settings: Settings, seed: int) -> Split:
    """A seeded permutation of the networks cut by the settings' fractions (each part at
    least two networks)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    n_train = max(2, round(settings.train_fraction * count))
    n_val = max(2, round(settings.val_fraction * count))
    return Split(order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])


# --- metrics ---------------------------------------------------------------------------------


def kendall_tau(x: torch.Tensor, y: torch.Tensor) -> float:
    """Kendall's τ-b (ties counted as in ``scipy.stats.kendalltau``), over all pairs."""
    dx = torch.sign(x.unsqueeze(0) - x.unsqueeze(1)).triu(1)
    dy = torch.sign(y.unsqueeze(0) - y.unsqueeze(1)).triu(1)
    concordance = (dx * dy).sum()
    denominator = ((dx != 0).sum() * (dy != 0).sum()).double().sqrt()
    return float(concordance / denominator) if denominator > 0 else float("nan")


def ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n, ties given their average rank."""
    greater = (x.unsqueeze(0) < x.unsqueeze(1)).sum(1).double()
    equal = (x.unsqueeze(0) == x.unsqueeze(1)).sum(1).double()
    return greater + (equal + 1) / 2


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman's ρ: Pearson's correlation of the (average) ranks."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / (rx.norm() * ry.norm()))


def r_squared(pred: torch.Tensor, true: torch.Tensor) -> float:
    """The coefficient of determination ``1 - SS_res / SS_tot``."""
    return float(1 - (pred - true).square().sum() / (true - true.mean()).square().sum())


def scores(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    pred, true = pred.double(), true.double()
    return {
        "kendall_tau": kendall_tau(pred, true),
        "spearman": spearman(pred, true),
        "r2": r_squared(pred, true),
    }


# --- features and models ---------------------------------------------------------------------


def flattened(padded: list[torch.Tensor]) -> torch.Tensor:
    """The padded weights of each network as one vector ``[batch, P]``."""
    return torch.cat([t.flatten(1) for t in padded], dim=1)


def statistics(networks: list[dict]) -> torch.Tensor:
    """Unterthiner et al.'s features: per state-dict tensor (unpadded), mean, variance and the
    0, 25, 50, 75, 100% quantiles; ``[batch, 7 x tensors]``."""
    levels = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    rows = []
    for net in networks:
        parts = []
        for tensor in net["state"].values():
            flat = tensor.double().flatten()
            moments = [flat.mean().view(1), flat.var().view(1)]
            parts += [*moments, torch.quantile(flat, levels.double())]
        rows.append(torch.cat(parts))
    return torch.stack(rows).float()


def standardise(features: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """Per column, minus the training networks' mean, over their deviation (1 where zero)."""
    mean, std = features[train].mean(0), features[train].std(0)
    return (features - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))


def mlp(inputs: int, hidden: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 1),
    )


#: ``(model, network indices) -> predictions [len(indices)]``.
Predict = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


def unf_params(padded: list[torch.Tensor]) -> dict:
    """The ``unf_cnn`` parameters that fit the padded networks: ``convs`` (the input channels
    and the largest widths), ``kernel``, ``head`` (the classes), ``padded=true``."""
    maxima = [int(t.shape[1]) for t in padded[:-2:2]]
    return {
        "convs": [int(padded[0].shape[2]), *maxima],
        "kernel": int(padded[0].shape[-1]),
        "head": [int(padded[-1].shape[1])],
        "padded": True,
    }


def unf_predictor(
    padded: list[torch.Tensor],
    widths: torch.Tensor,
    params: dict,
    seed: int,
    dtype: torch.dtype | None = None,
) -> tuple[torch.nn.Module, Predict]:
    """The compiled ``unf_cnn`` for the zoo's networks (:func:`unf_params`; ``params`` add to
    or override them) and how to call it: its weight-space input the padded list with the true
    widths ``[batch, L]`` as its last tensor (the ``padded=true`` convention of
    docs/weightspace.md), or as an input of its own where the spec declares one named
    ``widths``; its one output (a scalar per network) the prediction."""
    model = geoc.compile(UNF_SPEC, params={**unf_params(padded), **params}, seed=seed, dtype=dtype)
    ir = model.meta["geoc_ir"]
    inputs = list(ir.inputs)
    weights = next(name for name in inputs if name != "widths")
    output = next(iter(ir.outputs))

    def predict(model: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
        layers = [t[rows] for t in padded]
        if "widths" in inputs:
            kwargs = {weights: layers, "widths": widths[rows]}
        else:
            kwargs = {weights: [*layers, widths[rows]]}
        return model(**kwargs)[output].reshape(len(rows))

    return model, predict


def feature_predictor(
    features: torch.Tensor, hidden: int, seed: int
) -> tuple[torch.nn.Module, Predict]:
    def predict(model: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
        return model(features[rows]).squeeze(-1)

    return mlp(features.shape[1], hidden, seed), predict


# --- training --------------------------------------------------------------------------------


def fit(
    name: str,
    model: torch.nn.Module,
    predict: Predict,
    accuracy: torch.Tensor,
    split: Split,
    settings: Settings,
    seed: int,
) -> tuple[torch.Tensor, dict]:
    """Adam on the mean squared error of the standardised accuracy of the training networks,
    batches in one seeded order per epoch; the weights of the epoch with the best validation
    τ are kept. The test networks' predicted accuracies and the run's record."""
    mean, std = accuracy[split.train].mean(), accuracy[split.train].std()
    target = (accuracy - mean) / std
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    order = torch.Generator().manual_seed(seed)
    best, best_tau, best_epoch = copy.deepcopy(model.state_dict()), -2.0, 0
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        model.train()
        shuffled = split.train[torch.randperm(len(split.train), generator=order)]
        for rows in shuffled.split(settings.batch):
            loss = (predict(model, rows) - target[rows]).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            tau = kendall_tau(predict(model, split.val), accuracy[split.val])
        if tau > best_tau:
            best, best_tau, best_epoch = copy.deepcopy(model.state_dict()), tau, epoch
        progress(name, epoch, settings.epochs, loss.item(), tau, time.perf_counter() - started)
    model.load_state_dict(best)
    model.eval()
    with torch.no_grad():
        test = predict(model, split.test) * std + mean
    record = {
        "best_epoch": best_epoch,
        "val_kendall_tau": best_tau,
        "train_seconds": time.perf_counter() - started,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return test, record


def progress(name: str, epoch: int, epochs: int, loss: float, tau: float, seconds: float) -> None:
    """A line per epoch rewritten in place on a terminal; in a log, every 20th and the last."""
    line = (
        f"  {name:28s} epoch {epoch:4d}/{epochs}  train MSE {loss:.4f}  val τ {tau:+.3f}"
        f"  {seconds:5.0f} s"
    )
    if sys.stdout.isatty():
        print(f"\r{line}", end="\n" if epoch == epochs else "", flush=True)
    elif epoch % 20 == 0 or epoch == epochs:
        print(line, flush=True)


# --- output ----------------------------------------------------------------------------------


def plot(true: torch.Tensor, preds: dict[str, torch.Tensor], results: dict, path: Path) -> bool:
    """Predicted against true test accuracy of the held-out networks, a panel per model;
    False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(preds), figsize=(4.2 * len(preds), 4), squeeze=False)
    low, high = float(true.min()) - 0.03, float(true.max()) + 0.03
    for axis, (name, pred) in zip(axes[0], preds.items(), strict=True):
        axis.scatter(true.numpy(), pred.numpy(), s=12, alpha=0.7)
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        tau = results[name]["kendall_tau"]
        axis.set(title=f"{name}\nKendall τ {tau:.3f}", xlabel="true test accuracy")
        axis.set(xlim=(low, high), ylim=(low, high))
    axes[0][0].set_ylabel("predicted test accuracy")
    figure.tight_layout()
    write_atomic(path, lambda partial: figure.savefig(partial, dpi=90))
    plt.close(figure)
    return True


def table(results: dict, records: dict, split: Split) -> str:
    """The results as a markdown table."""
    lines = [
        f"Held-out test networks: {len(split.test)} (train {len(split.train)}, "
        f"validation {len(split.val)}).",
        "",
        "| model | parameters | Kendall τ | Spearman ρ | R² | best epoch | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rec = records[name]
        lines.append(
            f"| {name} | {rec['parameters']:,} | {r['kendall_tau']:.3f} | {r['spearman']:.3f} "
            f"| {r['r2']:.3f} | {rec['best_epoch']} | {rec['train_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, settings: Settings) -> dict:
    """Load or train the zoo, split it, fit each predictor, score, plot, report."""
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    zoo = load_or_make(settings.zoo, args.zoo_dir)
    networks = zoo["networks"]
    accuracy = torch.tensor([net["test_accuracy"] for net in networks])
    split = split_networks(len(networks), settings, args.split_seed)
    print(
        f"zoo: {len(networks)} networks, test accuracy {accuracy.min():.3f} to "
        f"{accuracy.max():.3f} (median {accuracy.median():.3f}); "
        f"{len(split.train)} train / {len(split.val)} val / {len(split.test)} test networks"
    )
    padded, widths = pad_networks(networks)
    candidates: dict[str, tuple[torch.nn.Module, Predict]] = {}
    candidates["UNF (geoc unf_cnn)"] = unf_predictor(padded, widths, args.unf_params, args.seed)
    flat = standardise(flattened(padded), split.train)
    stats = standardise(statistics(networks), split.train)
    candidates["MLP on flattened weights"] = feature_predictor(flat, settings.hidden, args.seed)
    candidates["weight statistics + MLP"] = feature_predictor(stats, settings.hidden, args.seed)
    results, records, preds = {}, {}, {}
    for name, (model, predict) in candidates.items():
        preds[name], records[name] = fit(name, model, predict, accuracy, split, settings, args.seed)
        results[name] = scores(preds[name], accuracy[split.test])
    text = table(results, records, split)
    write_text(out / "results.md", text)
    plotted = plot(accuracy[split.test], preds, results, out / "cnn_zoo_accuracy.png")
    report = {
        "results": results,
        "records": records,
        "zoo": {
            "networks": len(networks),
            "accuracy_min": float(accuracy.min()),
            "accuracy_max": float(accuracy.max()),
            "accuracy_median": float(accuracy.median()),
            "seconds_to_train": zoo["seconds"],
        },
        "wall_seconds": time.perf_counter() - started,
        "threads": args.threads,
        "seed": args.seed,
        "split_seed": args.split_seed,
        "settings": asdict(settings),
    }
    write_text(out / "report.json", json.dumps(report, indent=1) + "\n")
    print(text, end="")
    for name, r in results.items():
        print(f"Kendall tau: {name} {r['kendall_tau']:.3f}")
    print(f"plot: {out / 'cnn_zoo_accuracy.png'}" if plotted else "no matplotlib: no plot")
    print(f"wall time {report['wall_seconds']:.0f} s")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="24 networks, a few epochs (CI)")
    parser.add_argument("--networks", type=int, help="networks in the zoo (default 300)")
    parser.add_argument("--epochs", type=int, help="training epochs of each predictor")
    parser.add_argument("--seed", type=int, default=0, help="predictors' weights, batch order")
    parser.add_argument("--zoo-seed", type=int, default=0, help="the zoo's hyperparameters")
    parser.add_argument("--split-seed", type=int, default=0, help="train/val/test networks")
    parser.add_argument("--unf-params", type=json.loads, default={}, help="params of unf_cnn")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--zoo-dir", type=Path, default=HERE.parent / "build" / "cnn_zoo")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "cnn_zoo_accuracy")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    zoo = replace(settings.zoo, seed=args.zoo_seed)
    if args.networks is not None:
        zoo = replace(zoo, networks=args.networks)
    settings = replace(settings, zoo=zoo)
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    report = run(args, settings)
    finite = all(v == v for r in report["results"].values() for v in r.values())
    return 0 if finite else 1


if __name__ == "__main__":
    sys.exit(main())
