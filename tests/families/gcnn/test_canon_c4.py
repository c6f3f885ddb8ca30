"""The runtime half of a C(4) image canonicaliser (backends/torch_fx/gcnn/canon_kernels.py):
agreement with a plain-PyTorch reference (``torch.rot90`` candidates, Python's lexicographic
order on the tied ones), exact invariance under every 90° rotation in float64 (random images,
batches, exact score ties, rotation-symmetric images), finite gradients, and full-graph
tracing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.gcnn.canon_kernels import canonicalise_c4

N = 6
TURN = np.array([[0, -1], [1, 0]])
ELEMENTS = np.stack([np.linalg.matrix_power(TURN, k) for k in range(4)])  # g_k = turn^k
SOURCES = torch.as_tensor(ELEMENTS)  # the kernel's `elements`


def act(k: int, f: torch.Tensor) -> torch.Tensor:
    """``(g_k·f)(p) = f(g_k⁻¹ p mod n)``, written with ``torch.rot90`` about the grid centre
    and one row roll (the turn about the origin of the index grid)."""
    for _ in range(k % 4):
        f = torch.roll(torch.rot90(f, 1, dims=(-2, -1)), 1, dims=-2)
    return f


def scores_of(f: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """An equivariant score ``s(f)[k] = <f, g_k·template>``: ``s(g_j f)[j + k] = s(f)[k]``."""
    return torch.stack([(f * act(k, template)).sum((1, 2, 3)) for k in range(4)], dim=1)


def reference(f: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    out = []
    for sample, s in zip(f, scores, strict=True):
        band = torch.finfo(s.dtype).eps ** 0.5 * s.abs().max()  # the documented tie band
        tied = [k for k in range(4) if s[k] >= s.max() - band]
        candidates = [act(-k, sample) for k in tied]  # g_k⁻¹·f
        out.append(max(candidates, key=lambda c: tuple(c.flatten().tolist())))
    return torch.stack(out)


def test_matches_the_rot90_reference_with_and_without_ties() -> None:
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(5, 2, N, N, generator=gen, dtype=torch.float64)
    scores = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    scores[1] = 1.0  # all tied
    scores[2, 1] = scores[2, 3] = scores[2].max() + 1  # two tied
    assert torch.equal(canonicalise_c4(f, scores, SOURCES), reference(f, scores))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_exactly_invariant_under_every_turn(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    f = torch.randn(4, 3, N, N, generator=gen, dtype=torch.float64)
    template = torch.randn(1, 3, N, N, generator=gen, dtype=torch.float64)
    moved = act(k, f)
    a = canonicalise_c4(f, scores_of(f, template), SOURCES)
    b = canonicalise_c4(moved, scores_of(moved, template), SOURCES)
    assert torch.equal(a, b)
    assert not torch.equal(f, moved)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ties_are_broken_consistently(k: int) -> None:
    """Constant scores (every element tied), and an image fixed by the half turn whose scores
    tie in pairs: the lexicographic order picks the same turned image from f and g·f."""
    gen = torch.Generator().manual_seed(10 + k)
    f = torch.randn(3, 2, N, N, generator=gen, dtype=torch.float64)
    f[2] = f[2] + act(2, f[2])  # fixed by the half turn
    flat = torch.zeros(3, 4, dtype=torch.float64)
    flat[2] = torch.tensor([2.0, 1.0, 2.0, 1.0])  # the tie pattern of a half-turn-fixed image
    moved = act(k, f)
    rolled = torch.roll(flat, k, dims=1)  # s(g_k f)[k + j] = s(f)[j]
    assert torch.equal(canonicalise_c4(f, flat, SOURCES), canonicalise_c4(moved, rolled, SOURCES))


def test_gradients_are_finite_and_reach_the_image() -> None:
    f = torch.randn(2, 1, N, N, dtype=torch.float64, requires_grad=True)
    s = torch.randn(2, 4, dtype=torch.float64)
    (grad,) = torch.autograd.grad(canonicalise_c4(f, s, SOURCES).pow(2).sum(), f)
    assert torch.isfinite(grad).all()
    assert torch.allclose(grad, 2 * f.detach())  # a permutation of the points


def test_traces_as_one_graph() -> None:
    compiled = torch.compile(canonicalise_c4, fullgraph=True, backend="aot_eager")
    f = torch.randn(3, 2, N, N, dtype=torch.float64)
    s = torch.randn(3, 4, dtype=torch.float64)
    assert torch.equal(compiled(f, s, SOURCES), canonicalise_c4(f, s, SOURCES))
