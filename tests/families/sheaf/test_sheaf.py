"""``specs/sheaf_diffusion.geo`` against neural sheaf diffusion written from the paper's
equations (Bodnar et al. 2022): the dense block sheaf Laplacian ``L_F`` (``L_vv = Σ F_{v◁e}ᵀ
F_{v◁e}``, ``L_vu = -F_{v◁e}ᵀ F_{u◁e}``), ``Δ = D^{-1/2} L D^{-1/2}`` and ``X - σ(Δ (I ⊗ W1) X
W2)``, built explicitly per graph in float64; permutation equivariance under random node
relabellings (isolated nodes, a graph without edges, batches); orthogonal maps; finite second
derivatives; capture by ``torch.compile`` and ``torch.export``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_captures, batch_of, randomised

from geoc.backends.torch_fx.sheaf.kernels import restriction_maps
from geoc.backends.torch_fx.verify import check
from geoc.catalog import builtin_spec

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
FEATURES, D, WIDTH, DEPTH = 8, 2, 4, 2
SPEC = builtin_spec("sheaf_diffusion").read_text()


def spec(kind: str, d: int = D) -> str:
    return SPEC.replace("kind=orthogonal", f"kind={kind}").replace("d: int = 2", f"d: int = {d}")


def phi(
    weight: torch.Tensor, xv: torch.Tensor, xu: torch.Tensor, kind: str, d: int
) -> torch.Tensor:
    """The paper's map learner: ``Φ(x_v, x_u) = σ(V [x_v ‖ x_u])`` (tanh) for diagonal maps; for
    orthogonal ones the Cayley transform ``(I - S)⁻¹ (I + S)`` of the skew matrix whose entries
    below the diagonal are ``V [x_v ‖ x_u]``, row by row."""
    z = weight @ torch.cat([xv, xu])
    if kind == "diag":
        return torch.diag(torch.tanh(z))
    s = torch.zeros(d, d, dtype=F64)
    entries = iter(z)
    for i in range(d):
        for j in range(i):
            s[i, j] = next(entries)
    s = s - s.T
    eye = torch.eye(d, dtype=F64)
    return torch.linalg.inv(eye - s) @ (eye + s)


def inverse_root(block: torch.Tensor) -> torch.Tensor:
    """``D_v^{-1/2}`` of a symmetric positive semi-definite block, 0 on its null space."""
    values, vectors = torch.linalg.eigh(block)
    roots = torch.where(values > 1e-12, values.clamp(min=1e-12).rsqrt(), 0.0)
    return vectors @ torch.diag(roots) @ vectors.T


def diffusion_step(p, prefix, x, pairs, kind, d):
    """One layer of the paper on one graph: ``x`` [n, d*f] as ``X`` [n*d, f] (node v's stalk
    coordinate i is row v*d + i), ``pairs`` the sheaf's edges ``(v, u)``."""
    n, f = x.shape[0], x.shape[1] // d
    big = x.reshape(n, d, f).reshape(n * d, f)
    laplacian = torch.zeros(n * d, n * d, dtype=F64)
    weight = p[f"{prefix}.F.weight"]
    for v, u in pairs:
        fv = phi(weight, x[v], x[u], kind, d)
        fu = phi(weight, x[u], x[v], kind, d)
        bv, bu = slice(v * d, v * d + d), slice(u * d, u * d + d)
        laplacian[bv, bv] += fv.T @ fv
        laplacian[bu, bu] += fu.T @ fu
        laplacian[bv, bu] -= fv.T @ fu
        laplacian[bu, bv] -= fu.T @ fv
    scale = torch.block_diag(
        *[inverse_root(laplacian[v * d : v * d + d, v * d : v * d + d]) for v in range(n)]
    )
    delta = scale @ laplacian @ scale
    w1 = p[f"{prefix}.h.act.sheaf_diffusion.w1"]
    w2 = p[f"{prefix}.h.act.sheaf_diffusion.w2"]
    mixed = torch.kron(torch.eye(n, dtype=F64), w1) @ big @ w2
    out = big - F.elu(delta @ mixed)
    return out.reshape(n, d * f)


def reference(p, x, pairs, kind, d=D):
    h = F.linear(x, p["h.weight"], p["h.bias"])
    for layer in range(DEPTH):
        h = diffusion_step(p, f"layers.{layer}", h, pairs, kind, d)
    return F.linear(F.elu(h), p["z.weight"], p["z.bias"])


