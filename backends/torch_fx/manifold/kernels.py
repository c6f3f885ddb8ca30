"""Runtime kernels of the manifold operators. Plain PyTorch; copied into exported modules,
with the import of the common kernels rewritten.

Conventions (docs/manifolds.md): channels are last; a Lorentz point of ``lorentz(n, k)`` is
``[x0, x1..xn]`` with ``-x0² + |x_s|² = -1/k``; a Poincaré point of ``poincare(n, c)`` lies in
the open ball of radius ``1/sqrt(c)``; an ``spd(n)`` / ``sym(n)`` value is the row-major
flattening of an ``n x n`` matrix; ``m`` copies sit one after another. Every kernel is
branch-free in the data (``torch.where`` and ``clamp`` instead of Python ``if``), so
``torch.compile(fullgraph=True)`` and ``torch.export`` capture it whole.

Clamping policy (the numbers are in docs/manifolds.md):

* Lorentz: the time coordinate is always recomputed from the space coordinates,
  ``x0 = sqrt(1/k + |x_s|²)``, so a result is on the hyperboloid up to the rounding of one
  square root; tangent norms are clamped to ``LORENTZ_MAX_RADIUS / sqrt(k)`` in ``expmap0``.
* Poincaré: every result is pulled inside the ball of radius ``(1 - eps) / sqrt(c)``, with
  ``eps`` = 4e-3 in float32 and 1e-5 in float64 (geoopt's choice); ``artanh`` arguments are
  clamped to ``1 - eps``.
* SPD: eigenvalues are clamped below by the smallest normal number of the dtype before
  ``log``; results are symmetrised ``(Y + Yᵀ) / 2``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import activation, safe_norm, unit_vector

LORENTZ_MAX_RADIUS = 40.0  # sqrt(k)|v| in expmap0: cosh(40)^2 ~ 1e34 fits float32
BALL_EPS = {torch.float32: 4e-3, torch.float64: 1e-5}  # Poincaré boundary margin per dtype
DEFAULT_BALL_EPS = 4e-3


# --- shared -------------------------------------------------------------------------------


def copies(x: Tensor, mul: int) -> Tensor:
    """``[..., mul * d]`` -> ``[..., mul, d]``."""
    return x.unflatten(-1, (mul, -1))  # no -1 over the leading axes: they may be empty


def flat(x: Tensor) -> Tensor:
    """``[..., mul, d]`` -> ``[..., mul * d]``."""
    return x.flatten(-2)


# --- Lorentz model ------------------------------------------------------------------------


def lorentz_inner(x: Tensor, y: Tensor) -> Tensor:
    """Minkowski inner product ``-x0 y0 + <x_s, y_s>`` over the last dimension (keepdim)."""
    prod = x * y
    return prod[..., 1:].sum(-1, keepdim=True) - prod[..., :1]


def lorentz_from_space(space: Tensor, k: float) -> Tensor:
    """The point of the hyperboloid above ``space``: ``[sqrt(1/k + |x_s|²), x_s]``."""
    time = (space.pow(2).sum(-1, keepdim=True) + 1.0 / k).sqrt()
    return torch.cat([time, space], -1)


def lorentz_origin(like: Tensor, k: float) -> Tensor:
    """``(1/sqrt(k), 0, ..., 0)`` shaped like ``like``."""
    origin = torch.zeros_like(like)
    return origin.index_fill(-1, torch.zeros(1, dtype=torch.long, device=like.device), k**-0.5)


def lorentz_expmap0(v: Tensor, k: float, mul: int) -> Tensor:
    """exp at the origin of tangent space coordinates ``v`` (time part 0):
    ``x_s = sinh(sqrt(k)|v|) v / (sqrt(k)|v|)``, ``x0`` from ``x_s`` (Chen et al. 2022, §2)."""
    v = copies(v, mul)
    norm = safe_norm(v, keepdim=True)
    t = (norm * k**0.5).clamp(max=LORENTZ_MAX_RADIUS)
    space = torch.sinh(t) * v / (norm * k**0.5)
    return flat(lorentz_from_space(space, k))


def lorentz_logmap0(x: Tensor, k: float, mul: int) -> Tensor:
    """log at the origin: ``asinh(sqrt(k)|x_s|) x_s / (sqrt(k)|x_s|)`` (the space part; the
    time part is 0). ``asinh`` of the space norm equals ``arcosh(sqrt(k) x0)`` on the
    hyperboloid and is accurate near the origin."""
    space = copies(x, mul)[..., 1:]
    norm = safe_norm(space, keepdim=True) * k**0.5
    return flat(torch.asinh(norm) * space / norm)


def lorentz_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, log_scale: Tensor, k: float
) -> Tensor:
    """Fully hyperbolic linear layer (Chen et al. 2022, Eq. 3): with ``z = W x + b`` (row 0
    of ``W`` is ``v``), ``phi = lambda sigma(z_0) z_s / |z_s|`` and ``y = [sqrt(|phi|² + 1/k),
    phi]``; ``lambda = exp(log_scale)``. The activation (``h`` in the paper) is applied to
    ``x`` by the caller."""
    z = torch.nn.functional.linear(x, weight, bias)
    length = torch.exp(log_scale) * torch.sigmoid(z[..., :1])
    space = length * unit_vector(z[..., 1:])
    return lorentz_from_space(space, k)


def lorentz_act(x: Tensor, fn: str | None, k: float) -> Tensor:
    """HCNN's Lorentz activation (Bdeir et al. 2024): ``fn`` on the space coordinates, the time
    coordinate recomputed."""
    return lorentz_from_space(activate(x[..., 1:], fn), k)


def lorentz_mlr(x: Tensor, a: Tensor, z: Tensor, k: float) -> Tensor:
    """Lorentz MLR (Bdeir et al. 2024, Eq. 9): for class c with ``a_c``, ``z_c``,
    ``alpha = cosh(sqrt(k) a)<x_s, z> - sinh(sqrt(k) a)|z| x0``, ``beta = |z|`` and the logit
    ``beta / sqrt(k) * asinh(sqrt(k) alpha / beta)`` (the signed distance to the hyperplane
    times ``|z|``)."""
    sk = k**0.5
    znorm = safe_norm(z)  # [classes]
    alpha = torch.cosh(sk * a) * (x[..., 1:] @ z.T) - torch.sinh(sk * a) * znorm * x[..., :1]
    return znorm / sk * torch.asinh(sk * alpha / znorm)


def lorentz_normalize(s: Tensor, k: float) -> Tensor:
    """Law et al. (2019), Eq. 10: the centroid of points whose weighted sum is ``s`` is
    ``s / (sqrt(k) sqrt(|<s,s>_L|))``; an empty sum (a node with no incoming edge) gives the
    origin."""
    minus_sq = -lorentz_inner(s, s)
    tiny = torch.finfo(s.dtype).tiny
    point = s / (minus_sq.clamp(min=tiny).sqrt() * k**0.5)
    return torch.where(minus_sq > tiny, point, lorentz_origin(s, k))


def lorentz_centroid_copies(x: Tensor, k: float, mul: int) -> Tensor:
    """The centroid of the ``mul`` copies of each element (equal weights)."""
    return lorentz_normalize(copies(x, mul).sum(-2), k)


def lorentz_normalize_copies(s: Tensor, k: float, mul: int) -> Tensor:
    """:func:`lorentz_normalize` of each of ``mul`` copies (sums from a scatter or a pool)."""
    return flat(lorentz_normalize(copies(s, mul), k))


# --- Poincaré ball ------------------------------------------------------------------------


def ball_eps(x: Tensor) -> float:
    return BALL_EPS.get(x.dtype, DEFAULT_BALL_EPS)


def ball_project(x: Tensor, c: float) -> Tensor:
    """Pull points inside the ball of radius ``(1 - eps)/sqrt(c)`` (no-op inside)."""
    limit = (1.0 - ball_eps(x)) / c**0.5
    return x * (limit / safe_norm(x, keepdim=True)).clamp(max=1.0)


def _artanh(x: Tensor) -> Tensor:
    bound = 1.0 - ball_eps(x)
    return torch.atanh(x.clamp(-bound, bound))


def poincare_expmap0(v: Tensor, c: float, mul: int) -> Tensor:
    """Ganea et al. (2018), Lemma 2: ``exp_0(v) = tanh(sqrt(c)|v|) v / (sqrt(c)|v|)``."""
    v = copies(v, mul)
    norm = safe_norm(v, keepdim=True) * c**0.5
    return flat(ball_project(torch.tanh(norm) * v / norm, c))


def poincare_logmap0(y: Tensor, c: float, mul: int) -> Tensor:
    """Ganea et al. (2018), Lemma 2: ``log_0(y) = artanh(sqrt(c)|y|) y / (sqrt(c)|y|)``."""
    y = copies(y, mul)
    norm = safe_norm(y, keepdim=True) * c**0.5
    return flat(_artanh(norm) * y / norm)


def mobius_add(x: Tensor, y: Tensor, c: float) -> Tensor:
    """Ganea et al. (2018), Eq. 2: ``x ⊕ y = ((1 + 2c<x,y> + c|y|²) x + (1 - c|x|²) y) /
    (1 + 2c<x,y> + c²|x|²|y|²)``."""
    xy = (x * y).sum(-1, keepdim=True)
    x2, y2 = x.pow(2).sum(-1, keepdim=True), y.pow(2).sum(-1, keepdim=True)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    den = 1 + 2 * c * xy + c * c * x2 * y2
    return ball_project(num / den.clamp(min=torch.finfo(x.dtype).tiny), c)


def mobius_matvec(x: Tensor, weight: Tensor, c: float) -> Tensor:
    """Ganea et al. (2018), Eq. 27: ``M ⊗ x = tanh(|Mx|/|x| artanh(sqrt(c)|x|)) Mx /
    (sqrt(c)|Mx|)``."""
    mx = x @ weight.T
    xn, mxn = safe_norm(x, keepdim=True), safe_norm(mx, keepdim=True)
    scale = torch.tanh(mxn / xn * _artanh(xn * c**0.5))
    return ball_project(scale * mx / (mxn * c**0.5), c)


def mobius_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, c: float, fn: str | None
) -> Tensor:
    """Ganea et al. (2018), Eq. 28-29: ``y = phi⊗(M ⊗ x ⊕ b)``, where the activation acts in
    the tangent space at the origin, ``phi⊗(y) = exp_0(phi(log_0(y)))``."""
    y = mobius_matvec(x, weight, c)
    if bias is not None:
        y = mobius_add(y, ball_project(bias, c), c)
    if fn is None:
        return y
    return poincare_expmap0(activate(poincare_logmap0(y, c, 1), fn), c, 1)


def poincare_mlr(x: Tensor, p: Tensor, a: Tensor, c: float) -> Tensor:
    """Ganea et al. (2018), Eq. 25: the logit of class k is ``lambda_{p_k} |a_k| / sqrt(c) *
    asinh(2 sqrt(c) <-p_k ⊕ x, a_k> / ((1 - c|-p_k ⊕ x|²) |a_k|))``, with
    ``lambda_p = 2 / (1 - c|p|²)``."""
    p = ball_project(p, c)  # [classes, n]
    diff = mobius_add(-p, x.unsqueeze(-2), c)  # [..., classes, n]
    anorm = safe_norm(a)
    lam = 2.0 / (1.0 - c * p.pow(2).sum(-1))
    inner = (diff * a).sum(-1)
    den = (1.0 - c * diff.pow(2).sum(-1)) * anorm
    return lam * anorm / c**0.5 * torch.asinh(2.0 * c**0.5 * inner / den)


# --- SPD matrices -------------------------------------------------------------------------


def matrices(x: Tensor, n: int) -> Tensor:
    """``[..., m * n * n]`` -> ``[..., m, n, n]``."""
    return x.unflatten(-1, (-1, n, n))


def unmatrices(x: Tensor) -> Tensor:
    return x.flatten(-3)


def symmetrise(x: Tensor) -> Tensor:
    return (x + x.transpose(-1, -2)) / 2


def eigen_map(x: Tensor, n: int, fn: str, eps: float) -> Tensor:
    """``U f(Σ) Uᵀ`` of each symmetric matrix, ``X = U Σ Uᵀ`` (SPDNet, Huang & Van Gool 2017,
    Eq. 6 and 8): ``f`` is ``max(., eps)`` (ReEig), ``log`` (LogEig) or ``exp`` (expmap0).

    Differentiated through its Taylor polynomial at ``X`` (:func:`_second_order`), not through
    ``eigh``, whose derivative divides by eigenvalue gaps (NaN at the identity)."""
    spectral = _SPECTRAL[fn](eps, torch.finfo(x.dtype).tiny)
    return unmatrices(spectral_map(matrices(x, n), spectral))


def spectral_map(x: Tensor, spectral: _Spectral) -> Tensor:
    """``U f(Σ) Uᵀ`` of symmetric ``[..., n, n]`` matrices, with the derivatives of
    :func:`_second_order` (finite at repeated eigenvalues)."""
    x = symmetrise(x)
    values, vectors = torch.linalg.eigh(x.detach())
    out = (vectors * spectral.f(values).unsqueeze(-2)) @ vectors.transpose(-1, -2)
    return symmetrise(out + _second_order(x, values, vectors, spectral))


def spd_power(x: Tensor, p: float) -> Tensor:
    """``X^p`` of SPD ``[..., n, n]`` matrices (eigenvalues clamped at the smallest normal)."""
    return spectral_map(x, Power(p, torch.finfo(x.dtype).tiny))


def spd_log(x: Tensor) -> Tensor:
    """The matrix logarithm of SPD ``[..., n, n]`` matrices."""
    return spectral_map(x, _Log(0.0, torch.finfo(x.dtype).tiny))


def sym_exp(x: Tensor) -> Tensor:
    """The matrix exponential of symmetric ``[..., n, n]`` matrices."""
    return spectral_map(x, _Exp(0.0, 0.0))


def eigvals(x: Tensor, n: int) -> Tensor:
    """Eigenvalues of each symmetric matrix, ascending: ``[..., m * n]``. Differentiated as
    ``λ_i + e_ii + Σ_j e_ij² / (λ_i - λ_j)`` (``e = Uᵀ dX U``), a term dropped where the gap
    is within rounding: there the eigenvalues cross and have no second derivative."""
    x = symmetrise(matrices(x, n))
    values, vectors = torch.linalg.eigh(x.detach())
    e = vectors.transpose(-1, -2) @ (x - x.detach()) @ vectors
    near = _close(values.unsqueeze(-1), values.unsqueeze(-2), x.dtype)
    gaps = torch.where(near, 1.0, values.unsqueeze(-1) - values.unsqueeze(-2))
    curvature = torch.where(near, 0.0, 1.0 / gaps)
    second = (curvature * e * e).sum(-1)
    return (values + e.diagonal(dim1=-2, dim2=-1) + second).flatten(-2)


# --- spectral functions to second order -----------------------------------------------------


class _Spectral:
    """A scalar function of eigenvalues: its values, first divided differences (accurate to
    rounding, equal arguments included) and second derivative."""

    def f(self, v: Tensor) -> Tensor:
        raise NotImplementedError

    def divided(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def second(self, v: Tensor) -> Tensor:
        raise NotImplementedError


class _ReEig(_Spectral):
    def __init__(self, eps: float, tiny: float) -> None:
        self.eps = eps

    def f(self, v: Tensor) -> Tensor:
        return v.clamp(min=self.eps)

    def divided(self, a: Tensor, b: Tensor) -> Tensor:
        above = a > self.eps
        same = above == (b > self.eps)  # (a - b) / (a - b) = 1, or 0 / (a - b)
        gap = torch.where(same, 1.0, a - b)  # a != b where they straddle eps
        return torch.where(same, above.to(a.dtype), (self.f(a) - self.f(b)) / gap)

    def second(self, v: Tensor) -> Tensor:
        return torch.zeros_like(v)


class _Log(_Spectral):
    """``log`` of the eigenvalues clamped at ``tiny``."""

    def __init__(self, eps: float, tiny: float) -> None:
        self.tiny = tiny

    def f(self, v: Tensor) -> Tensor:
        return v.clamp(min=self.tiny).log()

    def divided(self, a: Tensor, b: Tensor) -> Tensor:
        a, b = a.clamp(min=self.tiny), b.clamp(min=self.tiny)
        gap = a - b
        same = gap == 0
        return torch.where(same, 1.0 / b, torch.log1p(gap / b) / torch.where(same, 1.0, gap))

    def second(self, v: Tensor) -> Tensor:  # -1/v², bounded by 1/tiny (not an SPD matrix)
        return -v.clamp(min=self.tiny**0.5).pow(-2)


class _Exp(_Spectral):
    def __init__(self, eps: float, tiny: float) -> None:
        pass

    def f(self, v: Tensor) -> Tensor:
        return v.exp()

    def divided(self, a: Tensor, b: Tensor) -> Tensor:
        gap = a - b
        same = gap == 0
        return b.exp() * torch.where(same, 1.0, torch.expm1(gap) / torch.where(same, 1.0, gap))

    def second(self, v: Tensor) -> Tensor:
        return v.exp()


class Power(_Spectral):
    """``v^p`` of eigenvalues clamped at ``tiny``; differences as ``b^p expm1(p log1p(d/b))/d``
    (no cancellation between close eigenvalues)."""

    def __init__(self, p: float, tiny: float) -> None:
        self.p, self.tiny = p, tiny

    def f(self, v: Tensor) -> Tensor:
        return v.clamp(min=self.tiny).pow(self.p)

    def divided(self, a: Tensor, b: Tensor) -> Tensor:
        a, b = a.clamp(min=self.tiny), b.clamp(min=self.tiny)
        gap = a - b
        same = gap == 0
        ratio = torch.expm1(self.p * torch.log1p(gap / b)) / torch.where(same, 1.0, gap)
        return torch.where(same, self.p * b.pow(self.p - 1), b.pow(self.p) * ratio)

    def second(self, v: Tensor) -> Tensor:  # bounded: v^(p-2) at tiny^(1/4) is a float
        return self.p * (self.p - 1) * v.clamp(min=self.tiny**0.25).pow(self.p - 2)


_SPECTRAL: dict[str, type[_Spectral]] = {"reeig": _ReEig, "log": _Log, "exp": _Exp}


def _close(a: Tensor, b: Tensor, dtype: torch.dtype) -> Tensor:
    """``a`` and ``b`` equal to ``eps^(1/3)`` relative (divided differences are then limits:
    both errors, of the quotient and of the limit, are ``eps^(2/3)``)."""
    return (a - b).abs() <= torch.finfo(dtype).eps ** (1 / 3) * torch.maximum(a.abs(), b.abs())


def _second_differences(values: Tensor, spectral: _Spectral) -> Tensor:
    """``f[λ_a, λ_b, λ_c]`` ``[..., n, n, n]``: over the outer pair of each sorted triple, or
    ``f''`` at its mean over 2 where the three are close."""
    n = values.shape[-1]
    triple = torch.stack(
        torch.broadcast_tensors(
            values[..., :, None, None], values[..., None, :, None], values[..., None, None, :]
        ),
        -1,
    )
    lo, mid, hi = triple.sort(-1).values.unbind(-1)
    near = _close(hi, lo, values.dtype)
    gap = torch.where(near, 1.0, hi - lo)
    outer = (spectral.divided(hi, mid) - spectral.divided(mid, lo)) / gap
    limit = spectral.second((lo + mid + hi) / 3) / 2
    return torch.where(near, limit, outer).reshape(*values.shape[:-1], n, n, n)


def _second_order(x: Tensor, values: Tensor, vectors: Tensor, spectral: _Spectral) -> Tensor:
    """``F(X0 + E) - F(X0)`` to second order at ``E = X - X0 = 0`` (``X0``: ``X`` detached), by
    Daleckii-Krein: in the eigenbasis, ``f[λ_a, λ_b] e_ab + Σ_c f[λ_a, λ_c, λ_b] e_ac e_cb``.
    Its value is exactly 0 and its first and second derivatives are ``F``'s, finite at
    repeated eigenvalues, where the divided differences are derivatives."""
    e = vectors.transpose(-1, -2) @ (x - x.detach()) @ vectors
    first = spectral.divided(values.unsqueeze(-1), values.unsqueeze(-2)) * e
    second = torch.einsum("...acb,...ac,...cb->...ab", _second_differences(values, spectral), e, e)
    return vectors @ (first + second) @ vectors.transpose(-1, -2)


def bimap(x: Tensor, weight: Tensor, n: int) -> Tensor:
    """SPDNet's BiMap (Huang & Van Gool 2017, Eq. 3): ``Y_c = W_cᵀ X_c W_c`` per copy ``c``,
    ``W_c`` an ``n x out`` matrix with orthonormal columns (a point of the Stiefel manifold)."""
    y = weight.transpose(-1, -2) @ matrices(x, n) @ weight
    return unmatrices(symmetrise(y))


# --- the hypersphere ----------------------------------------------------------------------


def normalize(x: Tensor, mul: int) -> Tensor:
    """``x / |x|`` per copy (nGPT, Loshchilov et al. 2024); 0 stays 0."""
    x = copies(x, mul)
    return flat(unit_vector(x))


# --- activations: torch functions by dotted name (geoc's activation table) -------------------


def activate(x: Tensor, fn: str | None) -> Tensor:
    """``fn`` (e.g. ``torch.tanh``) applied to ``x``; None is the identity."""
    return activation(fn)(x)
