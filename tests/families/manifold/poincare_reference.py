"""The Poincaré-ball equations of HNN++ (Shimizu et al. 2021) and Poincaré ResNet (van Spengler
et al. 2023), written directly in plain PyTorch for the tests: the papers' formulas, no clamps,
no series (the kernels under test evaluate them differently)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.special import beta as beta_fn

Tensor = torch.Tensor


def norm(x: Tensor) -> Tensor:
    return x.norm(dim=-1, keepdim=True)


def _mirror(p: int, n: int) -> int:
    return -p if p < 0 else 2 * (n - 1) - p if p >= n else p


def patches(x: Tensor, kernel: tuple[int, int], boundary: str) -> Tensor:
    """``[B, H, W, n] -> [B, H, W, K, n]``: the neighbours ``x(p + u - r)`` in row-major order
    of ``u``, wrapping on the torus (``"torus"``), the origin (zeros) past a grid's ``"zero"``
    edge, the mirror image past a ``"reflect"`` edge."""
    b, h, w, n = x.shape
    out = torch.zeros(b, h, w, kernel[0] * kernel[1], n, dtype=x.dtype)
    offsets = [(u, v) for u in range(kernel[0]) for v in range(kernel[1])]
    for i in range(h):
        for j in range(w):
            for t, (u, v) in enumerate(offsets):
                p, q = i + u - kernel[0] // 2, j + v - kernel[1] // 2
                if boundary == "torus":
                    out[:, i, j, t] = x[:, p % h, q % w]
                elif boundary == "reflect":
                    out[:, i, j, t] = x[:, _mirror(p, h), _mirror(q, w)]
                elif 0 <= p < h and 0 <= q < w:
                    out[:, i, j, t] = x[:, p, q]
    return out


@dataclass(frozen=True)
class Ball:
    """The Poincaré ball of curvature ``-c``."""

    c: float

    def exp0(self, v: Tensor) -> Tensor:
        s = self.c**0.5 * norm(v)
        return torch.where(s > 0, torch.tanh(s) / s.clamp(min=1e-300), 1.0) * v

    def log0(self, x: Tensor) -> Tensor:
        s = self.c**0.5 * norm(x)
        return torch.where(s > 0, torch.atanh(s) / s.clamp(min=1e-300), 1.0) * x

    def add(self, x: Tensor, y: Tensor) -> Tensor:
        """Möbius addition (Ganea et al. 2018, Eq. 2)."""
        c = self.c
        xy, x2, y2 = (x * y).sum(-1, keepdim=True), norm(x) ** 2, norm(y) ** 2
        num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
        return num / (1 + 2 * c * xy + c**2 * x2 * y2)

    def smul(self, r: float, x: Tensor) -> Tensor:
        """Möbius scalar multiplication ``r ⊗ x``."""
        sc = self.c**0.5
        return torch.tanh(r * torch.atanh(sc * norm(x))) * x / (sc * norm(x))

    def lam(self, x: Tensor) -> Tensor:
        return 2 / (1 - self.c * norm(x) ** 2)

    def fc(self, y: Tensor, a: Tensor, r: Tensor) -> Tensor:
        """HNN++ Poincaré fully connected layer (Eq. 6 for v_k, then w and y)."""
        sc, ly, an = self.c**0.5, self.lam(y), a.norm(dim=-1)
        inner = (y * sc) @ (a / an[:, None]).T
        arg = ly * inner * torch.cosh(2 * sc * r) - (ly - 1) * torch.sinh(2 * sc * r)
        w = torch.sinh(sc * (2 * an / sc * torch.asinh(arg))) / sc
        return w / (1 + torch.sqrt(1 + self.c * norm(w) ** 2))

    def conv(self, x: Tensor, a: Tensor, r: Tensor, kernel: tuple[int, int], boundary: str):
        """HNN++ §3.3: β-concatenation of each neighbourhood, then the FC layer."""
        nbrs = patches(x, kernel, boundary)
        k, n = nbrs.shape[-2], nbrs.shape[-1]
        ratio = beta_fn(k * n / 2, 0.5) / beta_fn(n / 2, 0.5)
        return self.fc(self.exp0((self.log0(nbrs) * ratio).flatten(-2)), a, r)

    def midpoint(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        """Ungar's gyromidpoint ``½ ⊗ (Σ w λ x / Σ w (λ - 1))`` over dim 0 of ``[N, n]``."""
        w = torch.ones(x.shape[0], 1, dtype=x.dtype) if weights is None else weights[:, None]
        return self.smul(0.5, (w * self.lam(x) * x).sum(0) / (w * (self.lam(x) - 1)).sum(0))

    def frechet_var(self, x: Tensor, mean: Tensor) -> Tensor:
        sc = self.c**0.5
        return ((2 / sc * torch.atanh(sc * norm(self.add(-mean, x)))) ** 2).mean()

    def batch_norm(self, x, mean, var, gamma, bias) -> Tensor:
        """``b ⊕ exp₀(γ/√(σ² + 1e-6) log₀(-μ ⊕ x))``."""
        scaled = gamma / torch.sqrt(var + 1e-6) * self.log0(self.add(-mean, x))
        return self.add(bias, self.exp0(scaled))
