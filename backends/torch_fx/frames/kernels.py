# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Runtime kernels of the frame operators. Plain PyTorch; copied into exported modules.

A ``frame(n)`` value is ``[..., n*n]``, column by column (column ``j`` at ``j*n .. j*n+n``),
each column a vector of R^n. Every kernel is branch-free in the data, so meta tensors, fake
tensors and ``torch.compile`` capture it whole.

Degenerate inputs (parallel or vanishing vectors) are the rule, not the exception, for
canonicalisation of symmetric inputs (a planar cloud has no orientation under O(3)). Each
residual ``r_k`` (``v_k`` minus its projections on the earlier columns) is divided by
``|r_k|`` where ``|r_k| >= δ|v_k|`` (δ = 1e-3), and below that by the second-order Taylor
polynomial of the root in ``|r_k|²`` about ``δ²|v_k|²`` (positive, >= 0.375 δ|v_k|): the
normaliser is C² everywhere, its argument masked before the root, so outputs and first and
second derivatives are finite (bounded by about ``1/(δ|v|)`` and its square), and the frame is
exactly orthonormal wherever the margin ``|r_k|/|v_k|`` is at least δ. Every step uses norms
and inner products only, so the frame is exactly equivariant for every input, degenerate or
not; `geoc check` reports margins below δ (GEO620).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.o3.kernels import spherical_harmonics

#: δ: below this margin |r|/|v| a column is shortened smoothly instead of normalised.
MARGIN = 1e-3


def _root(sq: Tensor, floor: Tensor) -> Tensor:
    """``sqrt(sq)`` for ``sq >= floor``, else its Taylor polynomial of order 2 about ``floor``
    (in ``z = sq/floor - 1``): C² in both, never below ``0.375 sqrt(floor)``."""
    kept = torch.where(sq >= floor, sq, floor)  # masked before the root
    z = sq / floor - 1
    taylor = floor.sqrt() * (1 + z / 2 - z * z / 8)
    return torch.where(sq >= floor, kept.sqrt(), taylor)


def _normalised(r: Tensor, v: Tensor) -> Tensor:
    """``r / |r|`` where ``|r| >= δ|v|``, smoothly shortened below (see the module's doc). The
    floor is at least ``sqrt(tiny)``, so ``1/floor`` (second derivatives) stays finite."""
    least = torch.finfo(r.dtype).tiny ** 0.5
    floor = MARGIN**2 * v.pow(2).sum(-1, keepdim=True) + least
    return r / _root(r.pow(2).sum(-1, keepdim=True), floor)


def _residual(v: Tensor, columns: list[Tensor]) -> Tensor:
    """``v`` minus its projections on the earlier columns (classical Gram-Schmidt)."""
    r = v
    for u in columns:
        r = r - (u * v).sum(-1, keepdim=True) * u
    return r


def residuals(vs: list[Tensor]) -> list[Tensor]:
    """Gram-Schmidt: the columns ``u_k``, each residual normalised (:func:`_normalised`)."""
    columns: list[Tensor] = []
    for v in vs:
        columns.append(_normalised(_residual(v, columns), v))
    return columns


def conditioning(*vs: Tensor) -> Tensor:
    """``|r_k| / |v_k|`` per element, the smallest over k (``[...]``): 1 for orthogonal vectors,
    0 for a degenerate frame. What `geoc check` reports (the forward pass never calls it)."""
    columns: list[Tensor] = []
    worst = torch.ones(vs[0].shape[:-1], dtype=vs[0].dtype, device=vs[0].device)
    tiny = torch.finfo(vs[0].dtype).tiny
    for v in vs:
        r = _residual(v, columns)
        ratio = (r.pow(2).sum(-1) / (v.pow(2).sum(-1) + tiny)).sqrt()
        worst = torch.minimum(worst, ratio)
        columns.append(_normalised(r, v))
    return worst


def _cross_column(columns: list[Tensor]) -> Tensor:
    """The last column of an SO(n) frame from the others: ``J u`` in 2-D, ``u1 x u2`` in 3-D."""
    if len(columns) == 1:
        u = columns[0]
        return torch.stack((-u[..., 1], u[..., 0]), dim=-1)
    return torch.linalg.cross(columns[0], columns[1], dim=-1)


