"""What the operator-learning examples share: train/test splits, the training loop, the
command line.

Both examples (FNO on Navier-Stokes, SFNO on shallow water) learn one step of a PDE from input
and target fields, with Adam on a relative L2 loss and a cosine learning rate, as Li et al.
(ICLR 2021) and Bonev et al. (ICML 2023) train theirs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

#: ``(model, inputs) -> predictions`` of a batch.
Predict = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]
#: ``(predictions, targets) -> per-sample loss`` of a batch.
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``(inputs, targets, generator) -> (inputs, targets)``: a random symmetry of a batch.
Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Split:
    """Network inputs and targets, ``[S, C, ...]``, sample by sample."""

    inputs: torch.Tensor
    targets: torch.Tensor


def held_out(samples: int) -> int:
    """How many samples are held out for testing: one sixth, at least one."""
    return max(1, samples // 6)


def split(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[Split, Split]:
    """Train and test sets, the test set the last :func:`held_out` samples."""
    n_test = held_out(len(inputs))
    train = Split(inputs[:-n_test], targets[:-n_test])
    return train, Split(inputs[-n_test:], targets[-n_test:])


def train(
    model: torch.nn.Module,
    data: Split,
    cfg: Any,
    predict: Predict,
    loss: Loss,
    augment: Augment | None = None,
) -> None:
    """Adam on the mean ``loss`` of the predictions, learning rate on a cosine to zero;
    ``cfg`` gives ``steps``, ``batch``, ``lr`` and ``seed``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.steps, 1))
    generator = torch.Generator().manual_seed(cfg.seed)
    for step in range(cfg.steps):
        batch = torch.randint(len(data.inputs), (cfg.batch,), generator=generator)
        inputs, targets = data.inputs[batch], data.targets[batch]
        if augment is not None:
            inputs, targets = augment(inputs, targets, generator)
        value = loss(predict(model, inputs), targets).mean()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            print(f"  step {step:4d}  train relative L2 {value.item():.4f}")


def parser(description: str, defaults: Any) -> argparse.ArgumentParser:
    """The options every example takes: ``--steps --samples --seed --out --threads``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="Adam steps")
    parser.add_argument("--samples", type=int, default=defaults.samples, help="train + test pairs")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", type=Path, default=defaults.out, help="the PNG to write")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    return parser


def common_args(args: argparse.Namespace) -> tuple[int, int, int, Path, int]:
    """The values of the options of :func:`parser`, in the order the examples' configs take."""
    return args.steps, args.samples, args.seed, args.out, args.threads
