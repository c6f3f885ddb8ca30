"""Kernels of Poincaré ResNet on flat grids (typing: ``geoc.ops.manifold_grid_poincare``).
Plain PyTorch; copied into exported modules like the other kernels. Points of ``poincare(n, c)``
are channels last, ``[..., n]``; fields ``[B, *grid, n]``. ``λ_x = 2 / (1 - c|x|²)``.

* ``poincare_conv`` (HNN++, Shimizu et al. 2021, §3.2-3.3): the ``K = k1···kd`` neighbours
  ``x_1..x_K`` of a grid point (:func:`grid_patches`; a non-periodic ``zero`` edge reads the
  origin) are β-concatenated, ``y = exp₀(β_{Kn}/β_n log₀(x_1), ..., β_{Kn}/β_n log₀(x_K))``
  with ``β_m = B(m/2, 1/2)`` (Beta function), then the Poincaré fully connected layer maps
  ``y`` to ``poincare(out, c)``: ``v_k = 2|a_k|/√c · asinh(λ_y <√c y, a_k/|a_k|> cosh(2√c r_k)
  - (λ_y - 1) sinh(2√c r_k))``, ``w = sinh(√c v)/√c``, ``out = w / (1 + √(1 + c|w|²))``.
* ``poincare_batch_norm`` (van Spengler et al. 2023): over every point of the call, the
  gyromidpoint ``μ = ½ ⊗ (Σ λ_i x_i / Σ (λ_i - 1))`` and the Fréchet variance ``σ² = mean
  d(μ, x_i)²``, ``d(x, y) = 2/√c artanh(√c|-x ⊕ y|)``; ``x -> b ⊕ exp₀(γ/√(σ² + ε) ·
  log₀(-μ ⊕ x))``. In training the running midpoint moves to ``μ`` as the weighted midpoint
  of the two (weights ``1 - t``, ``t``) and the running variance linearly; eval mode uses them.
* ``poincare_midpoint``: the same ``μ``, pooled over an axis or the copies of a value.

Every ratio with a removable singularity at the origin (``tanh(s)/s``, ``artanh(s)/s``) is a
function of ``s²`` evaluated by its Taylor series below :data:`SERIES_BELOW` and masked before
the division, so first and second derivatives are finite everywhere, at ties and at the
origin included; no ``x/|x|`` of a point is formed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import safe_norm, unit_vector
from geoc.backends.torch_fx.grid.kernels import grid_patches
from geoc.backends.torch_fx.manifold.kernels import ball_eps, ball_project, copies, flat, mobius_add

#: Below this value of ``s²`` the ratios are their Taylor polynomials (error < 1e-16).
SERIES_BELOW = 1e-3
#: ``√c |v|`` of the fully connected layer's ``sinh`` is clamped here: every larger value is a
#: point beyond the boundary margin (``ball_project``) anyway, and ``sinh(30)²`` fits float32.
FC_MAX_DISTANCE = 30.0
#: ε of the batch norm's ``γ / √(σ² + ε)`` (the reference code's 1e-6).
BATCH_NORM_EPS = 1e-6


# --- smooth ratios ----------------------------------------------------------------------------


def _ratio(t: Tensor, fn, series: tuple[float, ...], top: float | None = None) -> Tensor:
    """``fn(s) / s`` as a function of ``t = s²``: ``fn`` above :data:`SERIES_BELOW` (``s``
    clamped to ``top``), the polynomial ``series`` in ``t`` below it (masked first)."""
    big = t > SERIES_BELOW
    s = torch.where(big, t, SERIES_BELOW).sqrt()
    direct = fn(s if top is None else s.clamp(max=top)) / s
    poly = torch.zeros_like(t)
    small = torch.where(big, 0.0, t)
    for coef in reversed(series):
        poly = poly * small + coef
    return torch.where(big, direct, poly)


def tanh_ratio(t: Tensor) -> Tensor:
    """``tanh(√t) / √t``."""
    return _ratio(t, torch.tanh, (1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835))


def artanh_ratio(t: Tensor) -> Tensor:
    """``artanh(√t) / √t``, the argument clamped to ``1 - eps`` (the ball's margin)."""
    top = 1.0 - ball_eps(t)
    return _ratio(t, torch.atanh, (1.0, 1 / 3, 1 / 5, 1 / 7, 1 / 9), top)


def _sq(x: Tensor) -> Tensor:
    return x.pow(2).sum(-1, keepdim=True)


def expmap0(v: Tensor, c: float) -> Tensor:
    """``tanh(√c|v|) v / (√c|v|)`` (Ganea et al. 2018, Lemma 2), inside the margin."""
    return ball_project(tanh_ratio(c * _sq(v)) * v, c)


def logmap0(x: Tensor, c: float) -> Tensor:
    """``artanh(√c|x|) x / (√c|x|)``."""
    return artanh_ratio(c * _sq(x)) * x


def lam(x: Tensor, c: float) -> Tensor:
    """The conformal factor ``λ_x = 2 / (1 - c|x|²)``, ``[..., 1]``."""
    return 2.0 / (1.0 - c * _sq(x)).clamp(min=torch.finfo(x.dtype).tiny)


# --- poincare_conv ----------------------------------------------------------------------------


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_concat(points: Tensor, c: float) -> Tensor:
    """HNN++'s β-concatenation of ``[..., K, n]`` points into one of ``poincare(K n, c)``."""
    k, n = points.shape[-2], points.shape[-1]
    scale = math.exp(log_beta(k * n / 2, 0.5) - log_beta(n / 2, 0.5))
    return expmap0(flat(logmap0(points, c) * scale), c)


def poincare_fc(y: Tensor, a: Tensor, r: Tensor, c: float) -> Tensor:
    """HNN++'s Poincaré fully connected layer: ``[..., m] -> [..., out]`` for directions
    ``a [out, m]`` and offsets ``r [out]``."""
    sc = c**0.5
    lam_y = lam(y, c)
    cosh, sinh = torch.cosh(2 * sc * r), torch.sinh(2 * sc * r)
    arg = lam_y * sc * (y @ unit_vector(a).T) * cosh - (lam_y - 1.0) * sinh
    v = 2.0 * safe_norm(a) / sc * torch.asinh(arg)
    w = torch.sinh((sc * v).clamp(-FC_MAX_DISTANCE, FC_MAX_DISTANCE)) / sc
    return ball_project(w / (1.0 + (1.0 + c * _sq(w)).sqrt()), c)


def poincare_conv(
    x: Tensor, a: Tensor, r: Tensor, c: float, kernel: tuple[int, ...], padding: str
) -> Tensor:
    """``[B, *grid, n] -> [B, *grid, out]``; ``padding`` as :func:`grid_patches` (its
    ``"constant"`` reads zeros: the ball's origin)."""
    return poincare_fc(beta_concat(grid_patches(x, kernel, padding), c), a, r, c)


# --- midpoint, variance, batch norm -----------------------------------------------------------


def klein_terms(x: Tensor, c: float) -> Tensor:
    """``[..., n] -> [..., n + 1]``: ``(λ_x x, λ_x - 1)``, whose sums over points give the
    gyromidpoint (:func:`midpoint_of_sums`)."""
    lx = lam(x, c)
    return torch.cat([lx * x, lx - 1.0], dim=-1)


def midpoint_of_sums(sums: Tensor, c: float) -> Tensor:
    """``½ ⊗ (Σ λ x / Σ (λ - 1))`` from the summed :func:`klein_terms` ``[..., n + 1]``: the
    Klein-model mean ``u`` sent back to the ball, ``u / (1 + √(1 - c|u|²))``. No points
    (a zero denominator) give the origin."""
    num, den = sums[..., :-1], sums[..., -1:]
    u = num / den.clamp(min=torch.finfo(sums.dtype).tiny)
    return ball_project(u / (1.0 + (1.0 - c * _sq(u)).clamp(min=0.0).sqrt()), c)


def gyromidpoint(x: Tensor, c: float, weights: Tensor | None = None) -> Tensor:
    """The (weighted) gyromidpoint over dim 0 of ``[N, n]`` points, ``N / (D + √Q)`` with
    ``N = Σ ω λ x``, ``D = Σ ω (λ - 1)`` and ``Q = D² - c|N|²`` (so ``√(1 - c|u|²) = √Q / D``
    for the Klein mean ``u = N / D``). Near the ball's edge ``1 - c|u|²`` cancels to
    ~1e-10 (the Klein radius squares the margin), so Q comes from the pairwise identity
    ``-<X_i, X_j>_L = 1 + c/2 λ_i λ_j |x_i - x_j|²``, summed in two passes around the weighted
    Euclidean mean x̄: ``Q = (Σ ω)² + c (Σ ω λ) Σ ω λ |x - x̄|²``, positive term by term (a
    reordering of the points moved the result by 3e-6 in float64 before)."""
    omega = torch.ones_like(x[:, 0]) if weights is None else weights
    lx = lam(x, c).squeeze(-1) * omega
    num = (lx[:, None] * x).sum(0)
    den = (lx - omega).sum()
    mass = lx.sum()
    centre = num / mass.clamp(min=torch.finfo(x.dtype).tiny)
    spread = (lx * _sq(x - centre).squeeze(-1)).sum()
    q = omega.sum().pow(2) + c * mass * spread
    return ball_project(num / (den + q.sqrt()).clamp(min=torch.finfo(x.dtype).tiny), c)


def midpoint_copies(x: Tensor, c: float, mul: int) -> Tensor:
    """The gyromidpoint of the ``mul`` copies of ``[..., mul * n]``."""
    return midpoint_of_sums(klein_terms(copies(x, mul), c).sum(-2), c)


def midpoint_pooled(sums: Tensor, c: float, mul: int) -> Tensor:
    """``[..., mul * (n + 1)]`` pooled :func:`klein_terms` of each copy -> ``[..., mul * n]``."""
    return flat(midpoint_of_sums(copies(sums, mul), c))


def klein_terms_copies(x: Tensor, c: float, mul: int) -> Tensor:
    """:func:`klein_terms` of each copy, ``[..., mul * n] -> [..., mul * (n + 1)]``."""
    return flat(klein_terms(copies(x, mul), c))


def dist_sq(x: Tensor, y: Tensor, c: float) -> Tensor:
    """``d(x, y)² = 4/c artanh(√c|w|)² = 4|w|² (artanh(√t)/√t)²``, ``w = -x ⊕ y``, ``t =
    c|w|²``: smooth at ``w = 0`` (a tie)."""
    w = mobius_add(-x, y, c)
    t = c * _sq(w)
    return (4.0 * _sq(w) * artanh_ratio(t).pow(2)).squeeze(-1)


def rescale(z: Tensor, factor: Tensor, c: float) -> Tensor:
    """``exp₀(factor · log₀(z))``."""
    return expmap0(factor * logmap0(z, c), c)


def _update_running(
    running_mean: Tensor, running_var: Tensor, mean: Tensor, var: Tensor, t: float, c: float
) -> None:
    with torch.no_grad():
        pair = torch.stack([running_mean.to(mean.dtype), mean.detach()])
        weights = torch.tensor([1.0 - t, t], dtype=mean.dtype, device=mean.device)
        running_mean.copy_(gyromidpoint(pair, c, weights))
        running_var.copy_((1.0 - t) * running_var + t * var.detach())


def poincare_batch_norm(
    x: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    scale: Tensor,
    bias: Tensor | None,
    training: bool,
    c: float,
    momentum: float,
) -> Tensor:
    """Midpoint batch norm of the ``[..., n]`` points of ``x``: batch statistics in training
    (and the running ones moved towards them, in place), the running ones in eval mode. An
    empty batch in training is returned as it is and leaves the running statistics alone."""
    points = x.reshape(-1, x.shape[-1])
    if training and points.shape[0] == 0:
        return x
    if training:
        mean = gyromidpoint(points, c)
        var = dist_sq(mean, points, c).mean()
        _update_running(running_mean, running_var, mean, var, momentum, c)
    else:
        mean, var = running_mean.to(points.dtype), running_var.to(points.dtype)
    factor = scale / (var + BATCH_NORM_EPS).sqrt()
    y = rescale(mobius_add(-mean, points, c), factor, c)
    if bias is not None:
        y = mobius_add(ball_project(bias, c), y, c)
    return y.reshape(x.shape)
