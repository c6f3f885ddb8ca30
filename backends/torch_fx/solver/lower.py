"""Lowering of the solver-built layers: `linear` under a solver group, and `mdot`.

`linear`: per pair of terms (output term o, input term i) a learned coefficient tensor
``[mul_o, mul_i, K]`` and the solver's basis ``[K, d_o, d_i]`` as a buffer (shared by every
layer of the module that maps the same atoms); W = Σ_c coeff_c B_c is assembled in the graph,
so gradients reach the coefficients. The bias lives on the invariant vectors of each output
atom (the basis ``scalar -> atom``: the scalars, δ on `tensor(2)` of O(n), the all-ones vector
of S(n)). Pairs whose dense basis would be huge run their closed form (partition / Brauer
diagrams, diagram coefficients) by einsum instead. See ``geoc.ops.solver_ops``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx

from geoc import solver
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.lower import LowerCtx, lowering
from geoc.backends.torch_fx.solver import kernels as rt_solver
from geoc.groups import Group
from geoc.initialisers import UNIFORM
from geoc.ir import Node
from geoc.ops.core import copies
from geoc.ops.solver_ops import PairBasis, invariant_form, linear_pair, solver_rep
from geoc.types import SCALAR, Atom, FeatureType


def _terms(group: Group, ftype: FeatureType) -> tuple[tuple[int, int], ...]:
    return tuple((t.mul, group.atom_dim(t.atom)) for t in ftype.terms)


def _constant(ctx: LowerCtx, array: np.ndarray) -> torch.Tensor:
    """A float64 table in the module's dtype (not rounded through float32 first)."""
    return torch.as_tensor(array, dtype=ctx.dtype or torch.get_default_dtype())


def _shared_buffer(ctx: LowerCtx, name: str, make: Callable[[], torch.Tensor]) -> fx.Node:
    """A constant registered once per module under ``name`` (bases shared by layers)."""
    try:
        ctx.root.get_buffer(name)
    except AttributeError:
        return ctx.buffer(name, make())
    return ctx.fx.get_attr(name)


