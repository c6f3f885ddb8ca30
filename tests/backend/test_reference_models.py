"""Compiled models equal plain PyTorch written from the papers' equations, weight for weight."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geoc.backends.torch_fx.api import compile as geoc_compile

Weights = dict[str, torch.Tensor]


def _mlp(
    x: torch.Tensor, w: Weights, prefix: str, layers: int, act, last_act: bool
) -> torch.Tensor:
    for i in range(layers):
        x = F.linear(x, w[f"{prefix}.{i}.weight"], w[f"{prefix}.{i}.bias"])
        if i < layers - 1 or last_act:
            x = act(x)
    return x


def egnn_reference(w: Weights, h: torch.Tensor, x: torch.Tensor, depth: int):
    """Satorras, Hoogeboom & Welling (2021), eqs. 3-6, fully connected, C = 1/(M-1):
    m_ij = phi_e(h_i, h_j, |x_i - x_j|^2); x_i += C sum_j (x_i - x_j) phi_x(m_ij);
    h_i += phi_h(h_i, sum_j m_ij)."""
    n = h.shape[0]
    dst, src = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = dst != src
    i, j = dst[keep], src[keep]
    h = F.linear(h, w["h.weight"], w["h.bias"])
    for layer in range(depth):
        p = f"layers.{layer}.egnn_layer"
        rij = x[i] - x[j]
        sq = (rij**2).sum(-1, keepdim=True)
        mij = _mlp(torch.cat([h[i], h[j], sq], -1), w, f"{p}.m", 2, F.silu, True)
        coef = _mlp(mij, w, f"{p}.dx.mul.mlp", 2, F.silu, False)
        dx = torch.zeros_like(x).index_add(0, i, rij * coef) / (n - 1)
        mi = h.new_zeros(n, mij.shape[1]).index_add(0, i, mij)
        h = h + _mlp(torch.cat([h, mi], -1), w, f"{p}.h2.mlp", 2, F.silu, False)
        x = x + dx
    energy = _mlp(h, w, "energy.mlp", 2, F.silu, False).sum(0)
    return energy, x


def deepsets_reference(w: Weights, x: torch.Tensor) -> torch.Tensor:
    """Zaheer et al. (2017), the permutation-equivariant layer
    f(X) = act(X Λ + 1 pool(X) Γ), then rho(sum of the set)."""

    def layer(v, prefix, pool):
        local = F.linear(v, w[f"{prefix}.add.linear.weight"], w[f"{prefix}.add.linear.bias"])
        glob = F.linear(
            pool(v), w[f"{prefix}.add.linear_1.weight"], w[f"{prefix}.add.linear_1.bias"]
        )
        return F.relu(local + glob)

    h = layer(x, "h", lambda v: v.mean(0))
    h = layer(h, "h_1", lambda v: v.amax(0))
    return _mlp(h.sum(0), w, "y", 2, F.silu, False)


@pytest.mark.parametrize("depth", [1, 4])
def test_egnn_matches_paper_equations(depth: int) -> None:
    torch.manual_seed(0)
    model = geoc_compile("egnn", params={"depth": depth}, seed=7)
    h, x = torch.randn(6, 16), torch.randn(6, 3)
    out = model(h=h, x=x)
    energy, pos = egnn_reference(model.state_dict(), h, x, depth)
    assert (out["energy"] - energy).abs().max() < 1e-5
    assert (out["pos"] - pos).abs().max() < 1e-5


def test_deepsets_matches_paper_equations() -> None:
    torch.manual_seed(1)
    model = geoc_compile("deepsets", seed=3)
    x = torch.randn(9, 8)
    assert (model(x=x)["y"] - deepsets_reference(model.state_dict(), x)).abs().max() < 1e-5


def test_batched_graphs_equal_separate_calls() -> None:
    model = geoc_compile("egnn", params={"depth": 2}, dtype=torch.float64)
    sizes = [3, 5, 4]
    h, x = torch.randn(12, 16, dtype=torch.float64), torch.randn(12, 3, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    together = model(h=h, x=x, batch=batch)
    assert together["energy"].shape == (3, 1)
    start = 0
    for g, size in enumerate(sizes):
        alone = model(h=h[start : start + size], x=x[start : start + size])
        assert torch.allclose(together["energy"][g], alone["energy"], atol=1e-12)
        assert torch.allclose(together["pos"][start : start + size], alone["pos"], atol=1e-12)
        start += size


def test_deepsets_batch_pools_per_set() -> None:
    model = geoc_compile("deepsets", dtype=torch.float64)
    x = torch.randn(7, 8, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    out = model(x=x, batch=batch, num_graphs=2)["y"]
    assert torch.allclose(out[1], model(x=x[3:])["y"], atol=1e-12)
