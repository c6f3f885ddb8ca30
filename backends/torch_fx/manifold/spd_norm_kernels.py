"""Riemannian batch normalisation of SPD matrices (``spd_batch_norm``). Plain PyTorch; copied
into exported modules like the other kernels.

The batch is every matrix the call receives (the elements of the value's axis over all graphs,
or the samples of a value without an axis); each copy of ``m x spd(n)`` has its own statistics.
Three geometries, each a mean, a centring map to the identity and a re-centring at the bias:

* ``airm`` (Brooks et al. 2019, "Riemannian batch normalization for SPD neural networks"):
  the Karcher mean ``G`` by ``iters`` fixed-point steps ``G <- G^½ exp(mean log(G^-½ X G^-½))
  G^½`` from the log-Euclidean mean; ``X -> B^½ G^-½ X G^-½ B^½``; the running mean moves
  along the geodesic, ``R <- R^½ (R^-½ G R^-½)^t R^½`` with ``t`` the momentum.
* ``log_euclidean``: ``G = exp(mean log X)``; ``X -> exp(log X - log G + log B)``; ``log R``
  moves linearly.
* ``gbw`` (Bures-Wasserstein, the ``M = I`` case of Wang et al. 2024): the BW barycentre by
  ``iters`` steps of ``G <- G^-½ (mean (G^½ X G^½)^½)² G^-½`` (Álvarez-Esteban et al. 2016)
  from the arithmetic mean; centring by the optimal-transport map from ``G`` to ``I``,
  ``X -> T X T`` with ``T = G^-½``, and re-centring by the one from ``I`` to ``B``, ``B^½``;
  ``R`` moves along the BW geodesic ``((1-t) I + t T) R ((1-t) I + t T)``, ``T`` the map from
  ``R`` to ``G``.

Every step is a congruence or a spectral function, so without a bias and with batch statistics
the result commutes with ``X -> Q X Qᵀ`` for orthogonal ``Q``. The bias ``B = exp(sym(P))`` is
stored as the symmetric ``P`` (zero at the start): SPD for any real ``P``. Spectral functions are
differentiated by :func:`geoc.backends.torch_fx.manifold.kernels.spectral_map`, finite at
repeated eigenvalues (a batch of identities).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.manifold.kernels import (
    matrices,
    spd_log,
    spd_power,
    sym_exp,
    symmetrise,
    unmatrices,
)


def congruence(a: Tensor, x: Tensor) -> Tensor:
    """``A X A`` for symmetric ``A``, symmetrised against rounding."""
    return symmetrise(a @ x @ a)


def airm_mean(x: Tensor, iters: int) -> Tensor:
    """The Karcher (AIRM) mean over dim 0 of ``[N, m, n, n]``: ``iters`` fixed-point steps."""
    g = sym_exp(spd_log(x).mean(0))
    for _ in range(iters):
        half, inv_half = spd_power(g, 0.5), spd_power(g, -0.5)
        g = congruence(half, sym_exp(spd_log(congruence(inv_half, x)).mean(0)))
    return g


def bw_mean(x: Tensor, iters: int) -> Tensor:
    """The Bures-Wasserstein barycentre over dim 0 of ``[N, m, n, n]``: ``iters`` steps."""
    g = x.mean(0)
    for _ in range(iters):
        half, inv_half = spd_power(g, 0.5), spd_power(g, -0.5)
        root = spd_power(congruence(half, x), 0.5).mean(0)
        g = congruence(inv_half, root @ root)
    return g


def batch_mean(x: Tensor, metric: str, iters: int) -> Tensor:
    if metric == "airm":
        return airm_mean(x, iters)
    if metric == "log_euclidean":
        return sym_exp(spd_log(x).mean(0))
    return bw_mean(x, iters)


def moved_mean(running: Tensor, batch: Tensor, metric: str, t: float) -> Tensor:
    """The point at ``t`` on the geodesic from ``running`` to ``batch`` under ``metric``."""
    if metric == "airm":
        half, inv_half = spd_power(running, 0.5), spd_power(running, -0.5)
        return congruence(half, spd_power(congruence(inv_half, batch), t))
    if metric == "log_euclidean":
        return sym_exp((1 - t) * spd_log(running) + t * spd_log(batch))
    half, inv_half = spd_power(running, 0.5), spd_power(running, -0.5)
    transport = congruence(inv_half, spd_power(congruence(half, batch), 0.5))
    eye = torch.eye(running.shape[-1], dtype=running.dtype, device=running.device)
    return congruence((1 - t) * eye + t * transport, running)


def centred(x: Tensor, mean: Tensor, bias_log: Tensor | None, metric: str) -> Tensor:
    """``x`` moved from ``mean`` to the identity, then to ``exp(sym(bias_log))``."""
    if metric == "log_euclidean":
        log = spd_log(x) - spd_log(mean)
        return sym_exp(log if bias_log is None else log + symmetrise(bias_log))
    y = congruence(spd_power(mean, -0.5), x)
    if bias_log is None:
        return y
    return congruence(sym_exp(symmetrise(bias_log) / 2), y)  # B^½ = exp(P / 2)


def spd_batch_norm(
    x: Tensor,
    running_mean: Tensor,
    bias_log: Tensor | None,
    training: bool,
    metric: str,
    n: int,
    momentum: float,
    iters: int,
) -> Tensor:
    """Batch-normalised ``[..., m * n * n]`` SPD values: batch statistics in training (and the
    running mean ``[m, n, n]`` moved towards them, in place), the running mean in eval mode.
    An empty batch in training is returned as it is and leaves the running mean alone."""
    mats = matrices(x.reshape(-1, x.shape[-1]), n)  # [N, m, n, n]
    if training and mats.shape[0] == 0:
        return x
    if training:
        mean = batch_mean(mats, metric, iters)
        with torch.no_grad():
            moved = moved_mean(running_mean.to(mean.dtype), mean.detach(), metric, momentum)
            running_mean.copy_(moved)
    else:
        mean = running_mean.to(mats.dtype)
    return unmatrices(centred(mats, mean, bias_log, metric)).reshape(x.shape)
