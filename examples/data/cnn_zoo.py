"""A zoo of small trained CNNs on a synthetic image task, for predicting accuracy from weights.

The task (no downloads): 12 x 12 grayscale images of one of four procedurally drawn shapes, a
horizontal bar, a vertical bar, a diagonal stroke or a round blob, at a random place, length,
thickness and brightness, on a random background with Gaussian pixel noise; the label is the
shape. A fixed task seed draws the training and the held-out test images once.

Every network of the zoo is

    conv(1 -> c_1, 3x3, pad 1) relu conv(c_1 -> c_2, 3x3, pad 1) relu global-average-pool
    linear(c_2 -> 4)

(:class:`SmallCNN`; its state-dict names ``conv1.weight, conv1.bias, conv2.weight,
conv2.bias, head.weight, head.bias``), trained with Adam on the cross-entropy of its own
shuffle of the training images. The zoo seed draws, per network: the hidden widths
``c_1, c_2`` from {4, 6, 8, 12, 16}, the initialisation seed, the learning rate
(log-uniform), the number of steps (log-uniform) and a label-noise fraction (training labels
replaced by random ones), so that test accuracies spread from chance to above 90%. Networks of
the same widths train together, as one batch of grouped convolutions with a per-network
learning rate and step count (:func:`train_group`): 300 networks take a few minutes on one
thread.

The weight-space calling convention of geoc (docs/weightspace.md): a batch of networks is the
list ``[K_1, b_1, ..., K_L, b_L, W_head, b_head]`` of the state-dict tensors stacked over a
leading batch (``K_i [batch, c_i, c_{i-1}, 3, 3]``, ``b_i [batch, c_i]``, ``W_head [batch, 4,
c_L]``, ``b_head [batch, 4]``). Networks of different widths are stacked by zero-padding their
hidden channels to the largest widths (:func:`pad_networks`), which leaves the function of
each network unchanged: a zero channel has zero pre-activation, relu(0) = 0, and it meets
only zero weights downstream. The true widths come with it as ``[batch, L]``.

    >>> zoo = make_zoo(ZooConfig(networks=2, steps=(2, 3), train_images=64, test_images=32))
    >>> [sorted(net) for net in zoo["networks"]][0]
    ['hyper', 'state', 'test_accuracy', 'widths']
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

CLASSES = ("horizontal bar", "vertical bar", "diagonal", "blob")
KERNEL = 3  # every conv is 3 x 3 with padding 1, so the image size never changes


def names(layers: int) -> list[str]:
    """The state-dict names of a network of ``layers`` convs, in calling-convention order:
    ``conv1.weight, conv1.bias, ..., convL.bias, head.weight, head.bias``."""
    convs = [f"conv{i}.{kind}" for i in range(1, layers + 1) for kind in ("weight", "bias")]
    return [*convs, "head.weight", "head.bias"]


# --- the image task --------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """The synthetic image task; ``seed`` fixes its images."""

    size: int = 12
    noise: float = 0.25
    seed: int = 0


def shapes(count: int, task: Task, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images ``[count, 1, size, size]`` (float32) and labels ``[count]``: each of
    the four shapes drawn for every image, one kept by its label (module docstring)."""
    n = task.size

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, 1, 1, generator=generator)

    def integer(low: int, high: int) -> torch.Tensor:
        return torch.randint(low, high + 1, (count, 1, 1), generator=generator).float()

    grid = torch.arange(n, dtype=torch.float32)
    y, x = grid.view(1, n, 1), grid.view(1, 1, n)
    length, thick = integer(4, 9), integer(1, 2)
    row, start = integer(1, n - 3), torch.floor(uniform(0, 1) * (n - length + 1))
    horizontal = ((y >= row) & (y < row + thick) & (x >= start) & (x < start + length)).float()
    vertical = horizontal.transpose(1, 2)
    slope = torch.where(torch.rand(count, 1, 1, generator=generator) < 0.5, 1.0, -1.0)
    cy, cx = uniform(3, n - 4), uniform(3, n - 4)
    along = (y - cy) + slope * (x - cx)  # position along the stroke, across is the other sum
    diagonal = (((y - cy) - slope * (x - cx)).abs() <= 0.5 * thick) & (along.abs() <= length / 2)
    sigma = uniform(0.9, 1.8)
    blob = torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
    drawn = torch.stack([horizontal, vertical, diagonal.float(), blob], dim=1)
    labels = torch.randint(len(CLASSES), (count,), generator=generator)
    image = drawn[torch.arange(count), labels]
    brightness, background = uniform(0.6, 1.3), uniform(-0.3, 0.3)
    noise = task.noise * torch.randn(count, n, n, generator=generator)
    return (background + brightness * image + noise).unsqueeze(1), labels


