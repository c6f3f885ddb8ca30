"""HCNN's layers on fields of Lorentz points (Bdeir, Schwethelm & Landwehr, ICLR 2024, "Fully
Hyperbolic Convolutional Neural Networks for Computer Vision"). Plain PyTorch; copied into
exported modules like the other kernels. Fields come channels last, ``[B, *grid, n + 1]``, one
point of ``lorentz(n, k)`` (``-x0² + |x_s|² = -1/k``) per grid point.

* ``lorentz_conv``: every grid point's ``k1 x ... x kd`` neighbourhood (``grid_patches``:
  circular on a torus, the origin past a zero boundary), joined by the Lorentz direct
  concatenation of its ``K`` points, then the fully hyperbolic linear layer.
* ``lorentz_batch_norm``: centre at the Lorentzian centroid of the batch, rescale by the
  Fréchet variance, re-centre at a learned point; running statistics for eval mode.
* ``lorentz_residual``: the sum of the space parts, time recomputed (HCNN's residual).

Every result has its time coordinate recomputed from its space coordinates, so it lies on the
hyperboloid up to the rounding of one square root, however deep the stack.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.grid.kernels import grid_patches
from geoc.backends.torch_fx.manifold.kernels import (
    lorentz_expmap0,
    lorentz_from_space,
    lorentz_linear,
    lorentz_logmap0,
    lorentz_normalize,
    lorentz_origin,
)


def lorentz_direct_concat(points: Tensor, k: float) -> Tensor:
    """HCNN's Lorentz direct concatenation of ``[..., K, n + 1]`` points into one point of
    ``lorentz(K n, k)``: the space parts side by side and the time ``sqrt(1/k + Σ|x_i,s|²)``,
    which on the hyperboloid is the paper's ``sqrt(Σ x_i,0² - (K - 1)/k)`` without its
    cancellation."""
    return lorentz_from_space(points[..., 1:].flatten(-2), k)


def lorentz_conv(
    x: Tensor,
    kernel: tuple[int, ...],
    padding: str,
    weight: Tensor,
    bias: Tensor | None,
    log_scale: Tensor,
    k: float,
) -> Tensor:
    """HCNN's Lorentz convolution: ``[B, *grid, n + 1] -> [B, *grid, out + 1]``, the fully
    hyperbolic linear layer (``weight`` ``[out + 1, K n + 1]``) of the direct concatenation of
    each point's neighbourhood; a ``"constant"`` boundary reads the origin."""
    origin = lorentz_origin(x.new_zeros(x.shape[-1]), k)
    patches = grid_patches(x, kernel, padding, origin if padding == "constant" else None)
    return lorentz_linear(lorentz_direct_concat(patches, k), weight, bias, log_scale, k)


def lorentz_residual(x: Tensor, y: Tensor, k: float) -> Tensor:
    """HCNN's residual connection: ``[sqrt(1/k + |x_s + y_s|²), x_s + y_s]``."""
    return lorentz_from_space(x[..., 1:] + y[..., 1:], k)


# --- batch normalisation ----------------------------------------------------------------------


def boost_space(point: Tensor, x: Tensor, k: float, inverse: bool) -> Tensor:
    """The space part of the Lorentz boost that carries the origin to ``point`` (``inverse``:
    ``point`` to the origin) applied to ``x``. With ``m = sqrt(k) point`` on the unit hyperboloid
    the boost is ``[[m0, m_sᵀ], [m_s, I + m_s m_sᵀ / (1 + m0)]]``, its inverse the same with
    ``-m_s``. It is the transvection along the geodesic from the origin to ``point``: an isometry
    whose differential is the parallel transport along it, so ``PT_{μ→0}(log_μ x) = log_0(B_μ⁻¹
    x)`` and ``exp_β(PT_{0→β} v) = B_β exp_0(v)``: the paper's maps without ``arcosh`` at 1."""
    m = point * k**0.5
    m0, ms = m[..., :1], m[..., 1:]
    if inverse:
        ms = -ms
    x0, xs = x[..., :1], x[..., 1:]
    along = (xs * ms).sum(-1, keepdim=True) / (1.0 + m0)
    return xs + ms * (x0 + along)


def lorentz_centroid_of(points: Tensor, k: float) -> Tensor:
    """The Lorentzian centroid (Law et al. 2019) of ``[N, n + 1]`` points, equal weights."""
    return lorentz_normalize(points.sum(0), k)


def centred_tangents(points: Tensor, mean: Tensor, k: float) -> Tensor:
    """``PT_{μ→0}(log_μ x)`` of each point, as space coordinates at the origin: its norm is the
    geodesic distance from ``μ``."""
    moved = lorentz_from_space(boost_space(mean, points, k, inverse=True), k)
    return lorentz_logmap0(moved, k, 1)


def lorentz_batch_norm(
    x: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    gamma: Tensor,
    beta_space: Tensor,
    training: bool,
    k: float,
    momentum: float,
    eps: float,
) -> Tensor:
    """HCNN's Lorentz batch norm (Algorithm 1) of ``[..., n + 1]`` points, every leading index
    one element of the batch (samples and grid points): with the centroid ``μ`` and Fréchet
    variance ``σ² = mean d(x_i, μ)²`` of the batch in training (and the running statistics
    moved towards them in place: ``μ_r <- centroid((1 - η) μ_r, η μ)``, ``σ_r² <- (1 - η) σ_r²
    + η σ²``), or the running ones in eval mode, each point goes to ``exp_β(PT_{0→β}(γ /
    sqrt(σ² + eps) PT_{μ→0}(log_μ x)))``, ``β`` the point above ``beta_space``. An empty batch
    in training is returned as it is and leaves the running statistics alone."""
    points = x.reshape(-1, x.shape[-1])
    if training and points.shape[0] == 0:
        return x
    if training:
        mean = lorentz_centroid_of(points, k)
        tangents = centred_tangents(points, mean, k)
        var = tangents.pow(2).sum(-1).mean()
        with torch.no_grad():
            pair = (1 - momentum) * running_mean.to(mean.dtype) + momentum * mean.detach()
            running_mean.copy_(lorentz_normalize(pair, k))
            running_var.copy_((1 - momentum) * running_var + momentum * var.detach())
    else:
        tangents = centred_tangents(points, running_mean.to(points.dtype), k)
        var = running_var.to(points.dtype)
    scaled = tangents * (gamma / (var + eps).sqrt())
    beta = lorentz_from_space(beta_space, k)
    space = boost_space(beta, lorentz_expmap0(scaled, k, 1), k, inverse=False)
    return lorentz_from_space(space, k).reshape(x.shape)
