# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The lowering of ``symmetric_contraction`` (typing rule: ``geoc.ops.o3_contraction``) and
the numpy tables its kernel reads (:mod:`.contraction_kernels`), built at compile time.

A :class:`ContractionPlan` lays the paths of every output term out as a tree of prefixes:
stage ``k`` holds each distinct prefix of ``k`` factors once (``[.., k, width_k]``, one
``2 L_k + 1`` block per prefix), built from its parent in stage ``k - 1`` and one irrep of the
input by the step's Clebsch–Gordan table (``sqrt(2 L_k + 1) · 3j``, nonzero entries only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.o3 import contraction_kernels as rt_contraction
from geoc.groups import Group
from geoc.ir import Node
from geoc.o3 import CouplingPath, wigner_3j
from geoc.ops.o3 import kernel_irreps
from geoc.ops.o3_contraction import contraction_paths
from geoc.types import FeatureType

#: A prefix: its slots and its degrees after each coupling (``CouplingPath.prefix``).
Prefix = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class ContractionPlan:
    """The kernel's tables: per stage the coupling entries ``(left, right, column, coeff)``
    and its width; per output term the feature columns of its paths (path-major) and
    ``(paths, 2L + 1)``."""

    channels: int
    slot_dims: tuple[int, ...]
    stages: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    widths: tuple[int, ...]
    gathers: tuple[np.ndarray, ...]
    terms: tuple[tuple[int, int], ...]

    @staticmethod
    def build(a: FeatureType, out: FeatureType, correlation: int, group: Group) -> ContractionPlan:
        irreps = kernel_irreps(a, group)
        per_term = contraction_paths(a, out, correlation, group)
        layout = _Layout(tuple((l, p) for _, l, p in irreps))
        for paths in per_term:
            for path in paths:
                layout.add(path)
        gathers = tuple(
            np.concatenate([layout.columns(p) for p in paths]).astype(np.int64)
            for paths in per_term
        )
        terms = tuple(
            (len(paths), 2 * l + 1)
            for (_, l, _), paths in zip(kernel_irreps(out, group), per_term, strict=True)
        )
        return ContractionPlan(
            irreps[0][0], layout.slot_dims, layout.stage_tables(), layout.widths(), gathers, terms
        )

    def meta(self, labels: bool) -> rt_contraction.Meta:
        return self.channels, self.slot_dims, self.widths, self.terms, labels

    @property
    def feature_width(self) -> int:
        """Columns of ``[x | X_2 | ..]`` per channel: the kernel's working set per element."""
        return sum(self.slot_dims) + sum(self.widths)


class _Layout:
    """Where each prefix's block lives: stage 1 is the input (slot offsets), stage ``k`` the
    prefixes of ``k`` factors in the order first met; offsets count from the start of stage
    ``k`` (:meth:`columns` adds each stage's start in the concatenated features)."""

    def __init__(self, slots: tuple[tuple[int, int], ...]) -> None:
        self.slots = slots
        self.slot_dims = tuple(2 * l + 1 for l, _ in slots)
        self.slot_offsets = tuple(int(x) for x in np.cumsum((0, *self.slot_dims))[:-1])
        self.blocks: list[dict[Prefix, int]] = []  # per stage k >= 2: prefix -> offset
        self.sizes: list[int] = []

    def add(self, path: CouplingPath) -> None:
        for k in range(2, path.order + 1):
            while len(self.blocks) < k - 1:
                self.blocks.append({})
                self.sizes.append(0)
            prefix = path.prefix(k)
            stage = self.blocks[k - 2]
            if prefix not in stage:
                stage[prefix] = self.sizes[k - 2]
                self.sizes[k - 2] += 2 * prefix[1][-1] + 1

    def widths(self) -> tuple[int, ...]:
        return tuple(self.sizes)

    def columns(self, path: CouplingPath) -> np.ndarray:
        """The feature columns of ``path``'s result in ``[x | X_2 | ..]``."""
        if path.order == 1:
            start = self.slot_offsets[path.slots[0]]
        else:
            base = sum(self.slot_dims) + sum(self.sizes[: path.order - 2])
            start = base + self.blocks[path.order - 2][path.prefix(path.order)]
        return np.arange(start, start + 2 * path.l + 1)

    def stage_tables(self) -> tuple[tuple[np.ndarray, ...], ...]:
        return tuple(self._stage(k) for k in range(2, len(self.blocks) + 2))

    def _stage(self, k: int) -> tuple[np.ndarray, ...]:
        """The entries of stage ``k``: each prefix from its parent and its last slot."""
        entries: list[tuple[int, int, int, float]] = []
        for (slots, degrees), offset in self.blocks[k - 2].items():
            parent_degree = degrees[-2] if k > 2 else self.slots[slots[0]][0]
            parent = self._parent_offset(slots, degrees, k)
            slot = slots[-1]
            l_slot, l_out = self.slots[slot][0], degrees[-1]
            table = math.sqrt(2 * l_out + 1) * wigner_3j(parent_degree, l_slot, l_out)
            for i, j, m in zip(*np.nonzero(table), strict=True):
                entries.append(
                    (parent + i, self.slot_offsets[slot] + j, offset + m, table[i, j, m])
                )
        left, right, column, coeff = (np.asarray(c) for c in zip(*entries, strict=True))
        return left.astype(np.int64), right.astype(np.int64), column.astype(np.int64), coeff

    def _parent_offset(self, slots: tuple[int, ...], degrees: tuple[int, ...], k: int) -> int:
        if k == 2:
            return self.slot_offsets[slots[0]]
        return self.blocks[k - 3][(slots[:-1], degrees[:-1])]


@lowering("symmetric_contraction")
def lower_symmetric_contraction(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    a_type, species_type = ctx.in_types(node)
    plan = ContractionPlan.build(a_type, node.out_types[0], node.attrs["correlation"], ctx.group)
    labels = species_type.classes is not None
    rows = species_type.classes if labels else ctx.group.type_dim(species_type)
    weights = tuple(
        ctx.param(f"{node.id}.weight_{t}", (rows, paths, plan.channels), paths)
        for t, (paths, _) in enumerate(plan.terms)
    )
    stages = tuple(
        tuple(
            ctx.buffer(f"{node.id}.stage{k + 2}_{part}", torch.from_numpy(np.ascontiguousarray(v)))
            for part, v in zip(("left", "right", "column", "coeff"), tables, strict=True)
        )
        for k, tables in enumerate(plan.stages)
    )
    gathers = tuple(
        ctx.buffer(f"{node.id}.gather_{t}", torch.from_numpy(g)) for t, g in enumerate(plan.gathers)
    )
    meta = plan.meta(labels)
    return ctx.call(rt_contraction.symmetric_contraction, *args, weights, stages, gathers, meta)
