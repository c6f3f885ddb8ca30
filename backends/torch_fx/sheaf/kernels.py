"""Kernels of neural sheaf diffusion (typing and conventions: ``geoc.ops.sheaf``). Stalks are
``[N, d*f]``, stalk coordinate first; an edge's maps are ``[E, 2k]``, the ``dst`` end's first,
``k = d`` (diagonal) or ``d*d`` (row-major). Edges are ``(src, dst, mask)``, ``mask`` None or
0/1 per edge. Imports only torch (copied into exported modules).
"""

from __future__ import annotations

import torch
from torch import Tensor


def restriction_maps(a: Tensor, b: Tensor, weight: Tensor, d: int, diagonal: bool) -> Tensor:
    """``Φ(a ‖ b)`` for the ``dst`` end and ``Φ(b ‖ a)`` for the ``src`` end, ``Φ`` linear
    (``weight``, no bias, as the authors' sheaf learner): tanh of it for diagonal maps, else
    the Cayley transform of the skew-symmetric matrix its entries fill below the diagonal."""
    ends = (torch.cat([a, b], -1) @ weight.T, torch.cat([b, a], -1) @ weight.T)
    maps = [torch.tanh(z) if diagonal else cayley(z, d).flatten(-2) for z in ends]
    return torch.cat(maps, -1)


def cayley(z: Tensor, d: int) -> Tensor:
    """``(I - S)⁻¹ (I + S)`` for ``S = A - Aᵀ``, ``A`` strictly lower triangular with the
    entries of ``z`` ([E, d(d-1)/2]) row by row: a rotation, rational in ``z`` (so smooth),
    and ``I - S`` is invertible for every skew ``S`` (its eigenvalues are ``1 - iλ``)."""
    rows, cols = torch.tril_indices(d, d, -1, device=z.device)
    lower = _fill(z.new_zeros(*z.shape[:-1], d, d), rows, cols, z)
    skew = lower - lower.transpose(-1, -2)
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    return torch.linalg.solve(eye - skew, eye + skew)


def _fill(lower: Tensor, rows: Tensor, cols: Tensor, z: Tensor) -> Tensor:
    """``lower`` with ``z``'s entries at ``(rows, cols)`` (out of place, differentiable)."""
    d = lower.shape[-1]
    flat = lower.flatten(-2).index_copy(-1, rows * d + cols, z)
    return flat.unflatten(-1, (d, d))


def sheaf_diffusion(
    x: Tensor,
    maps: Tensor,
    edges: tuple[Tensor, Tensor, Tensor | None],
    w1: Tensor,
    w2: Tensor,
    diagonal: bool,
) -> Tensor:
    """``Δ (I ⊗ W1) X W2`` with ``Δ = D^{-1/2} L D^{-1/2}``, ``L = Σ_e δ_eᵀ δ_e``,
    ``δ_e y = F_dst y_dst - F_src y_src``; ``D`` the blocks ``Σ_{e∋v} F_{v◁e}ᵀ F_{v◁e}``:
    diagonal for diagonal maps, the incident edge count times ``I`` for orthogonal ones. Where
    ``D`` is 0 (a node without edges, or a vanishing diagonal entry) ``L``'s row is 0 too, so
    ``D^{-1/2}`` is taken as 0 there, masked before the root (finite derivatives)."""
    src, dst, mask = edges
    n, d = x.shape[0], w1.shape[0]
    y = torch.einsum("ij,njc,ck->nik", w1, x.unflatten(-1, (d, -1)), w2)
    k = maps.shape[-1] // 2
    f_dst, f_src = maps[:, :k], maps[:, k:]
    weight = None if mask is None else mask.to(x.dtype)
    if diagonal:
        degree = _to_ends(f_dst.square(), f_src.square(), src, dst, n, weight)  # [N, d]
    else:
        ones = maps.new_ones(maps.shape[0], 1)
        degree = _to_ends(ones, ones, src, dst, n, weight)  # [N, 1]: F_vᵀ F_v = I
    scale = _inverse_root(degree).unsqueeze(-1)  # [N, d or 1, 1]
    y = scale * y
    if diagonal:
        delta = f_dst.unsqueeze(-1) * y[dst] - f_src.unsqueeze(-1) * y[src]  # [E, d, f]
        at_dst, at_src = f_dst.unsqueeze(-1) * delta, -f_src.unsqueeze(-1) * delta
    else:
        f_dst, f_src = f_dst.unflatten(-1, (d, d)), f_src.unflatten(-1, (d, d))
        delta = f_dst @ y[dst] - f_src @ y[src]
        at_dst, at_src = f_dst.transpose(-1, -2) @ delta, -f_src.transpose(-1, -2) @ delta
    out = _to_ends(at_dst.flatten(1), at_src.flatten(1), src, dst, n, weight)
    return (scale * out.unflatten(-1, (d, -1))).flatten(1)


def _to_ends(
    at_dst: Tensor, at_src: Tensor, src: Tensor, dst: Tensor, n: int, weight: Tensor | None
) -> Tensor:
    """``Σ`` of each edge's ``at_dst`` into its ``dst`` and ``at_src`` into its ``src``."""
    if weight is not None:
        at_dst, at_src = at_dst * weight.unsqueeze(-1), at_src * weight.unsqueeze(-1)
    out = at_dst.new_zeros(n, at_dst.shape[-1])
    return out.index_add(0, dst, at_dst).index_add(0, src, at_src)


def _inverse_root(degree: Tensor) -> Tensor:
    """``degree^{-1/2}``, 0 where ``degree`` is 0 (the root is taken of 1 there)."""
    positive = degree > 0
    return torch.where(positive, torch.where(positive, degree, 1.0).rsqrt(), 0.0)
