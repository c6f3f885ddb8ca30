# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""eSCN's SO(2) convolution (Passaro & Zitnick 2023) written plainly from the paper's
equations, for the tests of ``so2_conv`` and of the specs built on it (EquiformerV2): e3nn's
Euler angles and ``wigner_D`` for the edge frames, explicit per-``m`` weight blocks."""

from __future__ import annotations

import torch
from e3nn import o3 as e3o3

F64 = torch.float64


def split(x: torch.Tensor, terms: list) -> list[torch.Tensor]:
    """``[E, mul, 2l+1]`` per term ``(mul, l, p)``."""
    widths = [mul * (2 * l + 1) for mul, l, _ in terms]
    return [
        b.reshape(len(x), mul, 2 * l + 1)
        for b, (mul, l, _) in zip(x.split(widths, 1), terms, strict=True)
    ]


def so2_reference(
    x: torch.Tensor,
    r: torch.Tensor,
    basis: torch.Tensor,
    params: dict,
    mmax: int,
    parity: bool,
    in_terms: list,
    out_terms: list,
) -> torch.Tensor:
    """eSCN's convolution per edge of the edge values ``x`` along the edge vectors ``r``:
    D_e = wigner_D(α, β, 0) with R(α, β, 0) ŷ = r̂ (e3nn's frame, whose roll differs from
    geoc's Rodrigues frame: agreement tests roll independence); x' = D_eᵀ x; for each m,
    y'_{l', +m} = Σ_l s (W1 x'_{l,+m} - W2 x'_{l,-m}), y'_{l', -m} = Σ_l s (W2 x'_{l,+m} +
    W1 x'_{l,-m}) (m = 0: W0 alone), s = the radial scale, a linear map of ``basis``;
    y = D_e y'. Weights from the module's parameters (``radial.0.weight`` / ``.bias``,
    ``so2_m<m>``), masked by the mirror rule when ``parity``."""
    length = r.norm(dim=-1)
    zero = length == 0
    r = torch.where(zero[:, None], torch.tensor([0.0, 1.0, 0.0], dtype=r.dtype), r)  # any frame
    alpha, beta = e3o3.xyz_to_angles(r)
    scale = basis @ params["radial.0.weight"].T + params["radial.0.bias"]
    scale = scale * ~zero[:, None]  # no frame, no direction: 0 is the only equivariant value
    rotated = [
        torch.einsum("eji,ecj->eci", e3o3.wigner_D(l, alpha, beta, torch.zeros_like(alpha)), b)
        for b, (_, l, _) in zip(split(x, in_terms), in_terms, strict=True)
    ]
    y = [torch.zeros(len(r), mul, 2 * l + 1, dtype=x.dtype) for mul, l, _ in out_terms]
    offset = 0
    for m in range(mmax + 1):
        w = params[f"so2_m{m}"]
        w1, w2 = (w, None) if m == 0 else (w[0], w[1])
        rows = 0
        for t, (mul, l, p) in enumerate(in_terms):
            if l < m:
                continue
            s = scale[:, offset + rows : offset + rows + mul, None]
            cols = 0
            for o, (mul_o, lo, po) in enumerate(out_terms):
                if lo < m:
                    continue
                eps = p * po * (-1) ** (l + lo) if parity else 0
                a = w1[rows : rows + mul, cols : cols + mul_o] * (eps >= 0)
                plus = (rotated[t][:, :, l + m : l + m + 1] * s).squeeze(-1)
                if m == 0:
                    y[o][:, :, lo] += plus @ a
                else:
                    b = w2[rows : rows + mul, cols : cols + mul_o] * (eps <= 0)
                    minus = (rotated[t][:, :, l - m : l - m + 1] * s).squeeze(-1)
                    y[o][:, :, lo + m] += plus @ a - minus @ b
                    y[o][:, :, lo - m] += plus @ b + minus @ a
                cols += mul_o
            rows += mul
        offset += rows
    out = [
        torch.einsum("eij,ecj->eci", e3o3.wigner_D(l, alpha, beta, torch.zeros_like(alpha)), b)
        for b, (_, l, _) in zip(y, out_terms, strict=True)
    ]
    return torch.cat([b.flatten(1) for b in out], 1)
