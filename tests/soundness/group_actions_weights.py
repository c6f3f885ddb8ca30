"""The fuzzer's own action of `S(hidden)` on weight spaces, written from docs/weightspace.md
(not from geoc's checker): a network is layers ``1..T`` with ``d_0..d_T`` neurons (for a CNN
the conv layers, then the head's linear layers: pooling maps channel ``j`` of the last conv
layer to input ``j`` of the head); block ``W_j`` is ``[batch, d_j, d_{j-1}, *taps, c]``
(``taps = (k, k)`` for a conv layer) and ``b_j`` is ``[batch, d_j, c]``. Every hidden layer
(``1 <= j < T``) is permuted, ``W_j'[r, s] = W_j[σ_j[r], σ_{j-1}[s]]``, ``b_j'[r] = b_j[σ_j[r]]``;
layers joined by skips (``residual=[i]`` ties ``i - 1`` and ``i``) share one permutation. Under
``padded=true`` the sizes are maxima, each network has its true widths (the last tensor of the
list, ``[batch, T - 1]``), only its true neurons are permuted, and the padding is junk that must
never be read: it is refilled with other junk in the moved input and left out of comparisons.

Inside the harness a weight-space output is one flat tensor ``[batch, P, c]`` (blocks in list
order, each row-major) with its padding zeroed; global values are ``[batch, c]`` and never
move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Net:
    """The shape of the networks a weight space holds (the declared maxima)."""

    sizes: tuple[int, ...]  # d_0 .. d_T
    taps: tuple[int, ...]  # per layer 1..T: kernel side (0: a linear layer)
    residual: tuple[int, ...] = ()
    padded: bool = False

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    def hidden(self, j: int) -> bool:
        return 0 < j < self.layers

    def classes(self) -> dict[int, int]:
        """Layer -> the smallest layer of its tied class (skips join ``i - 1`` and ``i``)."""
        root = {j: j for j in range(self.layers + 1)}
        for i in sorted(self.residual):
            root[i] = root[i - 1]
        return {j: _find(root, j) for j in root}

    def check_ties(self) -> None:
        """A skip adds neuron to neuron: an accepted spec has one width per tied class."""
        classes = self.classes()
        if any(self.sizes[j] != self.sizes[classes[j]] for j in classes):
            raise ValueError(f"geoc accepted a skip between layers of different widths: {self}")

    def permuted(self, j: int) -> bool:
        """Whether ``S(hidden)`` moves layer ``j``'s neurons: hidden, and not tied by a skip to
        the input or output layer (those never move)."""
        classes = self.classes()
        fixed = {classes[0], classes[self.layers]}
        return self.hidden(j) and classes[j] not in fixed

    def shapes(self) -> list[tuple[int, ...]]:
        """The blocks' shapes without batch and channels: W_1, b_1, ..., W_T, b_T."""
        out = []
        for j in range(1, self.layers + 1):
            k = self.taps[j - 1]
            out += [(self.sizes[j], self.sizes[j - 1], *((k, k) if k else ())), (self.sizes[j],)]
        return out


def _find(root: dict[int, int], j: int) -> int:
    while root[j] != j:
        j = root[j]
    return j


def net_of(family) -> Net:
    return family.info["net"]


# ---------------------------------------------------------------------------- widths


def draw_widths(net: Net, rng: np.random.Generator, batch: int) -> np.ndarray:
    """True hidden widths per network, ``[batch, T - 1]`` (the maxima unless padded); tied
    layers share one width (a skip adds neuron to neuron)."""
    classes = net.classes()
    rows = []
    for _ in range(batch):
        by_class: dict[int, int] = {}
        row = []
        for j in range(1, net.layers):
            top = net.sizes[j]
            if net.padded and classes[j] not in by_class:
                by_class[classes[j]] = int(rng.integers(1, top + 1))
            width = by_class.get(classes[j], top)
            if width > top:
                raise ValueError(f"tied layers of different widths accepted: {net}")
            row.append(width)
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(batch, net.layers - 1)


def _width(net: Net, widths: np.ndarray, b: int, j: int) -> int:
    return int(widths[b, j - 1]) if net.hidden(j) else net.sizes[j]


def _mask(net: Net, widths: np.ndarray, shape: tuple[int, ...], block: int, b: int) -> np.ndarray:
    """1 on network ``b``'s true entries of a block."""
    j = block // 2 + 1
    mask = np.zeros(shape, dtype=bool)
    if block % 2:
        mask[: _width(net, widths, b, j)] = True
    else:
        mask[: _width(net, widths, b, j), : _width(net, widths, b, j - 1)] = True
    return mask


# ---------------------------------------------------------------------------- inputs, elements


def draw_input(
    net: Net, channels: int, rng: np.random.Generator, widths: np.ndarray
) -> list[torch.Tensor]:
    """The calling convention: ``[W_1, b_1, ..., W_T, b_T]`` (+ the widths if padded), with
    random junk (around 7) in the padding."""
    batch = len(widths)
    out = []
    for block, shape in enumerate(net.shapes()):
        value = rng.normal(size=(batch, *shape, channels))
        junk = 7.0 + rng.normal(size=value.shape)
        for b in range(batch):
            value[b] = np.where(_mask(net, widths, shape, block, b)[..., None], value[b], junk[b])
        out.append(torch.as_tensor(value))
    if net.padded:
        out.append(torch.as_tensor(widths))
    return out


