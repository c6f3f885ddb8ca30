# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Runtime kernels of the O(3) operators. Plain PyTorch.

Copied next to every exported module (as ``geoc_runtime_o3.py``, with the import of the
common kernels rewritten). Channels are laid out as in e3nn (``mul_ir``): a term of ``mul``
copies of a ``dim``-dimensional irrep is ``mul * dim`` channels, copy-major. ``terms``
arguments list ``(mul, dim, kind)`` per term, in layout order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import activation, safe_norm, unit_vector

Terms = tuple[tuple[int, int, str], ...]


# --- spherical harmonics ----------------------------------------------------------------------


def spherical_harmonics(v: Tensor, lmax: int, normalize: bool) -> Tensor:
    """``[..., 3] -> [..., (lmax+1)^2]``: e3nn's real harmonics ``Y^0 .. Y^lmax``, ``component``
    normalisation (``|Y^l|^2 = 2l+1`` on the unit sphere); polar axis ``y``, ``Y^1 ∝ (x, y, z)``.

    The textbook real harmonics (no Condon-Shortley phase) at ``(x', y', z') = (z, x, y)``, by
    the homogeneous Cartesian recurrence of Bigi et al. (J. Chem. Phys. 159, 064802, 2023).
    ``normalize`` divides by ``|v|`` (the zero vector gives ``Y^0 = 1``, ``Y^{l>0} = 0``, with
    finite first and second derivatives: :func:`unit_vector`).
    """
    if normalize:
        v = unit_vector(v)
    xp, yp, zp = v[..., 2], v[..., 0], v[..., 1]
    rho2 = xp * xp + yp * yp + zp * zp
    cos_m, sin_m = _azimuthal_powers(lmax, xp, yp)
    rows: list[list[Tensor | None]] = [[None] * (2 * l + 1) for l in range(lmax + 1)]
    for m in range(lmax + 1):
        for l, q in enumerate(_legendre_column(lmax, m, zp, rho2), start=m):
            norm = _sh_normalization(l, m)
            rows[l][l + m] = norm * q * cos_m[m]
            if m > 0:
                rows[l][l - m] = norm * q * sin_m[m]
    return torch.stack([c for row in rows for c in row], dim=-1)  # type: ignore[misc]


