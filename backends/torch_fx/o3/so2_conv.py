# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The lowering of ``so2_conv`` (typing rule: ``geoc.ops.o3_so2``; docs/escn.md): the index
tables and weight masks of :mod:`.so2_conv_kernels`, the radial linear map and the per-``m``
weights. Parameters, in this order: ``<id>.radial.0.weight`` / ``.bias`` (``w`` to one scale
per input component ``(m, l, channel)``), then ``<id>.so2_m<m>`` for ``m = 0..mmax``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.core.lower import lower_mlp
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.o3 import escn
from geoc.backends.torch_fx.o3 import kernels as rt_o3
from geoc.backends.torch_fx.o3 import so2_conv_kernels as rt
from geoc.domains import EDGE_AXIS
from geoc.groups import Group
from geoc.ir import Node
from geoc.o3 import MulIrrep
from geoc.ops.o3 import kernel_irreps
from geoc.ops.o3_so2 import so2_blocks, so2_lmax
from geoc.types import scalars


@dataclass(frozen=True)
class So2ConvPlan:
    """Index tables of one ``so2_conv``: see :func:`.so2_conv_kernels.so2_conv`."""

    gather: list[np.ndarray]  # per m: [2, n_in(m)] (m = 0: [1, n_in(0)])
    masks: list[np.ndarray]  # per m: [1 or 2, n_in(m), n_out(m)]: W or (W1, W2), 0/1
    scatter: np.ndarray  # [dim_out]

    @property
    def n_in(self) -> list[int]:
        return [g.shape[1] for g in self.gather]


def _slots(irreps: Sequence[MulIrrep], m: int) -> tuple[dict[int, int], int]:
    """Where each term's channels start in the order-``m`` slot (terms with ``l >= m``)."""
    starts, total = {}, 0
    for t, (mul, l, _) in enumerate(irreps):
        if l >= m:
            starts[t], total = total, total + mul
    return starts, total


def _offsets(irreps: Sequence[MulIrrep], mmax: int) -> list[int]:
    """Where each term starts in the edge frame (orders ``|m| <= mmax`` kept)."""
    return list(np.cumsum([0] + [mul * (2 * min(l, mmax) + 1) for mul, l, _ in irreps])[:-1])


def so2_conv_plan(
    in_irreps: Sequence[MulIrrep], out_irreps: Sequence[MulIrrep], mmax: int, group: Group
) -> So2ConvPlan:
    """The tables for ``in_irreps -> out_irreps`` up to order ``mmax``."""
    in_off = _offsets(in_irreps, mmax)
    gather, masks, bases = [], [], []
    base = 0
    for m in range(mmax + 1):
        starts, n_in = _slots(in_irreps, m)
        signs = (1,) if m == 0 else (1, -1)
        columns = [
            [
                in_off[t]
                + c * (2 * min(in_irreps[t][1], mmax) + 1)
                + min(in_irreps[t][1], mmax)
                + s * m
                for t in starts
                for c in range(in_irreps[t][0])
            ]
            for s in signs
        ]
        gather.append(np.array(columns, dtype=np.int64).reshape(len(signs), n_in))
        _, n_out = _slots(out_irreps, m)
        masks.append(np.zeros((len(signs), n_in, n_out)))
        bases.append(base)
        base += len(signs) * n_out
    for m, i, o, mul_i, mul_o, w1, w2 in so2_blocks(in_irreps, out_irreps, mmax, group):
        si, so = _slots(in_irreps, m)[0][i], _slots(out_irreps, m)[0][o]
        for k, keep in enumerate((w1, w2)[: masks[m].shape[0]]):
            masks[m][k, si : si + mul_i, so : so + mul_o] = keep
    scatter = []
    for o, (mul, l, _) in enumerate(out_irreps):
        for c in range(mul):
            for comp in range(-min(l, mmax), min(l, mmax) + 1):
                m = abs(comp)
                starts, n_out = _slots(out_irreps, m)
                scatter.append(bases[m] + (n_out if comp < 0 else 0) + starts[o] + c)
    assert sorted(scatter) == list(range(base)), "every piece column lands once"
    return So2ConvPlan(gather, masks, np.array(scatter, dtype=np.int64))


@lowering("so2_conv")
def lower_so2_conv(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    x, r, w = args
    x_type, _, _ = ctx.in_types(node)
    out, mmax = node.out_types[0], node.attrs["mmax"]
    in_irreps, out_irreps = kernel_irreps(x_type, ctx.group), kernel_irreps(out, ctx.group)
    plan = so2_conv_plan(in_irreps, out_irreps, mmax, ctx.group)
    radial = _radial(ctx, node, w, sum(plan.n_in))
    weights = []
    for m, mask in enumerate(plan.masks):
        shape = mask.shape[1:] if m == 0 else mask.shape
        fan_in = mask.shape[0] * mask.shape[1]
        weight = ctx.param(f"{node.id}.so2_m{m}", tuple(shape), fan_in=max(fan_in, 1))
        if not mask.all():  # parity: the blocks the mirrors forbid are zero
            table = ctx.buffer(f"{node.id}.so2_mask{m}", torch.from_numpy(mask.reshape(shape)))
            weight = ctx.call(torch.mul, weight, ctx.call(rt_o3.cast_like, table, weight))
        weights.append(weight)
    lmax = so2_lmax(x_type, out, ctx.group)
    couplings = [escn._coupling_buffer(ctx, l) for l in range(2, lmax + 1)]
    gather = [
        ctx.buffer(f"{node.id}.so2_gather{m}", torch.from_numpy(g))
        for m, g in enumerate(plan.gather)
    ]
    scatter = ctx.buffer(f"{node.id}.so2_scatter", torch.from_numpy(plan.scatter))
    terms_in = tuple((mul, l) for mul, l, _ in in_irreps)
    terms_out = tuple((mul, l) for mul, l, _ in out_irreps)
    return ctx.call(
        rt.so2_conv, x, r, radial, weights, couplings, terms_in, terms_out, gather, scatter, mmax
    )


def _radial(ctx: LowerCtx, node: Node, w: fx.Node, count: int) -> fx.Node:
    """``linear(w)`` with a bias: one scale per input component of each order (eSCN's
    ``fc1_dist``), parameters ``<id>.radial.*``."""
    radial = Node(
        id=f"{node.id}.radial",
        op="mlp",
        inputs=(node.inputs[2],),
        attrs={"widths": (count,), "act": "silu", "last_act": False, "bias": True},
        out_types=(scalars(count, (EDGE_AXIS,)),),
    )
    return lower_mlp(ctx, radial, [w])
