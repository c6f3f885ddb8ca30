# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Plans of the O(3) tensor product: irreps in, constant tensors and static metadata out.

``plan_tensor_product(in1, in2, out, mode)`` fixes everything about ``x1 ⊗ x2 -> out`` that
does not depend on the data: the paths (e3nn's order), the weight layout (e3nn's), the
normalisation constants (e3nn's defaults) and the tables of the kernel
:func:`geoc.backends.torch_fx.runtime_tp.tensor_product`, which receives them as arguments.

    >>> plan = plan_tensor_product([(8, 0, 1), (8, 1, -1)], [(1, 1, -1)], [(8, 0, 1), (8, 1, -1)])
    >>> [(p.i1, p.i2, p.i_out) for p in plan.paths], plan.weight_numel, plan.out_dim
    ([(0, 0, 1), (1, 0, 0)], 128, 32)

Modes:

* ``full``: e3nn's ``FullyConnectedTensorProduct(in1, in2, out)``: every allowed path, weights
  ``[mul1, mul2, mul_out]`` per path (connection mode "uvw").
* ``channelwise``: e3nn's ``TensorProduct`` with instruction ``(i1, i2, i_out, "uvu", True)``
  for every allowed path with ``mul_out == mul1``: weights ``[mul1, mul2]`` per path; copy ``u``
  of ``x1`` feeds copy ``u`` of the output.

Normalisation (e3nn's ``irrep_normalization="component"``, ``path_normalization="element"``):
path ``p`` into output irrep ``c`` is scaled by ``α_p = sqrt(dim c / Σ_{q -> c} n_q)``, where
``n_q`` is the number of weighted terms path ``q`` sums (``mul1 mul2`` in ``full``, ``mul2`` in
``channelwise``) and the sum runs over every path into ``c``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from geoc.backends.torch_fx.o3 import tp_kernels as runtime_tp
from geoc.o3 import MulIrrep, allowed_paths, wigner_3j


class TPMode(str, Enum):
    """Connection mode of the tensor product's weights."""

    FULL = "full"  # e3nn "uvw"
    CHANNELWISE = "channelwise"  # e3nn "uvu"


#: Kernel code of each mode (``runtime_tp`` takes plain ints).
_MODE_CODE = {TPMode.FULL: runtime_tp.FULL, TPMode.CHANNELWISE: runtime_tp.CHANNELWISE}


@dataclass(frozen=True)
class TPPath:
    """One path ``(i1, i2, i_out)``: its irreps, its slice of the flat weight vector and ``α``."""

    i1: int
    i2: int
    i_out: int
    weight_shape: tuple[int, ...]  # (mul1, mul2, mul_out) in full, (mul1, mul2) in channelwise
    weight_offset: int
    coefficient: float  # α_p, the path normalisation

    @property
    def weight_numel(self) -> int:
        return math.prod(self.weight_shape)


@dataclass(frozen=True)
class _Block:
    """The paths from input irrep ``a`` into output irrep ``c`` (the kernel's unit of work)."""

    a: int
    c: int
    paths: tuple[int, ...]  # indices into TPPlan.paths, in path order


@dataclass(frozen=True)
class TPPlan:
    """Everything static about one tensor product; see the module docstring."""

    in1: tuple[MulIrrep, ...]
    in2: tuple[MulIrrep, ...]
    out: tuple[MulIrrep, ...]
    mode: TPMode
    paths: tuple[TPPath, ...]
    blocks: tuple[_Block, ...]  # by input irrep a, then output irrep c

    @property
    def dim1(self) -> int:
        return _dim(self.in1)

    @property
    def dim2(self) -> int:
        return _dim(self.in2)

    @property
    def out_dim(self) -> int:
        return _dim(self.out)

    @property
    def weight_numel(self) -> int:
        return sum(p.weight_numel for p in self.paths)

    def buffers(self, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The kernel's constant tensors, by argument name: ``cg`` (``[dim2, columns]``, the
        CG blocks with ``α`` folded in) and ``weight_index`` (flat weight -> kernel order)."""
        return {
            "cg": torch.as_tensor(_cg_matrix(self), dtype=dtype),
            "weight_index": torch.as_tensor(_weight_index(self), dtype=torch.long),
        }

    def meta(self) -> runtime_tp.Meta:
        """The kernel's static metadata (nested tuples of ints)."""
        return _meta(self)

    def forward_macs(self) -> dict[str, int]:
        """Multiply-adds per sample of the kernel's forward pass, by step: ``cg``
        (``x2 @ cg``), ``bilinear`` (the batched matmuls with ``x1``) and ``weights`` (the
        channel mixing). The backward pass costs ``cg + 2 bilinear + 2 weights`` more."""
        return _forward_macs(self)


def plan_tensor_product(
    in1: Sequence[MulIrrep],
    in2: Sequence[MulIrrep],
    out: Sequence[MulIrrep],
    mode: TPMode | str = TPMode.FULL,
    paths: Sequence[tuple[int, int, int]] | None = None,
) -> TPPlan:
    """The plan of ``in1 ⊗ in2 -> out``; irreps are ``(mul, l, parity)`` in layout order.

    ``paths`` (``(i1, i2, i_out)`` triples, e3nn's instructions) restricts the product to those
    paths, in that order (which is the weight layout); by default every allowed path, in
    e3nn's order, and in ``channelwise`` only those with ``mul_out == mul1``.
    """
    mode = TPMode(mode)
    in1, in2, out = (tuple(tuple(int(v) for v in t) for t in irreps) for irreps in (in1, in2, out))
    allowed = allowed_paths(in1, in2, out)
    if mode is TPMode.CHANNELWISE:
        allowed = [t for t in allowed if out[t[2]][0] == in1[t[0]][0]]
    if paths is None:
        triples = allowed
    else:
        triples = [tuple(int(i) for i in t) for t in paths]
        bad = [t for t in triples if t not in allowed]
        if bad:
            rule = "selection rules" + ("; mul_out = mul1" if mode is TPMode.CHANNELWISE else "")
            raise ValueError(f"paths {bad} are not allowed ({rule})")
    steps = _paths(in1, in2, out, mode, triples)
    return TPPlan(in1, in2, out, mode, steps, _blocks(in1, in2, out, steps))


def _dim(irreps: Sequence[MulIrrep]) -> int:
    return sum(mul * (2 * l + 1) for mul, l, _ in irreps)


def _terms(mode: TPMode, mul1: int, mul2: int) -> int:
    """How many weighted terms a path sums per output component (e3nn's ``num_elements``)."""
    return mul1 * mul2 if mode is TPMode.FULL else mul2


def _paths(
    in1: tuple[MulIrrep, ...],
    in2: tuple[MulIrrep, ...],
    out: tuple[MulIrrep, ...],
    mode: TPMode,
    triples: list[tuple[int, int, int]],
) -> tuple[TPPath, ...]:
    fan_in = [0] * len(out)
    for i1, i2, i_out in triples:
        fan_in[i_out] += _terms(mode, in1[i1][0], in2[i2][0])
    paths, offset = [], 0
    for i1, i2, i_out in triples:
        mul1, mul2, (mul_out, l_out, _) = in1[i1][0], in2[i2][0], out[i_out]
        shape = (mul1, mul2, mul_out) if mode is TPMode.FULL else (mul1, mul2)
        alpha = (2 * l_out + 1) / fan_in[i_out] if fan_in[i_out] > 0 else 2 * l_out + 1
        paths.append(TPPath(i1, i2, i_out, shape, offset, math.sqrt(alpha)))
        offset += math.prod(shape)
    return tuple(paths)


def _blocks(
    in1: tuple[MulIrrep, ...],
    in2: tuple[MulIrrep, ...],
    out: tuple[MulIrrep, ...],
    paths: tuple[TPPath, ...],
) -> tuple[_Block, ...]:
    """Paths grouped by (a, c), ordered by a then c; empty paths (a zero mul) are dropped."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, p in enumerate(paths):
        if in1[p.i1][0] and in2[p.i2][0] and out[p.i_out][0]:
            groups.setdefault((p.i1, p.i_out), []).append(index)
    return tuple(_Block(a, c, tuple(group)) for (a, c), group in sorted(groups.items()))


def _slots(plan: TPPlan) -> list[list[_Block]]:
    """The blocks of each input irrep that has any (the kernel's slots)."""
    slots: dict[int, list[_Block]] = {}
    for block in plan.blocks:
        slots.setdefault(block.a, []).append(block)
    return list(slots.values())


def _offsets(irreps: Sequence[MulIrrep]) -> list[int]:
    return [int(v) for v in np.cumsum([0] + [mul * (2 * l + 1) for mul, l, _ in irreps])]


def _rows(plan: TPPlan, block: _Block) -> int:
    """``R``: the (path, copy ``v`` of x2) rows of a block, ``Σ_paths mul2``."""
    return sum(plan.in2[plan.paths[p].i2][0] for p in block.paths)


def _cg_matrix(plan: TPPlan) -> np.ndarray:
    """``[dim2, Σ_slots columns]``: per slot, ``x2 @ cg`` holds the operators ``α_p C_p x2_b``
    of the slot's paths in the layout of the kernel's batched matmul (``_slot_cg``)."""
    slots = [_slot_cg(plan, blocks) for blocks in _slots(plan)]
    return np.concatenate(slots, axis=1) if slots else np.zeros((plan.dim2, 0))


def _slot_cg(plan: TPPlan, blocks: list[_Block]) -> np.ndarray:
    """One slot: ``[dim2, Q * d1]``, columns ``((c, k, r), i)``: the left factor ``[z, Q, d1]``
    of the kernel's ``bmm(n, x1ᵀ)``; ``r = (path, v)`` runs over the block's paths and the
    copies ``v`` of their x2 irrep."""
    parts = [_block_cg(plan, block) for block in blocks]  # [dim2, R, i, k] each
    flat = [p.transpose(0, 3, 1, 2).reshape(plan.dim2, -1) for p in parts]
    return np.concatenate(flat, axis=1)


def _block_cg(plan: TPPlan, block: _Block) -> np.ndarray:
    """``[dim2, R, d1, dc]``: row ``r = (path, v)`` holds ``α_p C_p`` against copy ``v`` of
    the path's x2 irrep, zero against the rest of x2."""
    l1, l_out = plan.in1[block.a][1], plan.out[block.c][1]
    out = np.zeros((plan.dim2, _rows(plan, block), 2 * l1 + 1, 2 * l_out + 1))
    start2, r = _offsets(plan.in2), 0
    for index in block.paths:
        path = plan.paths[index]
        mul2, l2, _ = plan.in2[path.i2]
        coupling = path.coefficient * wigner_3j(l1, l2, l_out).transpose(1, 0, 2)  # [j, i, k]
        for v in range(mul2):
            first = start2[path.i2] + v * (2 * l2 + 1)
            out[first : first + 2 * l2 + 1, r] = coupling
            r += 1
    return out


def _weight_parts(plan: TPPlan) -> list[tuple[_Block, ...]]:
    """The weights each kernel step reads, in kernel order: in full, one matmul per output
    irrep ``c`` over its blocks (ordered by ``a``); in channelwise, one part per block."""
    if plan.mode is TPMode.CHANNELWISE:
        return [(block,) for block in plan.blocks]
    by_out = [_full_part(plan, c) for c in range(len(plan.out))]
    return [part for part in by_out if part]


def _full_part(plan: TPPlan, c: int) -> tuple[_Block, ...]:
    """The blocks into ``c`` in the order of their weight rows: those of ``l_a > 0`` first
    (the kernel's one matmul reads them as one slice), then those of scalar ``a`` (weighted
    one block at a time), each group by ``a``."""
    into = [b for b in plan.blocks if b.c == c]
    return tuple(sorted(into, key=lambda b: (plan.in1[b.a][1] == 0, b.a)))


def _weight_index(plan: TPPlan) -> np.ndarray:
    """For each weight in kernel order, its index in the flat (e3nn) weight vector. Within a
    part: ``[(a, r, u), w]`` for the matmul of ``c`` in full, ``[r, u]`` in channelwise, with
    ``r = (path, v)``: each path's ``[u, v, ...]`` block with ``u`` and ``v`` swapped."""
    chunks = [
        np.swapaxes(_path_index(plan, p), 0, 1).ravel()
        for part in _weight_parts(plan)
        for block in part
        for p in block.paths
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def _path_index(plan: TPPlan, index: int) -> np.ndarray:
    """The flat-vector indices of one path's weights, shaped as its weight."""
    path = plan.paths[index]
    return np.arange(path.weight_numel).reshape(path.weight_shape) + path.weight_offset


def _meta(plan: TPPlan) -> runtime_tp.Meta:
    parts = _weight_parts(plan)
    part_of = {(b.a, b.c): i for i, part in enumerate(parts) for b in part}
    w_sizes = tuple(
        sum(plan.paths[p].weight_numel for b in part for p in b.paths) for part in parts
    )
    slots, n_sizes = [], []
    for blocks in _slots(plan):
        mul1, l1, _ = plan.in1[blocks[0].a]
        entries = tuple(
            (b.c, 2 * plan.out[b.c][1] + 1, _rows(plan, b), part_of[(b.a, b.c)]) for b in blocks
        )
        n_sizes.append((2 * l1 + 1) * sum(dim * r for _, dim, r, _ in entries))
        slots.append((blocks[0].a, mul1, 2 * l1 + 1, entries))
    x1_sizes = tuple(mul * (2 * l + 1) for mul, l, _ in plan.in1)
    outs = tuple((mul, 2 * l + 1) for mul, l, _ in plan.out)
    dims = (plan.dim1, plan.dim2, plan.out_dim, plan.weight_numel)
    code = _MODE_CODE[plan.mode]
    return (code, *dims, x1_sizes, tuple(n_sizes), w_sizes, tuple(slots), outs)


def _forward_macs(plan: TPPlan) -> dict[str, int]:
    bilinear = weights = 0
    for block in plan.blocks:
        mul1, l1, _ = plan.in1[block.a]
        mul_out, l_out, _ = plan.out[block.c]
        rows = (2 * l_out + 1) * _rows(plan, block)
        if plan.mode is TPMode.FULL and l1 == 0:  # weighted first, then a product with n
            weights += _rows(plan, block) * mul1 * mul_out
            bilinear += rows * mul_out
            continue
        bilinear += rows * (2 * l1 + 1) * mul1
        weights += rows * mul1 * (mul_out if plan.mode is TPMode.FULL else 1)
    columns = sum(
        (2 * plan.in1[b.a][1] + 1) * (2 * plan.out[b.c][1] + 1) * _rows(plan, b)
        for b in plan.blocks
    )
    return {"cg": plan.dim2 * columns, "bilinear": bilinear, "weights": weights}