def _azimuthal_powers(lmax: int, xp: Tensor, yp: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``C_m, S_m`` with ``C_m + i S_m = (x' + i y')^m``."""
    cos_m, sin_m = [torch.ones_like(xp)], [torch.zeros_like(xp)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(xp * c - yp * s)
        sin_m.append(xp * s + yp * c)
    return cos_m, sin_m


def _legendre_column(lmax: int, m: int, zp: Tensor, rho2: Tensor) -> list[Tensor]:
    """``Q_m^m .. Q_lmax^m``: ``Q_m^m = (2m-1)!!``, ``Q_{m+1}^m = (2m+1) z' Q_m^m``,
    ``(l-m) Q_l^m = (2l-1) z' Q_{l-1}^m - (l+m-1) rho^2 Q_{l-2}^m``."""
    double_factorial = 1.0
    for k in range(1, 2 * m, 2):
        double_factorial *= k
    column = [torch.full_like(zp, double_factorial)]
    if m < lmax:
        column.append((2 * m + 1) * zp * column[0])
    for l in range(m + 2, lmax + 1):
        column.append(((2 * l - 1) * zp * column[-1] - (l + m - 1) * rho2 * column[-2]) / (l - m))
    return column


def _sh_normalization(l: int, m: int) -> float:
    """``sqrt((2l+1) (2 - δ_m0) (l-m)! / (l+m)!)``."""
    ratio = 1.0
    for k in range(l - m + 1, l + m + 1):
        ratio /= k
    return ((2 * l + 1) * (1 if m == 0 else 2) * ratio) ** 0.5


def cast_like(table: Tensor, like: Tensor) -> Tensor:
    """A float64 constant table in the dtype of the values it meets."""
    return table.to(like.dtype)


# --- radial basis -----------------------------------------------------------------------------


def bessel_basis(d: Tensor, n: int, cutoff: float) -> Tensor:
    """``[..., 1] -> [..., n]``: ``sqrt(2/c) sin(k π d / c) / d`` for ``k = 1..n`` (DimeNet,
    NequIP), times the polynomial envelope; the limit ``sqrt(2/c) k π / c`` at ``d = 0``.
    Exactly 0, with derivatives 0, from the cutoff on: distances there (masked pairs of a
    static layout, however far or even infinite) are replaced before any function sees them."""
    k = torch.arange(1, n + 1, dtype=d.dtype, device=d.device)
    x = d / cutoff
    inside = x < 1.0
    x = torch.where(inside, x, 0.0)
    bessel = (2.0 / cutoff) ** 0.5 * (k * torch.pi / cutoff) * smooth_sinc(k * x)
    return torch.where(inside, bessel * polynomial_envelope(x), 0.0)


#: Below this ``|u|`` :func:`smooth_sinc` is its Taylor polynomial: there the quotient's second
#: derivative cancels terms of size ``|πu|^-3`` (float32 would keep no digit of it at 1e-3).
SINC_SERIES_BELOW = 0.1
#: ``(-1)^j / (2j + 1)!``, the Taylor coefficients of ``sin(a) / a`` in ``a²``; the first term
#: left out, ``(πu)^14 / 15!``, and its second derivative are below float64's rounding of 1.
_SINC_SERIES = tuple((-1) ** j / math.factorial(2 * j + 1) for j in range(7))


def smooth_sinc(u: Tensor) -> Tensor:
    """``sin(πu) / (πu)`` with finite, accurate derivatives of every order at and near 0
    (coincident points): ``torch.sinc``'s second derivative is NaN at 0. For ``|u| < 0.1`` a
    Taylor polynomial in ``(πu)²`` (exact to rounding, derivatives included); elsewhere the
    quotient, of a divisor that is never 0."""
    near = u.abs() < SINC_SERIES_BELOW
    a = torch.where(near, 1.0, u) * torch.pi  # each branch sees only its own inputs
    a2 = (torch.where(near, u, 0.0) * torch.pi) ** 2
    series = torch.full_like(u, _SINC_SERIES[-1])
    for coefficient in reversed(_SINC_SERIES[:-1]):
        series = series * a2 + coefficient
    return torch.where(near, series, torch.sin(a) / a)


def polynomial_envelope(x: Tensor, p: int = 6) -> Tensor:
    """``1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)`` for ``x < 1``, else 0:
    smooth (p-1 continuous derivatives) at the cutoff (Klicpera et al., DimeNet, 2020). From
    1 on, ``x`` is replaced before the powers (which overflow for large ``x``, and ``0 * inf``
    is NaN in a derivative)."""
    inside = x < 1.0
    x = torch.where(inside, x, 0.0)
    u = (
        1.0
        - (p + 1) * (p + 2) / 2 * x**p
        + p * (p + 2) * x ** (p + 1)
        - p * (p + 1) / 2 * x ** (p + 2)
    )
    return torch.where(inside, u, 0.0)


# --- gated and normed non-linearities, layer norm ---------------------------------------------


def _blocks(x: Tensor, terms: Terms) -> list[Tensor]:
    """``x`` cut into its terms, each ``[..., mul, dim]``."""
    lead, out, start = x.shape[:-1], [], 0
    for mul, dim, _ in terms:
        out.append(x[..., start : start + mul * dim].reshape(*lead, mul, dim))
        start += mul * dim
    return out


def _join(blocks: list[Tensor]) -> Tensor:
    return torch.cat([b.flatten(-2) for b in blocks], dim=-1)


_GATE_ACTS = {"even": F.silu, "odd": torch.tanh}


def gate(x: Tensor, terms: Terms) -> Tensor:
    """e3nn-style gate: ``even`` scalars through silu, ``odd`` ones through tanh, and copy
    ``i`` of every ``gated`` term times ``sigmoid`` of the ``i``-th even scalar."""
    blocks = _blocks(x, terms)
    evens = [b[..., 0] for b, (_, _, kind) in zip(blocks, terms, strict=True) if kind == "even"]
    gates = torch.sigmoid(torch.cat(evens, -1)) if evens else x[..., :0]
    out = [
        _GATE_ACTS[kind](b) if kind in _GATE_ACTS else b * gates[..., :mul, None]
        for b, (mul, _, kind) in zip(blocks, terms, strict=True)
    ]
    return _join(out)


def norm_act(x: Tensor, terms: Terms, act: str | None, bias: Tensor | None) -> Tensor:
    """``even`` scalars through ``act`` (a torch function by dotted name; None: the identity);
    each copy ``v`` of the other terms becomes ``v * act(|v| + b) / |v|`` (0 at ``v = 0``), with
    one bias ``b`` per such copy."""
    fn, out, at = activation(act), [], 0
    for block, (mul, _, kind) in zip(_blocks(x, terms), terms, strict=True):
        if kind == "even":
            out.append(fn(block))
            continue
        norm = torch.where(block.any(-1), safe_norm(block), 0.0)  # 0 at v = 0: act(b) there
        shifted = norm if bias is None else norm + bias[at : at + mul]
        scale = fn(shifted) / torch.where(norm > 0, norm, 1.0)
        out.append(block * scale.unsqueeze(-1))
        at += mul
    return _join(out)


def layer_norm(
    x: Tensor, terms: Terms, weight: Tensor, bias: Tensor | None, eps: float = 1e-5
) -> Tensor:
    """Equivariant layer norm. The kind of a term names its group: terms of one group are
    normalised together. The ``even`` scalars are centred and divided by their RMS; every
    other group is divided by the RMS of its copies' norms, ``sqrt(mean |v|^2 + eps)``. Then
    each copy is scaled by its ``weight`` and each even scalar shifted by its ``bias``."""
    blocks = _blocks(x, terms)
    blocks = layer_norm_blocks(blocks, [kind for _, _, kind in terms], eps)
    return _scale_and_shift(blocks, terms, weight, bias)


def separable_layer_norm(
    x: Tensor, terms: Terms, weight: Tensor, bias: Tensor | None, eps: float = 1e-5
) -> Tensor:
    """EquiformerV2's separable layer norm (Liao et al. 2024, arXiv:2306.12059, section 4.3):
    the ``even`` scalars as in :func:`layer_norm`; all other terms divided by one RMS,
    ``sqrt(mean_k mean |v|^2 / dim_k + eps)`` over the groups ``k`` (atom types) and their
    copies (the paper's degree-balanced "component" RMS); then the same scale and shift."""
    blocks = _blocks(x, terms)
    kinds = [kind for _, _, kind in terms]
    if "even" in kinds:
        blocks = layer_norm_blocks(blocks, kinds, eps, only="even")
    others = [k for k in dict.fromkeys(kinds) if k != "even"]
    if others:
        per_group = []
        for kind in others:
            members = [b for b, k in zip(blocks, kinds, strict=True) if k == kind]
            per_group.append(torch.cat(members, -2).pow(2).mean(dim=(-2, -1)))
        rms = (torch.stack(per_group, -1).mean(-1) + eps).sqrt()[..., None, None]
        blocks = [b if k == "even" else b / rms for b, k in zip(blocks, kinds, strict=True)]
    return _scale_and_shift(blocks, terms, weight, bias)


def layer_norm_blocks(
    blocks: list[Tensor], kinds: list[str], eps: float, only: str | None = None
) -> list[Tensor]:
    """The ``even`` scalars centred, then each group (``only``: that one) divided by the RMS of
    its copies' norms, ``sqrt(mean |v|^2 + eps)``."""
    if "even" in kinds:
        evens = [b for b, k in zip(blocks, kinds, strict=True) if k == "even"]
        mean = torch.cat(evens, -2).mean(dim=(-2, -1), keepdim=True)
        blocks = [b - mean if k == "even" else b for b, k in zip(blocks, kinds, strict=True)]
    for kind in dict.fromkeys(kinds) if only is None else (only,):
        members = [b for b, k in zip(blocks, kinds, strict=True) if k == kind]
        mean_sq = torch.cat(members, -2).pow(2).sum(-1).mean(-1)
        rms = (mean_sq + eps).sqrt()[..., None, None]
        blocks = [b / rms if k == kind else b for b, k in zip(blocks, kinds, strict=True)]
    return blocks


def _scale_and_shift(
    blocks: list[Tensor], terms: Terms, weight: Tensor, bias: Tensor | None
) -> Tensor:
    out, copy, scalar = [], 0, 0
    for block, (mul, _, kind) in zip(blocks, terms, strict=True):
        block = block * weight[copy : copy + mul, None]
        copy += mul
        if kind == "even" and bias is not None:
            block = block + bias[scalar : scalar + mul, None]
            scalar += mul
        out.append(block)
    return _join(out)
