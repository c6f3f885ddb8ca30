# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The SO(2) lowering of ``tp_conv`` (eSCN: Passaro & Zitnick, ICML 2023) and the cost model
that chooses between it and the Clebsch–Gordan lowering. See ``docs/escn.md``.

In the frame of an edge whose direction ``r̂`` is the polar axis ``y``, the harmonics
``Y^{l2}(r̂)`` have only their ``m = 0`` component, so ``C^{l1 l2 lout}[m1, 0, m]`` couples
``m1 = ±m`` alone: each path becomes a per-``m`` scaling (``l1 + l2 + lout`` even) or a
``(m, -m)`` swap with a sign (odd). This module precomputes those tables from
:func:`geoc.o3.wigner_3j` (one matrix per input term and output degree) and estimates the
cost of both algorithms; ``so2_kernels`` runs the tables and :mod:`.tp_conv` registers the
lowering.

    >>> from geoc.types import FeatureType as T
    >>> from geoc.groups import Group
    >>> from geoc.ops.o3 import conv_paths
    >>> paths = conv_paths(T.parse("8x0e + 8x1o over nodes"), T.parse("0e + 1o + 2e over edges"),
    ...                    T.parse("8x0e + 8x1o"), Group.parse("O(3)"))
    >>> plan = so2_plan(paths)
    >>> plan.lmax, [l for l, _ in plan.outputs], [m.shape for m in plan.mixers]
    (2, [0, 1], [(1, 1), (3, 1), (1, 3), (3, 6)])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx

from geoc.backends.torch_fx.lower import LowerCtx
from geoc.backends.torch_fx.o3 import so2_kernels as rt_so2
from geoc.ir import Node
from geoc.o3 import MulIrrep, wigner_3j
from geoc.ops.o3 import ConvPaths

# --- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class So2Plan:
    """The constants of ``so2_kernels.so2_conv`` for one ``tp_conv`` (its docstring says what
    each means)."""

    lmax: int
    runs: tuple[tuple[int, tuple[int, ...]], ...]
    sh_blocks: tuple[int, ...]  # the degree of each harmonic term
    sh_l1: int  # column of the l = 1 harmonics (the edge direction), -1 if none
    weight_order: np.ndarray
    sh_of_weight: np.ndarray
    mixers: tuple[np.ndarray, ...]
    outputs: tuple[tuple[int, tuple[tuple[int, int, int], ...]], ...]
    mid_order: np.ndarray


def path_normalization(paths: ConvPaths) -> tuple[float, ...]:
    """e3nn's ``component`` / ``element`` normalisation of each uvu path (unit input
    variances, one path per mid term): ``sqrt(2 l_out + 1)``."""
    return tuple(math.sqrt(2 * paths.mid[k][1] + 1) for _, _, k in paths.paths)


@functools.lru_cache(maxsize=4096)
def polar_coupling(l1: int, l2: int, l_out: int) -> np.ndarray:
    """``S [2l1+1, 2l_out+1]``: ``C^{l1 l2 l_out}[m1, m2=0, m]`` where it is non-zero, which is
    at ``m1 = m`` when ``l1 + l2 + l_out`` is even and ``m1 = -m`` when odd (``|m| <= l1``).
    In the edge frame a path is ``x' ↦ Y_0 · x' S`` (checked: one entry per column)."""
    s = np.array(wigner_3j(l1, l2, l_out)[:, l2, :])
    m1, m = np.nonzero(s)
    sign = 1 if (l1 + l2 + l_out) % 2 == 0 else -1
    assert np.all(m1 - l1 == sign * (m - l_out)), f"({l1},{l2},{l_out}) is not ±m diagonal"
    return s


def _offsets(muls_dims: Sequence[int]) -> list[int]:
    return [0, *np.cumsum(muls_dims, dtype=np.int64).tolist()]


def _dims(irreps: Sequence[MulIrrep]) -> list[int]:
    return [mul * (2 * l + 1) for mul, l, _ in irreps]