def undirected(n: int, gen: torch.Generator, isolated: int = 1) -> list[tuple[int, int]]:
    """Random undirected edges between the first ``n - isolated`` nodes, each pair once."""
    pairs = [(v, u) for v in range(n - isolated) for u in range(v)]
    keep = torch.rand(len(pairs), generator=gen) < 0.5
    return [pair for pair, k in zip(pairs, keep, strict=True) if k] or pairs[:1]


def both_ways(pairs: list[tuple[int, int]], offset: int = 0) -> torch.Tensor:
    """The edge_index of undirected ``pairs``: each in both directions, ``src`` row first."""
    directed = [(u + offset, v + offset) for v, u in pairs] + [
        (v + offset, u + offset) for v, u in pairs
    ]
    return torch.tensor(directed, dtype=torch.long).reshape(-1, 2).T


@pytest.mark.parametrize(("kind", "d"), [("orthogonal", 2), ("orthogonal", 3), ("diag", 2)])
def test_equals_the_papers_equations_on_a_batch(kind: str, d: int) -> None:
    """A batch: an undirected graph with an isolated node, a graph without edges, another
    graph; each reference run alone on its graph."""
    module = randomised(spec(kind, d), seed=3)
    params = dict(module.state_dict())
    gen = torch.Generator().manual_seed(0)
    sizes = [6, 3, 5]
    graphs = [undirected(6, gen), [], undirected(5, gen, isolated=0)]
    x = torch.randn(sum(sizes), FEATURES, generator=gen, dtype=F64) * 0.5
    offsets = [0, 6, 9]
    edge_index = torch.cat([both_ways(g, o) for g, o in zip(graphs, offsets, strict=True)], 1)
    got = module(x=x, edge_index=edge_index, batch=batch_of(sizes), num_graphs=3)["z"]
    parts = x.split(sizes)
    want = torch.cat(
        [reference(params, xs, g, kind, d) for xs, g in zip(parts, graphs, strict=True)]
    )
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_a_directed_edge_list_is_the_sheaf_of_its_edges() -> None:
    """Edges given once each (not both ways): each is one sheaf edge between its ends."""
    module = randomised(spec("orthogonal"), seed=4)
    gen = torch.Generator().manual_seed(1)
    pairs = undirected(7, gen)
    x = torch.randn(7, FEATURES, generator=gen, dtype=F64)
    edge_index = torch.tensor([[u for _, u in pairs], [v for v, _ in pairs]])
    got = module(x=x, edge_index=edge_index)["z"]
    want = reference(dict(module.state_dict()), x, pairs, "orthogonal")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["orthogonal", "diag"])
def test_permutation_equivariant_under_random_relabellings(kind: str) -> None:
    """Relabel the nodes of a batch (isolated nodes, a graph without edges) across graphs:
    the output's rows move with them."""
    module = randomised(spec(kind), seed=5)
    gen = torch.Generator().manual_seed(2)
    sizes = [5, 2, 6]
    graphs = [undirected(5, gen, isolated=2), [], undirected(6, gen)]
    edge_index = torch.cat([both_ways(g, o) for g, o in zip(graphs, [0, 5, 7], strict=True)], 1)
    x = torch.randn(13, FEATURES, generator=gen, dtype=F64)
    batch = batch_of(sizes)
    out = module(x=x, edge_index=edge_index, batch=batch, num_graphs=3)["z"]
    for trial in range(3):
        perm = torch.randperm(13, generator=torch.Generator().manual_seed(10 + trial))
        inverse = torch.argsort(perm)
        moved = module(x=x[perm], edge_index=inverse[edge_index], batch=batch[perm], num_graphs=3)
        torch.testing.assert_close(moved["z"], out[perm], rtol=1e-12, atol=1e-12)


def test_a_graph_without_edges_keeps_its_stalks() -> None:
    """No edges: Δ is 0, so each layer leaves h as it is (σ(0) = 0 for elu)."""
    module = randomised(spec("orthogonal"), seed=6)
    x = torch.randn(4, FEATURES, generator=torch.Generator().manual_seed(3), dtype=F64)
    got = module(x=x, edge_index=torch.zeros(2, 0, dtype=torch.long))["z"]
    p = dict(module.state_dict())
    want = F.linear(F.elu(F.linear(x, p["h.weight"], p["h.bias"])), p["z.weight"], p["z.bias"])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("graphs", [1, 3])