def _slug(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _basis_name(group: solver.MatrixGroup | None, atom_in: Atom, atom_out: Atom, what: str) -> str:
    where = _slug(str(group or "trivial"))
    return f"solver_{what}.{where}_{_slug(str(atom_in))}_to_{_slug(str(atom_out))}"


# --- linear ------------------------------------------------------------------------------------


def lower_solver_linear(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """``linear`` by a basis of equivariant maps (called by the core lowering of `linear`)."""
    group = ctx.group.channel_group
    source, target = ctx.in_types(node)[0], node.out_types[0]
    in_terms, out_terms = _terms(ctx.group, source), _terms(ctx.group, target)
    coeffs, bases, pairs, closed = [], [], [], []
    sizes = {
        (o, i): linear_pair(ctx.group, t.atom, out.atom)
        for o, out in enumerate(target.terms)
        for i, t in enumerate(source.terms)
    }
    init = node.attrs.get("init") or UNIFORM
    for o, out in enumerate(target.terms):
        found = [(i, t, sizes[o, i]) for i, t in enumerate(source.terms)]
        # the path (o, i) as a block of a matrix: the coefficients that feed one output copy of
        # term o, and those one input copy of term i feeds
        fan_in = sum(t.mul * pb.size for _, t, pb in found)
        for i, term, pb in found:
            if pb.size == 0:
                continue
            shape = (out.mul, term.mul, pb.size)
            fan_out = sum(u.mul * sizes[p, i].size for p, u in enumerate(target.terms))
            coeff = ctx.param(f"{node.id}.coeff_{o}_{i}", shape, fan_in, init, fan_out)
            if pb.dense is None:
                closed.append((o, i, coeff, pb))
                continue
            name = _basis_name(group, term.atom, out.atom, "basis")
            bases.append(_shared_buffer(ctx, name, lambda pb=pb: _constant(ctx, pb.dense)))
            coeffs.append(coeff)
            pairs.append((o, i))
    fan_in = ctx.group.type_dim(source)
    bias = _bias(ctx, node, group, target, fan_in) if node.attrs.get("bias", True) else None
    x = args[0]
    parts = []
    if pairs or not closed:  # the dense pairs (an empty output: a [0, d_in] matrix)
        weight = (
            ctx.call(rt_solver.basis_weight, coeffs, bases, tuple(pairs), out_terms, in_terms)
            if pairs
            else ctx.buffer(
                f"{node.id}.weight", _constant(ctx, np.zeros((0, sum(m * d for m, d in in_terms))))
            )
        )
        parts.append(ctx.call(F.linear, x, weight, bias))
    for o, i, coeff, pb in closed:
        parts.append(_closed_pair(ctx, x, coeff, pb, (o, i), in_terms, out_terms))
    if not pairs and closed and bias is not None:
        parts.append(bias)
    y = parts[0]
    for part in parts[1:]:
        y = ctx.call(operator.add, y, part)
    return y


def _bias(
    ctx: LowerCtx, node: Node, group: solver.MatrixGroup | None, target: FeatureType, fan_in: int
) -> fx.Node | None:
    """Coefficients on the invariant vectors of each output atom (initialised like nn.Linear's
    bias, ±1/sqrt(fan_in)); None without any."""
    coeffs: list[fx.Node | None] = []
    bases: list[fx.Node | None] = []
    for o, out in enumerate(target.terms):
        pb = linear_pair(ctx.group, SCALAR, out.atom)
        if pb.size == 0:
            coeffs.append(None)
            bases.append(None)
            continue
        # [K, dim]; a huge atom's invariants are still few and small (orbit sums)
        invariants = (
            pb.dense[:, :, 0]
            if pb.dense is not None
            else solver.invariant_basis(group, solver_rep(out.atom)).T
        )
        name = _basis_name(group, SCALAR, out.atom, "invariants")
        bases.append(_shared_buffer(ctx, name, lambda v=invariants: _constant(ctx, v)))
        init = node.attrs.get("bias_init") or UNIFORM
        shape = (out.mul, len(invariants))
        coeffs.append(ctx.param(f"{node.id}.bias_{o}", shape, fan_in, init, out.mul))
    if all(c is None for c in coeffs):
        return None
    return ctx.call(rt_solver.basis_bias, coeffs, bases, _terms(ctx.group, target))


def _closed_pair(
    ctx: LowerCtx,
    x: fx.Node,
    coeff: fx.Node,
    pb: PairBasis,
    pair: tuple[int, int],
    in_terms: tuple[tuple[int, int], ...],
    out_terms: tuple[tuple[int, int], ...],
) -> fx.Node:
    """One pair of terms by its closed form: slice the input term, apply, place the output."""
    o, i = pair
    start_in = sum(m * d for m, d in in_terms[:i])
    part = ctx.call(
        operator.getitem, x, (Ellipsis, slice(start_in, start_in + math.prod(in_terms[i])))
    )
    closed = pb.closed
    assert closed is not None
    orders = (closed.k, closed.l)
    n = closed.n if isinstance(closed, solver.PartitionBasis) else closed.group.dim
    if isinstance(closed, solver.PartitionBasis):
        steps, targets = _partition_steps(ctx, closed)
        y = ctx.call(rt_solver.partition_apply, part, coeff, steps, targets, n, orders)
    else:
        metric = solver.closed_forms.BRAUER_METRIC[closed.group.family](closed.group)
        table = _shared_buffer(
            ctx, f"solver_metric.{_slug(str(closed.group))}", lambda: _constant(ctx, metric)
        )
        y = ctx.call(rt_solver.brauer_apply, part, coeff, _brauer_steps(closed), table, n, orders)
    start_out = sum(m * d for m, d in out_terms[:o])
    return ctx.call(rt_solver.place, y, start_out, sum(m * d for m, d in out_terms))


def _partition_steps(
    ctx: LowerCtx, basis: solver.PartitionBasis
) -> tuple[tuple[rt_solver.PartitionStep, ...], list[fx.Node | None]]:
    steps, targets = [], []
    n, l = basis.n, basis.l  # noqa: E741
    for c, diagram in enumerate(basis.diagrams):
        outs, ins = diagram[:l], diagram[l:]
        blocks = tuple(dict.fromkeys(outs))
        kept = tuple(b for b in blocks if b in ins)
        steps.append((tuple(ins), kept, blocks))
        if len(blocks) == len(outs):
            targets.append(None)
            continue
        # Flat output position of each value of the output blocks (indices equal in a block).
        grid = np.indices((n,) * len(blocks)).reshape(len(blocks), -1)
        flat = sum(grid[blocks.index(b)] * n ** (l - 1 - p) for p, b in enumerate(outs))
        name = f"solver_diagonal.S{n}_{l}_{_slug(str(diagram))}_{c}"
        index = torch.as_tensor(flat, dtype=torch.long)
        targets.append(_shared_buffer(ctx, name, lambda v=index: v))
    return tuple(steps), targets


def _brauer_steps(basis: solver.BrauerBasis) -> tuple[rt_solver.BrauerStep, ...]:
    l = basis.l  # noqa: E741
    steps = []
    for diagram in basis.diagrams:
        letters = list(range(l + basis.k))
        paired = []
        for a, b in diagram:
            if a < l <= b:  # one output, one input: the identity
                letters[b] = letters[a]
            else:
                paired.append((a, b))
        steps.append((tuple(letters[l:]), tuple(paired), tuple(letters[:l])))
    return tuple(steps)


# --- mdot --------------------------------------------------------------------------------------


@lowering("mdot")
def lower_mdot(ctx: LowerCtx, node: Node, args: list[fx.Node]) -> fx.Node:
    """Σ_ij a_i M_ij b_j per copy: b is multiplied by M (a sign vector when M is diagonal, as
    η is), then the per-copy dot product."""
    types = ctx.in_types(node)
    a, b = ctx.align(args, types, node.out_types[0].axes)
    forms = [invariant_form(ctx.group, atom) for atom in copies(types[0])]
    terms = _terms(ctx.group, types[0])
    full = torch.block_diag(*(torch.as_tensor(f, dtype=torch.float64) for f in forms)).numpy()
    if np.array_equal(full, np.eye(len(full))):
        return ctx.call(rt.copy_dot, a, b, terms)
    if np.array_equal(full, np.diag(np.diag(full))):
        signs = ctx.buffer(f"{node.id}.metric", _constant(ctx, np.diag(full).copy()))
        return ctx.call(rt.copy_dot, a, ctx.call(operator.mul, b, signs), terms)
    form = ctx.buffer(f"{node.id}.metric", _constant(ctx, full))
    return ctx.call(rt.copy_dot, a, ctx.call(F.linear, b, form), terms)
