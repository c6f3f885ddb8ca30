"""Kernels of the layers built from the equivariant-basis solver (torch only).

Copied next to exported models (``geoc_runtime_solver.py``), so it imports only torch. The
bases, metrics and index tables come from ``geoc.backends.torch_fx.solver.lower`` as buffers.
Values are laid out copy-major: a term ``mul x atom`` is ``[mul, dim]`` flattened.

* ``basis_weight`` assembles W = Σ_c coeff_c B_c for every pair of terms of a direct sum (Finzi,
  Welling & Wilson, ICML 2021: the weights are the coefficients of the equivariant basis).
* ``partition_apply`` / ``brauer_apply`` run a layer given by diagrams (Maron et al., ICLR
  2019; Pearce-Crump, ICML 2023) without the dense basis, one ``einsum`` per diagram.
"""

from __future__ import annotations

import torch
from torch import Tensor

Terms = tuple[tuple[int, int], ...]  # (multiplicity, dimension) per term, in layout order


def basis_weight(
    coeffs: list[Tensor],
    bases: list[Tensor],
    pairs: tuple[tuple[int, int], ...],
    out_terms: Terms,
    in_terms: Terms,
) -> Tensor:
    """W ``[Σ mul·dim out, Σ mul·dim in]``; block (o, i) is Σ_c coeffs[j][p, q, c] B_c at copy
    rows p, copy columns q, for ``pairs[j] == (o, i)`` (``bases[j]`` is ``[K, d_out, d_in]``);
    pairs not listed are zero."""
    where = {pair: j for j, pair in enumerate(pairs)}
    like = bases[0]
    rows = []
    for o, (mul_out, d_out) in enumerate(out_terms):
        row = []
        for i, (mul_in, d_in) in enumerate(in_terms):
            j = where.get((o, i))
            if j is None:
                row.append(like.new_zeros(mul_out * d_out, mul_in * d_in))
                continue
            block = torch.einsum("pqc,cab->paqb", coeffs[j], bases[j])
            row.append(block.reshape(mul_out * d_out, mul_in * d_in))
        rows.append(torch.cat(row, 1) if len(row) > 1 else row[0])
    return torch.cat(rows, 0) if len(rows) > 1 else rows[0]


def basis_bias(coeffs: list[Tensor | None], bases: list[Tensor | None], out_terms: Terms) -> Tensor:
    """The bias: per output term, Σ_c coeffs[p, c] u_c on copy p, with ``u_c`` the invariant
    vectors ``[K, dim]`` of the atom (none: zero)."""
    parts = []
    like = next(b for b in bases if b is not None)
    for (mul, dim), coeff, basis in zip(out_terms, coeffs, bases, strict=True):
        if coeff is None or basis is None:
            parts.append(like.new_zeros(mul * dim))
        else:
            parts.append((coeff @ basis).reshape(-1))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def place(y: Tensor, start: int, total: int) -> Tensor:
    """``y`` at channels ``start ..`` of a value with ``total`` channels, zero elsewhere."""
    return torch.nn.functional.pad(y, (start, total - start - y.shape[-1]))


# --- closed forms: one einsum per diagram -----------------------------------------------------

#: A partition diagram as the kernel runs it: the input letters (block labels, repeated where
#: indices are equal), the output blocks fed by the input, and all output blocks in order.
PartitionStep = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def partition_apply(
    x: Tensor,
    coeffs: Tensor,
    steps: tuple[PartitionStep, ...],
    targets: list[Tensor | None],
    n: int,
    orders: tuple[int, int],
) -> Tensor:
    """S(n) maps ``T(k) -> T(l)`` from diagram coefficients ``coeffs [mul_out, mul_in, K]``:
    ``x [..., mul_in * n^k] -> [..., mul_out * n^l]``. Each diagram takes diagonals of the
    input, sums the input-only blocks, broadcasts the output-only ones, and writes onto the
    output diagonal at ``targets[c]`` (flat output positions; None: no repeated output block)."""
    k, l = orders  # noqa: E741
    mul_in = coeffs.shape[1]
    xs = x.reshape(*x.shape[:-1], mul_in, *(n,) * k)
    out = None
    for c, ((ins, kept, blocks), target) in enumerate(zip(steps, targets, strict=True)):
        z = torch.einsum(xs, [..., *ins], [..., *kept])
        lead = z.ndim - len(kept)
        for pos, block in enumerate(blocks):
            if block not in kept:
                z = z.unsqueeze(lead + pos)
        z = z.expand(*z.shape[:lead], *(n,) * len(blocks)).reshape(*z.shape[:lead], -1)
        if target is not None:
            z = z.new_zeros(*z.shape[:-1], n**l).index_add(-1, target, z)
        term = torch.einsum("...qa,pq->...pa", z, coeffs[..., c])
        out = term if out is None else out + term
    assert out is not None
    return out.flatten(x.dim() - 1)  # no -1: the leading axes may be empty


#: A Brauer diagram as the kernel runs it: the input letters, the (output, output) and
#: (input, input) pairs that carry the metric, and the output letters.
BrauerStep = tuple[tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...]]


def brauer_apply(
    x: Tensor,
    coeffs: Tensor,
    steps: tuple[BrauerStep, ...],
    metric: Tensor,
    n: int,
    orders: tuple[int, int],
) -> Tensor:
    """O(n)-type maps ``T(k) -> T(l)`` from Brauer-diagram coefficients (metric δ, η or J on
    paired indices, the identity between an input and an output index)."""
    k, _ = orders
    mul_in = coeffs.shape[1]
    xs = x.reshape(*x.shape[:-1], mul_in, *(n,) * k)
    out = None
    for c, (ins, metric_pairs, outs) in enumerate(steps):
        operands: list = [xs, [..., *ins]]
        for a, b in metric_pairs:
            operands += [metric, [a, b]]
        y = torch.einsum(*operands, [..., *outs]).flatten(xs.ndim - k)
        term = torch.einsum("...qa,pq->...pa", y, coeffs[..., c])
        out = term if out is None else out + term
    assert out is not None
    return out.flatten(x.dim() - 1)  # no -1: the leading axes may be empty