def task_images(task: Task, train: int, test: int) -> dict[str, torch.Tensor]:
    """The training and held-out test images of the task, drawn once from ``task.seed``."""
    generator = torch.Generator().manual_seed(task.seed)
    x_train, y_train = shapes(train, task, generator)
    x_test, y_test = shapes(test, task, generator)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# --- the networks ----------------------------------------------------------------------------


class SmallCNN(torch.nn.Module):
    """One zoo network as a plain module (the reference the batched code is tested against)."""

    def __init__(self, widths: Sequence[int], channels: int = 1, classes: int = 4) -> None:
        super().__init__()
        sizes = [channels, *widths]
        for i in range(1, len(sizes)):
            conv = torch.nn.Conv2d(sizes[i - 1], sizes[i], KERNEL, padding=KERNEL // 2)
            self.add_module(f"conv{i}", conv)
        self.head = torch.nn.Linear(sizes[-1], classes)
        self.layers = len(widths)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = images
        for i in range(1, self.layers + 1):
            h = torch.relu(getattr(self, f"conv{i}")(h))
        return self.head(h.mean(dim=(-2, -1)))


def batched_logits(params: Sequence[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """The logits ``[batch, B, classes]`` of a batch of networks (``params`` in the calling
    convention, every tensor with a leading network axis) on images ``[B, c_0, H, W]`` (the
    same for every network) or ``[batch, B, c_0, H, W]`` (per network): one grouped
    convolution per layer over all networks at once."""
    nets = params[0].shape[0]
    if images.dim() == 4:
        images = images.unsqueeze(0).expand(nets, *images.shape)
    count, h = images.shape[1], images.transpose(0, 1).flatten(1, 2)  # [B, nets * c_0, H, W]
    for kernel, bias in zip(params[:-2:2], params[1:-2:2], strict=True):
        flat = kernel.flatten(0, 1)  # [nets * c_i, c_{i-1}, k, k]
        h = torch.relu(F.conv2d(h, flat, bias.flatten(), padding=KERNEL // 2, groups=nets))
    pooled = h.mean(dim=(-2, -1)).view(count, nets, -1)  # [B, nets, c_L]
    return torch.einsum("bnc,noc->nbo", pooled, params[-2]) + params[-1].unsqueeze(1)


def initial_params(widths: Sequence[int], seed: int, classes: int = 4) -> list[torch.Tensor]:
    """One network's parameters as PyTorch initialises ``SmallCNN(widths)`` from ``seed``."""
    torch.manual_seed(seed)  # nn.init draws from the global generator
    module = SmallCNN(widths, classes=classes)
    state = module.state_dict()
    return [state[name].detach().clone() for name in names(len(widths))]


# --- the zoo ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooConfig:
    """How the zoo is drawn; ``seed`` fixes every network's hyperparameters."""

    networks: int = 300
    seed: int = 0
    widths: tuple[int, ...] = (4, 6, 8, 12, 16)
    layers: int = 2
    lr: tuple[float, float] = (1e-3, 3e-2)
    steps: tuple[int, int] = (40, 1200)
    label_noise: tuple[float, ...] = (0.0, 0.0, 0.0, 0.2, 0.4, 0.6)
    batch: int = 32
    train_images: int = 2000
    test_images: int = 1000
    task: Task = field(default_factory=Task)


def draw_hyperparameters(config: ZooConfig) -> list[dict]:
    """Per network: widths, initialisation seed, learning rate, steps, label noise; network
    ``i``'s draw does not depend on how many networks follow it."""
    generator = torch.Generator().manual_seed(config.seed)
    hypers = []
    for _ in range(config.networks):
        u = torch.rand(4, generator=generator).tolist()
        pick = torch.randint(len(config.widths), (config.layers,), generator=generator).tolist()
        noise = config.label_noise[int(u[3] * len(config.label_noise))]
        (lr_lo, lr_hi), (s_lo, s_hi) = config.lr, config.steps
        hypers.append(
            {
                "widths": [config.widths[k] for k in pick],
                "seed": int(torch.randint(2**31 - 1, (), generator=generator)),
                "lr": lr_lo * (lr_hi / lr_lo) ** u[0],
                "steps": round(s_lo * (s_hi / s_lo) ** u[1]),
                "label_noise": noise,
                "batch": config.batch,
            }
        )
    return hypers


def noisy_labels(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """``labels`` with a ``fraction`` of them (chosen from ``seed``) replaced by random ones."""
    generator = torch.Generator().manual_seed(seed + 1)
    flip = torch.rand(len(labels), generator=generator) < fraction
    random = torch.randint(int(labels.max()) + 1, labels.shape, generator=generator)
    return torch.where(flip, random, labels)


def train_group(hypers: list[dict], data: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Train networks of the same widths together: Adam (per-network learning rate, each
    network stepping only until its own step count) on the sum of the networks' mean
    cross-entropies, so each network's gradient is its own; the trained parameters, in the
    order of ``hypers``. Networks run longest first, so a step computes only the networks
    still training (a prefix of the batch)."""
    order = sorted(range(len(hypers)), key=lambda i: -hypers[i]["steps"])
    hypers = [hypers[i] for i in order]
    per_net = [initial_params(h["widths"], h["seed"]) for h in hypers]
    params = [torch.stack(ts).requires_grad_() for ts in zip(*per_net, strict=True)]
    labels = torch.stack(
        [noisy_labels(data["y_train"], h["label_noise"], h["seed"]) for h in hypers]
    )
    batch, steps = hypers[0]["batch"], [h["steps"] for h in hypers]
    orders = torch.stack([batches(len(labels[0]), steps[0], batch, h["seed"]) for h in hypers])
    lr = torch.tensor([h["lr"] for h in hypers])
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    active = len(hypers)
    for step in range(steps[0]):
        while steps[active - 1] <= step:
            active -= 1
        live = [p[:active] for p in params]
        index = orders[:active, step]
        logits = batched_logits(live, data["x_train"][index])
        targets = labels[:active].gather(1, index)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        grads = torch.autograd.grad(loss.view(active, batch).mean(1).sum(), live)
        adam(live, grads, moments, lr[:active], step + 1)
    back = [0] * len(order)
    for position, i in enumerate(order):
        back[i] = position
    return [p.detach()[back] for p in params]


def batches(count: int, steps: int, batch: int, seed: int) -> torch.Tensor:
    """A network's training batches ``[steps, batch]`` (indices with replacement) from its
    seed; a shorter run uses a prefix of the same sequence."""
    return torch.randint(count, (steps, batch), generator=torch.Generator().manual_seed(seed + 2))


@torch.no_grad()
def adam(
    live: list[torch.Tensor],
    grads: Sequence[torch.Tensor],
    moments: list[tuple[torch.Tensor, torch.Tensor]],
    lr: torch.Tensor,
    t: int,
) -> None:
    """One Adam step (Kingma & Ba, the defaults of ``torch.optim.Adam``) of the first
    ``len(lr)`` networks, each at its own learning rate."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for p, g, (m_all, v_all) in zip(live, grads, moments, strict=True):
        m, v = m_all[: len(lr)], v_all[: len(lr)]
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        update = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        p.sub_(lr.view(-1, *[1] * (p.dim() - 1)) * update)


@torch.no_grad()
def accuracy(
    params: Sequence[torch.Tensor], images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Per-network fraction of ``images`` classified as ``labels``, ``[nets]``."""
    correct = [
        (batched_logits(params, x).argmax(-1) == y).float().sum(1)
        for x, y in zip(images.split(500), labels.split(500), strict=True)
    ]
    return torch.stack(correct).sum(0) / len(labels)


def make_zoo(config: ZooConfig, progress: Callable[[int, int, float], None] | None = None) -> dict:
    """Train every network of the zoo (grouped by widths) and measure its test accuracy; a
    dict of the config, the task and per network ``state``, ``widths``, ``hyper`` and
    ``test_accuracy``, in draw order."""
    started = time.perf_counter()
    data = task_images(config.task, config.train_images, config.test_images)
    hypers = draw_hyperparameters(config)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, h in enumerate(hypers):
        groups.setdefault(tuple(h["widths"]), []).append(i)
    networks: list[dict | None] = [None] * len(hypers)
    done = 0
    for members in groups.values():
        trained = train_group([hypers[i] for i in members], data)
        accs = accuracy(trained, data["x_test"], data["y_test"])
        for row, i in enumerate(members):
            state = {n: t[row].clone() for n, t in zip(names(config.layers), trained, strict=True)}
            networks[i] = {
                "state": state,
                "widths": list(hypers[i]["widths"]),
                "hyper": hypers[i],
                "test_accuracy": float(accs[row]),
            }
        done += len(members)
        if progress is not None:
            progress(done, len(hypers), time.perf_counter() - started)
    return {
        "version": 1,
        "config": asdict(config),
        "classes": list(CLASSES),
        "networks": networks,
        "seconds": time.perf_counter() - started,
    }


def load_or_make(config: ZooConfig, out: Path, verbose: bool = True) -> dict:
    """The zoo of ``config``, read from its cache under ``out`` or trained and cached there
    (written to a temporary name, then renamed, so an interrupted run leaves no half file)."""
    key = f"cnn_zoo_{config.networks}_seed{config.seed}_task{config.task.seed}"
    digest = abs(hash_config(config)) % 10**8
    cache = out / f"{key}_{digest:08d}.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    out.mkdir(parents=True, exist_ok=True)
    zoo = make_zoo(config, progress_line if verbose else None)
    partial = cache.with_name(f".{cache.name}.partial")
    torch.save(zoo, partial)
    os.replace(partial, cache)
    if verbose:
        print(f"trained {config.networks} networks in {zoo['seconds']:.0f} s; saved {cache}")
    return zoo


def hash_config(config: ZooConfig) -> int:
    """A hash of every setting that is stable across processes (``hash`` of str is not)."""
    import hashlib

    text = repr(asdict(config)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def progress_line(done: int, total: int, seconds: float) -> None:
    """A progress bar rewritten in place on a terminal; in a log, a line per group."""
    width = 30
    filled = round(width * done / total)
    bar = "#" * filled + "." * (width - filled)
    line = f"  zoo [{bar}] {done}/{total} networks {seconds:5.0f} s"
    if sys.stdout.isatty():
        print(f"\r{line}", end="\n" if done == total else "", flush=True)
    else:
        print(line, flush=True)


# --- padding: networks of different widths in one batch --------------------------------------


def pad_networks(
    networks: Sequence[dict], widths: Sequence[int] | None = None
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Stack ``networks`` (each with ``state`` and ``widths``) into the calling convention
    ``[K_1, b_1, ..., K_L, b_L, W_head, b_head]``, hidden channels zero-padded to ``widths``
    (default: the largest of each layer); and the true widths ``[batch, L]`` (int64). The
    padding leaves every network's logits unchanged (module docstring)."""
    layers = len(networks[0]["widths"])
    true = torch.tensor([net["widths"] for net in networks], dtype=torch.int64)
    target = list(widths) if widths is not None else true.max(0).values.tolist()
    if len(target) != layers or (true > torch.tensor(target)).any():
        raise ValueError(f"cannot pad widths up to {true.max(0).values.tolist()} into {target}")
    stacked = []
    for k, name in enumerate(names(layers)):
        tensors = [net["state"][name] for net in networks]
        layer = k // 2  # 0..L-1 conv layers, L the head
        out_w = target[layer] if layer < layers else None
        in_w = target[layer - 1] if 0 < layer <= layers and name.endswith("weight") else None
        stacked.append(torch.stack([pad(t, out_w, in_w) for t in tensors]))
    return stacked, true


def pad(tensor: torch.Tensor, out_width: int | None, in_width: int | None) -> torch.Tensor:
    """Zeros appended along axis 0 up to ``out_width`` and axis 1 up to ``in_width`` (None:
    that axis stays); the head's input axis is its axis 1 as well."""
    sizes = list(tensor.shape)
    if out_width is not None:
        sizes[0] = out_width
    if in_width is not None:
        sizes[1] = in_width
    padded = tensor.new_zeros(sizes)
    padded[tuple(slice(0, s) for s in tensor.shape)] = tensor
    return padded


def permute_channels(network: dict, perms: Sequence[torch.Tensor]) -> dict:
    """``network`` with the channels of hidden layer ``i`` reordered by ``perms[i - 1]``: rows
    of ``K_i`` and entries of ``b_i``, and the input channels of the next kernel (of the head
    for the last layer, through the pooling). The network computes the same function; this is
    the symmetry a weight-space model must respect."""
    layers = len(network["widths"])
    state = dict(network["state"])
    for i, perm in enumerate(perms, start=1):
        state[f"conv{i}.weight"] = state[f"conv{i}.weight"][perm]
        state[f"conv{i}.bias"] = state[f"conv{i}.bias"][perm]
        after = f"conv{i + 1}.weight" if i < layers else "head.weight"
        state[after] = state[after][:, perm]
    return {**network, "state": state}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Train the CNN zoo and cache it.")
    parser.add_argument("--networks", type=int, default=ZooConfig.networks)
    parser.add_argument("--seed", type=int, default=0, help="the zoo's hyperparameters")
    parser.add_argument("--out", type=Path, default=Path("build") / "cnn_zoo")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    zoo = load_or_make(ZooConfig(networks=args.networks, seed=args.seed), args.out)
    accs = torch.tensor([net["test_accuracy"] for net in zoo["networks"]])
    quantiles = torch.quantile(accs, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])).tolist()
    print("test accuracy min/q1/median/q3/max: " + " ".join(f"{q:.3f}" for q in quantiles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