def draw_perms(
    net: Net, rng: np.random.Generator, widths: np.ndarray
) -> list[dict[int, np.ndarray]]:
    """Per network, per layer, ``σ_j`` over the maximum width: a permutation of the true
    neurons, the identity on the padding and on layers that are not hidden; one per tied
    class."""
    classes = net.classes()
    perms = []
    for b in range(len(widths)):
        by_class: dict[int, np.ndarray] = {}
        one = {}
        for j in range(net.layers + 1):
            ident = np.arange(net.sizes[j])
            if not net.permuted(j):
                one[j] = ident
                continue
            if classes[j] not in by_class:
                w = int(widths[b, j - 1])
                by_class[classes[j]] = np.concatenate([rng.permutation(w), ident[w:]])
            one[j] = by_class[classes[j]]
        perms.append(one)
    return perms


# ---------------------------------------------------------------------------- moving values


def move_blocks(net: Net, blocks: list[torch.Tensor], perms: list[dict]) -> list[torch.Tensor]:
    out = []
    for block, value in enumerate(blocks[: 2 * net.layers]):
        j = block // 2 + 1
        moved = []
        for b in range(value.shape[0]):
            v = value[b][torch.as_tensor(perms[b][j])]
            if block % 2 == 0:
                v = v[:, torch.as_tensor(perms[b][j - 1])]
            moved.append(v)
        out.append(torch.stack(moved))
    return out + list(blocks[2 * net.layers :])


def refill_padding(
    net: Net, blocks: list[torch.Tensor], widths: np.ndarray, rng: np.random.Generator
) -> list[torch.Tensor]:
    """Other junk in the padding: the padding is no part of the value."""
    out = []
    for block, value in enumerate(blocks[: 2 * net.layers]):
        shape = tuple(value.shape[1:-1])
        mask = np.stack([_mask(net, widths, shape, block, b) for b in range(len(widths))])
        junk = torch.as_tensor(-3.0 + rng.normal(size=tuple(value.shape)))
        out.append(torch.where(torch.as_tensor(mask)[..., None], value, junk))
    return out + list(blocks[2 * net.layers :])


def flatten(net: Net, blocks, widths: np.ndarray) -> torch.Tensor:
    """``[batch, P, c]``, blocks in order, padding zeroed (an output's padding is free)."""
    parts = []
    for block, value in enumerate(list(blocks)[: 2 * net.layers]):
        shape = net.shapes()[block]
        if value.ndim == len(shape) + 1:  # one channel, its axis left out
            value = value[..., None]
        mask = np.stack([_mask(net, widths, shape, block, b) for b in range(len(widths))])
        value = torch.where(torch.as_tensor(mask)[..., None], value, torch.zeros(()))
        parts.append(value.reshape(value.shape[0], -1, value.shape[-1]))
    return torch.cat(parts, dim=1)


def unflatten(net: Net, flat: torch.Tensor) -> list[torch.Tensor]:
    out, at = [], 0
    for shape in net.shapes():
        size = int(np.prod(shape))
        out.append(flat[:, at : at + size].reshape(flat.shape[0], *shape, flat.shape[-1]))
        at += size
    return out


def move_flat(net: Net, flat: torch.Tensor, perms: list[dict], widths: np.ndarray) -> torch.Tensor:
    return flatten(net, move_blocks(net, unflatten(net, flat), perms), widths)


# ---------------------------------------------------------------------------- the family's hooks


def is_weights(family) -> bool:
    return family.info.get("kind") == "weights"


def draw_sample(family, rng: np.random.Generator):
    """Every input (one list per weight-space input, global ones ``[batch, c]``), one widths
    table for the batch (geoc masks every layer by one table)."""
    import group_actions as ga

    net, batch = net_of(family), int(rng.integers(1, 4))
    net.check_ties()
    widths = draw_widths(net, rng, batch)
    inputs: dict[str, object] = {}
    for name, ty in family.inputs.items():
        if ty.axis == family.axis:
            inputs[name] = draw_input(net, ty.copies, rng, widths)
        else:
            inputs[name] = torch.as_tensor(rng.normal(size=(batch, ty.copies)))
    return ga.Sample(inputs, [list(row) for row in widths], batch)


def draw_element(family, rng: np.random.Generator, sizes: list):
    import group_actions as ga

    net = net_of(family)
    widths = np.array(sizes, dtype=np.int64).reshape(len(sizes), net.layers - 1)
    elem = ga.Element(perm=np.zeros(0, dtype=np.int64))
    elem.extra = {"perms": draw_perms(net, rng, widths), "widths": widths, "junk": rng}
    elem.label = "hidden-neuron permutation" + (" (true neurons)" if net.padded else "")
    return elem


def move(value, ty, elem, family):
    """``g·value``: an input list (padding refilled with other junk), a flattened output, or
    a global value (fixed)."""
    net, extra = net_of(family), elem.extra
    if ty.axis != family.axis:
        return value
    if isinstance(value, list):
        moved = move_blocks(net, value, extra["perms"])
        return refill_padding(net, moved, extra["widths"], extra["junk"])
    return move_flat(net, value, extra["perms"], extra["widths"])


def as_tensors(outputs: dict, spec_outputs: dict, family, inputs: dict) -> dict:
    """Outputs over weights flattened with their padding zeroed (read the widths from the
    input list, the maxima without padding)."""
    net = net_of(family)
    lists = [v for v in inputs.values() if isinstance(v, list)]
    if net.padded and lists:
        widths = lists[0][-1].numpy()
    else:
        batch = next(iter(v.shape[0] for v in outputs.values() if isinstance(v, torch.Tensor)), 1)
        batch = lists[0][0].shape[0] if lists else batch
        widths = np.tile(np.array(net.sizes[1:-1], dtype=np.int64), (batch, 1))
    out = dict(outputs)
    for name, ty in spec_outputs.items():
        if ty.axis == family.axis:
            out[name] = flatten(net, outputs[name], widths)
    return out