def test_geoc_check_passes(graphs: int) -> None:
    report = check("sheaf_diffusion", graphs=graphs, trials=4)
    assert report.passed, report


@pytest.mark.parametrize("d", [2, 3, 5])
def test_orthogonal_maps_are_orthogonal(d: int) -> None:
    gen = torch.Generator().manual_seed(d)
    a, b = (torch.randn(50, 6, generator=gen, dtype=F64) * 3 for _ in range(2))
    weight = torch.randn(d * (d - 1) // 2, 12, generator=gen, dtype=F64)
    maps = restriction_maps(a, b, weight, d, False).reshape(50, 2, d, d)
    gram = maps.transpose(-1, -2) @ maps
    error = (gram - torch.eye(d, dtype=F64)).abs().max()
    assert error < 1e-12, error
    assert torch.linalg.det(maps).sub(1).abs().max() < 1e-12  # rotations (the Cayley image)
    swapped = restriction_maps(b, a, weight, d, False).reshape(50, 2, d, d)
    torch.testing.assert_close(swapped, maps.flip(1), rtol=0, atol=0)  # Φ(b ‖ a) at src


@pytest.mark.parametrize("kind", ["orthogonal", "diag"])
def test_second_derivatives_are_finite(kind: str) -> None:
    """Isolated nodes (zero degree) and diagonal maps through 0 are masked before the root."""
    module = randomised(spec(kind), seed=7)
    gen = torch.Generator().manual_seed(4)
    edge_index = both_ways(undirected(6, gen, isolated=2))
    x = torch.randn(6, FEATURES, generator=gen, dtype=F64, requires_grad=True)
    out = module(x=x, edge_index=edge_index)["z"]
    (first,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.square().sum(), x)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    assert second.abs().sum() > 0
    params = [p for p in module.parameters()]
    grads = torch.autograd.grad(module(x=x, edge_index=edge_index)["z"].sum(), params)
    assert all(torch.isfinite(g).all() for g in grads)


def test_zero_diagonal_maps_give_finite_derivatives() -> None:
    """Diagonal maps that vanish (Φ's weight 0): every degree is 0, Δ is 0 and the gradients
    are finite, not the 0 · ∞ an unmasked root would give."""
    module = randomised(spec("diag"), seed=8)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("F.weight"):
                param.zero_()
    edge_index = both_ways([(1, 0), (2, 1)])
    x = torch.randn(3, FEATURES, generator=torch.Generator().manual_seed(5), dtype=F64)
    x.requires_grad_(True)
    out = module(x=x, edge_index=edge_index)["z"]
    (first,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.square().sum(), x)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    grads = torch.autograd.grad(
        module(x=x, edge_index=edge_index)["z"].sum(), list(module.parameters())
    )
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.slow
def test_compiles_fullgraph_and_exports() -> None:
    from geoc.backends.torch_fx.api import compile

    module = compile("sheaf_diffusion")
    gen = torch.Generator().manual_seed(6)
    edge_index = torch.cat([both_ways(undirected(5, gen)), both_ways(undirected(4, gen), 5)], 1)
    x = torch.randn(9, FEATURES, generator=gen)
    inputs = {"x": x, "edge_index": edge_index, "batch": batch_of([5, 4]), "num_graphs": 2}
    assert_captures(module, inputs, atol=1e-5)


def test_exported_module_equals_the_module(tmp_path) -> None:
    """The exported folder carries the sheaf kernels (torch only) and runs without geoc."""
    from helpers import run_exported

    from geoc.backends.torch_fx.api import compile
    from geoc.backends.torch_fx.export import write_folder

    module = compile("sheaf_diffusion", dtype=F64)
    gen = torch.Generator().manual_seed(7)
    inputs = {
        "x": torch.randn(6, FEATURES, generator=gen, dtype=F64),
        "edge_index": both_ways(undirected(6, gen)),
    }
    folder = write_folder(module, tmp_path / "sheaf", "sheaf")
    got = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(got["z"], module(**inputs)["z"], rtol=1e-12, atol=0)