def gram_schmidt(n: int, *vs: Tensor) -> Tensor:
    """The frame ``[..., n*n]`` of ``vs`` (each ``[..., n]``): n vectors, or n-1 and the
    cross-product completion (det +1)."""
    shape = torch.broadcast_shapes(*(v.shape for v in vs))
    columns = residuals([v.expand(shape) for v in vs])
    if len(columns) < n:
        columns.append(_cross_column(columns))
    return torch.cat(columns, dim=-1)


def as_matrix(frame: Tensor, n: int) -> Tensor:
    """``[..., n*n]`` (columns) -> ``[..., n, n]`` with ``F[..., i, j]`` row i of column j."""
    return frame.unflatten(-1, (n, n)).transpose(-1, -2)


def determinant(matrix: Tensor) -> Tensor:
    """``det F`` by its polynomial in 2-D and 3-D (smooth everywhere, unlike LU's backward)."""
    n = matrix.shape[-1]
    if n == 1:
        return matrix[..., 0, 0]
    if n == 2:
        return matrix[..., 0, 0] * matrix[..., 1, 1] - matrix[..., 0, 1] * matrix[..., 1, 0]
    if n == 3:
        cols = matrix.transpose(-1, -2)
        cross = torch.linalg.cross(cols[..., 0, :], cols[..., 1, :], dim=-1)
        return (cross * cols[..., 2, :]).sum(-1)
    return torch.linalg.det(matrix)


def wigner_blocks(
    matrix: Tensor, lmax: int, points: Tensor | None, inverse: Tensor | None
) -> list[Tensor]:
    """``D^l(F)`` for l = 0..lmax (``[..., 2l+1, 2l+1]``), the natural-parity O(3) matrices:
    ``D^1 = F``, and for l >= 2 ``Y^l(F p_k)`` times the compile-time pseudo-inverse of
    ``Y^l(p_k)`` (``points``, ``inverse``: plan.py). ``Y^l`` is a homogeneous polynomial, so
    this is a polynomial in F: no Euler angles, no singular points."""
    one = torch.ones((*matrix.shape[:-2], 1, 1), dtype=matrix.dtype, device=matrix.device)
    blocks = [one, matrix][: lmax + 1]
    if lmax < 2:
        return blocks
    assert points is not None and inverse is not None
    moved = torch.matmul(points.to(matrix.dtype), matrix.transpose(-1, -2))  # [..., K, 3]
    harmonics = spherical_harmonics(moved, lmax, False).transpose(-1, -2)  # [..., (l+1)², K]
    for l in range(2, lmax + 1):
        rows = harmonics[..., l * l : (l + 1) ** 2, :]
        blocks.append(torch.matmul(rows, inverse[:, l * l : (l + 1) ** 2].to(matrix.dtype)))
    return blocks


def move(
    x: Tensor,
    frame: Tensor,
    terms: tuple[tuple[int, int, int], ...],
    n: int,
    inward: bool,
    points: Tensor | None = None,
    inverse: Tensor | None = None,
) -> Tensor:
    """Into the frame (``inward``: ``D(F)^T x`` per copy) or out of it (``D(F) y``); ``terms``
    are ``(copies, l, sign)``, sign -1 multiplying by ``det F`` as well (pseudo atoms)."""
    matrix = as_matrix(frame, n)
    lmax = max([0, *(l for _, l, _ in terms)])  # no `default=`: dynamo cannot trace it
    blocks = wigner_blocks(matrix, lmax, points, inverse)
    det = determinant(matrix)[..., None, None]
    out, start = [], 0
    for copies, l, sign in terms:
        size = blocks[l].shape[-1]
        part = x[..., start : start + copies * size].unflatten(-1, (copies, size))
        block = blocks[l] if sign == 1 else blocks[l] * det
        # Copies are rows: x_c @ D is D^T x_c (into the frame), x_c @ D^T is D x_c (out).
        moved = torch.matmul(part, block if inward else block.transpose(-1, -2))
        out.append(moved.flatten(-2))
        start += copies * size
    return torch.cat(out, dim=-1)