def _runs(irreps: Sequence[MulIrrep]) -> tuple[tuple[tuple[int, tuple[int, ...]], ...], dict]:
    """Consecutive terms of one degree ``(l, muls)`` (empty terms join any run: they have no
    columns), and where each non-empty term is: ``{i1: (run, index in run)}``."""
    runs: list[tuple[int, list[int]]] = []
    where: dict[int, tuple[int, int]] = {}
    for i, (mul, l, _) in enumerate(irreps):
        if mul == 0:
            continue
        if not runs or runs[-1][0] != l:
            runs.append((l, []))
        where[i] = (len(runs) - 1, len(runs[-1][1]))
        runs[-1][1].append(mul)
    return tuple((l, tuple(muls)) for l, muls in runs), where


@functools.lru_cache(maxsize=256)
def so2_plan(paths: ConvPaths) -> So2Plan:
    """The SO(2) tables of ``paths`` (e3nn path order and normalisation)."""
    assert len({k for *_, k in paths.paths}) == len(paths.paths), "one path per mid term"
    runs, where = _runs(paths.in1)
    sh_degrees = tuple(l for _, l, _ in paths.in2)
    by_output = _paths_by_output(paths)
    alpha = path_normalization(paths)
    mixers, outputs = [], []
    for l, by_input in by_output.items():
        outputs.append((l, tuple((*where[i1], len(ps)) for i1, ps in by_input.items())))
        mixers += [_mixer(paths, alpha, ps) for ps in by_input.values()]
    weight_order, sh_of_weight, mid_order = _layout(paths, by_output)
    return So2Plan(
        lmax=max(l for _, l, _ in (*paths.in1, *paths.in2, *paths.mid)),
        runs=runs,
        sh_blocks=sh_degrees,
        sh_l1=_offsets(_dims(paths.in2))[sh_degrees.index(1)] if 1 in sh_degrees else -1,
        weight_order=weight_order,
        sh_of_weight=sh_of_weight,
        mixers=tuple(mixers),
        outputs=tuple(outputs),
        mid_order=mid_order,
    )


def _paths_by_output(paths: ConvPaths) -> dict[int, dict[int, list[int]]]:
    """``{l_out: {i1: [path, ...]}}`` over non-empty inputs, ``l_out`` and ``i1`` ascending,
    paths in e3nn order."""
    found: dict[int, dict[int, list[int]]] = {}
    for p, (i1, _, k) in enumerate(paths.paths):
        if paths.in1[i1][0] > 0:
            found.setdefault(paths.mid[k][1], {}).setdefault(i1, []).append(p)
    return {l: dict(sorted(by_input.items())) for l, by_input in sorted(found.items())}


def _mixer(paths: ConvPaths, alpha: Sequence[float], group: list[int]) -> np.ndarray:
    """``[2l1+1, paths (2l_out+1)]``: each path's edge-frame coupling times its normalisation."""
    columns = []
    for p in group:
        i1, i2, k = paths.paths[p]
        columns.append(
            alpha[p] * polar_coupling(paths.in1[i1][1], paths.in2[i2][1], paths.mid[k][1])
        )
    return np.concatenate(columns, axis=1)


def _layout(
    paths: ConvPaths, by_output: dict[int, dict[int, list[int]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weight and harmonic of each message channel ``(l_out, i1, channel, path)``, and
    the permutation of message columns into e3nn's mid layout ``(path, channel, m)``."""
    w_off = _offsets([paths.in1[i1][0] for i1, _, _ in paths.paths])
    mid_off = _offsets(_dims(paths.mid))
    weight_order, sh_of_weight, mid_order = [], [], []
    for l, by_input in by_output.items():
        for i1, group in by_input.items():
            for u in range(paths.in1[i1][0]):
                for p in group:
                    weight_order.append(w_off[p] + u)
                    sh_of_weight.append(paths.paths[p][1])
                    start = mid_off[paths.paths[p][2]] + u * (2 * l + 1)
                    mid_order.extend(range(start, start + 2 * l + 1))
    return (
        np.array(weight_order, dtype=np.int64),
        np.array(sh_of_weight, dtype=np.int64),
        np.argsort(np.array(mid_order, dtype=np.int64)),
    )


# --- lowering ---------------------------------------------------------------------------------


def so2_unavailable(ctx: LowerCtx, node: Node) -> str | None:
    """Why the SO(2) lowering cannot compute ``node`` exactly (None: it can).

    It needs ``sh`` to be the spherical harmonics of the edge vectors (every block a multiple
    of ``Y^l(r̂)``, so that the edge frame zeroes all but ``m = 0``) and, beyond ``l = 0``,
    their ``l = 1`` block, from which it reads ``r̂``.
    """
    producer = ctx.ir.node(node.inputs[1].node)
    if producer.op != "spherical_harmonics":
        return f"`sh` comes from `{producer.op}`, not from `spherical_harmonics`"
    degrees = [t.atom.args[0] for t in ctx.ir.type_of(node.inputs[1]).terms]
    if max(degrees) > 0 and 1 not in degrees:
        return "`sh` has no l = 1 block to read the edge direction from"
    return None


def emit_so2_conv(
    ctx: LowerCtx, name: str, x: fx.Node, sh: fx.Node, weights: fx.Node, paths: ConvPaths
) -> fx.Node:
    """fx nodes for the messages of ``tp_conv`` summed into ``dst``: ``[N, dim_mid]`` in
    e3nn's mid layout, from ``x = h[src]`` ``[E, dim_in1]``, the edge harmonics ``sh`` and the
    per-edge path weights ``[E, n_w]`` (e3nn's uvu ``TensorProduct`` with per-sample weights).
    """
    plan = so2_plan(paths)
    wigner = edge_wigner(ctx, sh, plan.lmax, plan.sh_l1)
    mixers = [
        ctx.buffer(f"{name}.so2_mixer_{i}", torch.from_numpy(m)) for i, m in enumerate(plan.mixers)
    ]
    tables = (
        ctx.buffer(f"{name}.so2_weight_order", _long(plan.weight_order)),
        ctx.buffer(f"{name}.so2_sh_of_weight", _long(plan.sh_of_weight)),
        mixers,
        plan.outputs,
        ctx.buffer(f"{name}.so2_mid_order", _long(plan.mid_order)),
    )
    nodes = ctx.length(ctx.ir.domain.axis)
    head = (x, sh, weights, wigner, ctx.edges, nodes, plan.runs, plan.sh_blocks)
    return ctx.call(rt_so2.so2_conv, *head, *tables)


def edge_wigner(ctx: LowerCtx, sh: fx.Node, lmax: int, sh_l1: int) -> fx.Node:
    """``[D^0 .. D^lmax]`` of the edge frames of ``sh``, built once per ``sh`` and degree (every
    layer of a model shares its edge harmonics, so they share the rotations too)."""
    built = sh.meta.setdefault("geoc_so2_wigner", {})
    if (lmax, sh_l1) not in built:
        couplings = [_coupling_buffer(ctx, l) for l in range(2, lmax + 1)]
        built[lmax, sh_l1] = ctx.call(rt_so2.edge_wigner, sh, sh_l1, couplings, name="edge_wigner")
    return built[lmax, sh_l1]


def _coupling_buffer(ctx: LowerCtx, l: int) -> fx.Node:
    """``√(2l+1) C^{l-1,1,l}``, one buffer per degree for the whole module."""
    name = f"so2_wigner.coupling_{l}"
    try:
        ctx.root.get_buffer(name)
    except AttributeError:
        return ctx.buffer(name, torch.from_numpy(math.sqrt(2 * l + 1) * wigner_3j(l - 1, 1, l)))
    return ctx.fx.get_attr(name)


def _long(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.long)


# --- cost model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvCost:
    """The forward work per edge of one ``tp_conv`` algorithm, by kind: multiply-adds in
    ``gemm`` (large matmuls with a constant matrix) and in ``batched`` (small matmuls with a
    matrix per edge: rotations, per-edge CG operators), the number of such small matmuls
    (``products``: on a CPU each costs a fixed overhead), and ``elementwise`` operations
    (scalings, gathers, the sum into ``dst``)."""

    gemm: int
    batched: int
    products: int
    elementwise: int

    def time(self, seconds: dict[str, float]) -> float:
        """Estimated seconds per edge, ``seconds[kind]`` per unit of each kind of work."""
        return sum(getattr(self, kind) * cost for kind, cost in seconds.items())


#: Seconds per edge for one unit of each kind of work, forward + backward, on the development
#: machine (2 CPU threads, float32): the two multiply-add costs timed directly, the other two
#: fitted to 36 layer timings (lmax 1-6, 8/16/32 channels) by ``python bench/tp_conv_rows.py
#: --lmax 1 2 3 4 5 6 --channels 8 16 32 --fit``. See docs/escn.md.
SECONDS: dict[str, float] = {
    "gemm": 5.6e-11,
    "batched": 9.2e-11,
    "products": 8.1e-7,
    "elementwise": 2.2e-9,
}


def _d(l: int) -> int:
    return 2 * l + 1


def _blocks(paths: ConvPaths) -> list[tuple[int, int, int]]:
    """``(mul, l1, l_out)`` of every path with channels."""
    return [
        (paths.in1[i1][0], paths.in1[i1][1], paths.mid[k][1])
        for i1, _, k in paths.paths
        if paths.in1[i1][0] > 0
    ]


def cg_cost(paths: ConvPaths) -> ConvCost:
    """The CG kernel (``tp_kernels``, channelwise): ``sh @ cg`` contracts all ``(L+1)²``
    harmonic rows with every path's ``[2l1+1, 2l_out+1]`` block (one GEMM); per path, the
    weighted channels times that per-edge operator (one small matmul per edge); the messages
    are concatenated and summed into ``dst``."""
    dim_sh = sum(_d(l) for _, l, _ in paths.in2)
    blocks = _blocks(paths)
    return ConvCost(
        gemm=dim_sh * sum(_d(l1) * _d(lo) for _, l1, lo in blocks),
        batched=sum(mul * _d(l1) * _d(lo) for mul, l1, lo in blocks),
        products=len(blocks),
        elementwise=sum(mul * (_d(l1) + 2 * _d(lo)) for mul, l1, lo in blocks),
    )


def so2_cost(paths: ConvPaths) -> ConvCost:
    """The SO(2) kernel (``so2_kernels``): Wigner matrices by the ``(l-1) ⊗ 1`` recursion
    (three small matmuls per degree), rotation in (one per run of degrees), one GEMM per
    (input term, ``l_out``) with the edge-frame couplings, the per-path scaling, rotation back
    (one small matmul per such piece) and the sum into ``dst``."""
    lmax = max(l for _, l, _ in (*paths.in1, *paths.in2, *paths.mid))
    wigner = sum(
        9 * _d(l - 1) * _d(l) + 3 * _d(l - 1) ** 2 * _d(l) + 3 * _d(l - 1) * _d(l) ** 2
        for l in range(2, lmax + 1)
    )
    blocks = _blocks(paths)
    runs, _ = _runs(paths.in1)
    pieces = {(i1, paths.mid[k][1]) for i1, _, k in paths.paths if paths.in1[i1][0] > 0}
    rotate_in = sum(mul * _d(l) ** 2 for mul, l, _ in paths.in1 if l > 0)
    rotate_back = sum(mul * _d(lo) ** 2 for mul, _, lo in blocks if lo > 0)
    return ConvCost(
        gemm=sum(mul * _d(l1) * _d(lo) for mul, l1, lo in blocks),
        batched=wigner + rotate_in + rotate_back,
        products=3 * max(lmax - 1, 0) + sum(l > 0 for l, _ in runs) + len(pieces),
        elementwise=sum(mul * (3 + 2 * _d(lo)) for mul, _, lo in blocks),
    )


#: Estimated cost of each algorithm (what ``choose_tp_conv_algorithm`` compares).
COSTS: dict[str, Callable[[ConvPaths], ConvCost]] = {"cg": cg_cost, "so2": so2_cost}


def estimated_seconds_per_edge(algorithm: str, paths: ConvPaths) -> float:
    """Forward + backward seconds per edge of ``algorithm`` on ``paths`` (:data:`SECONDS`)."""
    return COSTS[algorithm](paths).time(SECONDS)
