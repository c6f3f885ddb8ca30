# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""``specs/equiformer.geo`` against EquiformerV2's block (Liao et al. 2024, arXiv:2306.12059)
written in plain PyTorch with the compiled module's weights: separable layer norm, eSCN SO(2)
convolutions with explicit Wigner rotations (:mod:`so2_reference`), scores from the
messages' invariant channels, a per-head softmax over each node's incoming edges, values
split into heads per degree, residuals, a gated feed-forward part. Energies and forces agree
to 1e-10 in float64 (a batch of two graphs, an isolated node); ``geoc check`` and forces
under E(3) x S(nodes); first and second derivatives finite; traces and exports."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_captures, batch_of
from so2_reference import so2_reference, split
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.o3.kernels import bessel_basis
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
SPECIES, C, HEADS, ALPHA, HIDDEN, MMAX, DEPTH, CUTOFF = 4, 4, 2, 6, 6, 1, 2, 2.5
PARAMS = {"channels": C, "heads": HEADS, "alpha": ALPHA, "hidden": HIDDEN, "mmax": MMAX}
PARAMS |= {"depth": DEPTH, "cutoff": CUTOFF}


def irreps(mul: int) -> list[tuple[int, int, int]]:
    """``mul x 0e + mul x 1o + mul x 2e`` as ``(mul, l, p)`` terms."""
    return [(mul, 0, 1), (mul, 1, -1), (mul, 2, 1)]


T, H = irreps(C), irreps(HIDDEN)


def join(blocks: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([b.flatten(1) for b in blocks], 1)


def linear(x: torch.Tensor, terms: list, out: list, p: dict, name: str) -> torch.Tensor:
    """Per irrep type, ``y_l = W_l [x_l copies, in order]``, a bias on the scalars."""
    blocks, y = split(x, terms), []
    for _, l, par in out:
        xs = torch.cat([b for b, t in zip(blocks, terms, strict=True) if t[1:] == (l, par)], 1)
        kind = f"{l}{'e' if par == 1 else 'o'}"
        yl = torch.einsum("nci,oc->noi", xs, p[f"{name}.weight_{kind}"])
        if l == 0:
            yl = yl + p[f"{name}.bias_0e"][:, None]
        y.append(yl)
    return join(y)


def separable_ln(x: torch.Tensor, terms: list, p: dict, name: str) -> torch.Tensor:
    """SLN: LayerNorm over the scalars' channels; one RMS over the degrees > 0, each degree's
    mean square over components and channels averaged over the degrees; a weight per copy."""
    blocks = split(x, terms)
    s = blocks[0][..., 0]
    scalars = F.layer_norm(s, (s.shape[1],), None, None, 1e-5)
    rms = torch.stack([b.pow(2).mean(dim=(1, 2)) for b in blocks[1:]], -1).mean(-1) + 1e-5
    rest = [b / rms.sqrt()[:, None, None] for b in blocks[1:]]
    weight = p[f"{name}.weight"].split([mul for mul, _, _ in terms])
    out = [scalars[..., None] * weight[0][:, None] + p[f"{name}.bias"][:, None]]
    out += [b * w[:, None] for b, w in zip(rest, weight[1:], strict=True)]
    return join(out)


def gate(x: torch.Tensor, terms: list) -> torch.Tensor:
    blocks = split(x, terms)
    gates = torch.sigmoid(blocks[0][..., 0])
    return join([F.silu(blocks[0])] + [b * gates[:, : b.shape[1], None] for b in blocks[1:]])


def segment_softmax(s: torch.Tensor, dst: torch.Tensor, n: int) -> torch.Tensor:
    """``exp(s_e) / Σ exp(s_e')`` over the edges ``e'`` into the same node, head by head."""
    out = torch.zeros_like(s)
    for i in range(n):
        into = dst == i
        if into.any():
            out[into] = torch.softmax(s[into], 0)
    return out


def by_heads(a: torch.Tensor, v: torch.Tensor, terms: list) -> torch.Tensor:
    """Every degree's channels viewed as ``[E, heads, C/heads, 2l+1]``, head ``h`` times
    ``a[:, h]``."""
    return join(
        [
            (b.reshape(len(b), HEADS, -1, b.shape[-1]) * a[:, :, None, None]).flatten(1, 2)
            for b in split(v, terms)
        ]
    )


def mlp(x: torch.Tensor, p: dict, name: str) -> torch.Tensor:
    return F.linear(
        F.silu(F.linear(x, p[f"{name}.0.weight"], p[f"{name}.0.bias"])),
        *(
            p[f"{name}.1.weight"],
            p[f"{name}.1.bias"],
        ),
    )


def so2(x, r, basis, p: dict, name: str, in_terms: list) -> torch.Tensor:
    sub = {k[len(name) + 1 :]: v for k, v in p.items() if k.startswith(name + ".")}
    return so2_reference(x, r, basis, sub, MMAX, True, in_terms, T)


def radius_graph(pos: torch.Tensor, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ordered pair of distinct nodes of one graph closer than the cutoff."""
    src, dst = torch.meshgrid(torch.arange(len(pos)), torch.arange(len(pos)), indexing="ij")
    src, dst = src.flatten(), dst.flatten()
    keep = (src != dst) & (batch[src] == batch[dst])
    keep &= (pos[dst] - pos[src]).norm(dim=-1) < CUTOFF
    return src[keep], dst[keep]


def reference(p: dict, z: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, graphs: int):
    src, dst = radius_graph(pos, batch)
    n = len(pos)
    r = pos[dst] - pos[src]
    basis = bessel_basis(r.norm(dim=-1)[:, None], 8, CUTOFF)  # geoc's (tested on its own)
    s = p["s.weight"][z]
    e = torch.zeros(n, 9 * C, dtype=F64)
    e = e.index_add(0, dst, so2(s[src], r, basis, p, "e.so2_conv", irreps(C)[:1]))
    h = linear(torch.cat([s, e], 1), [(C, 0, 1), *T], T, p, "h")
    for layer in range(DEPTH):
        b = f"layers.{layer}.equiformer_block"
        x = separable_ln(h, T, p, f"{b}.x")
        m = so2(torch.cat([x[src], x[dst]], 1), r, basis, p, f"{b}.m", T + T)
        scores = mlp(linear(m, T, [(ALPHA, 0, 1)], p, f"{b}.s.linear"), p, f"{b}.s")
        a = segment_softmax(scores, dst, n)
        v = so2(gate(m, T), r, basis, p, f"{b}.v", T)
        o = torch.zeros(n, 9 * C, dtype=F64).index_add(0, dst, by_heads(a, v, T))
        h = h + linear(o, T, T, p, f"{b}.h.linear")
        f = linear(separable_ln(h, T, p, f"{b}.f.layer_norm"), T, H, p, f"{b}.f")
        h = h + linear(gate(f, H), H, T, p, f"{b}.return_.linear")
    scalars = linear(
        separable_ln(h, T, p, "energy.mlp.linear.layer_norm"),
        T,
        [(C, 0, 1)],
        p,
        ("energy.mlp.linear"),
    )
    per_node = mlp(scalars, p, "energy.mlp")[:, 0]
    return torch.zeros(graphs, dtype=F64).index_add(0, batch, per_node)


def _module() -> torch.nn.Module:
    module = geoc_compile("equiformer", PARAMS, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random weights everywhere (norm scales and shifts included)
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=F64) / 2)
    return module


def _inputs(seed: int = 1) -> dict:
    """Two graphs of 6 and 5 atoms; the last atom of the first far from the others."""
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(11, 3, generator=gen, dtype=F64) * 1.2
    pos[5] += 20.0
    z = torch.randint(0, SPECIES, (11,), generator=gen)
    return {"z": z, "pos": pos, "batch": batch_of([6, 5]), "num_graphs": 2}


def test_energy_and_forces_equal_the_papers_equations() -> None:
    module = _module()
    g = _inputs()
    params = {k: v.detach() for k, v in module.named_parameters()}
    pos = g["pos"].clone().requires_grad_(True)
    got = module(**dict(g, pos=pos))["energy"]
    (got_f,) = torch.autograd.grad(-got.sum(), pos)
    pos_ref = g["pos"].clone().requires_grad_(True)
    with float64_default():  # e3nn's generators in float64
        want = reference(params, g["z"], pos_ref, g["batch"], 2)
    (want_f,) = torch.autograd.grad(-want.sum(), pos_ref)
    assert got.abs().min() > 1e-2 and got_f.abs().max() > 1e-2
    torch.testing.assert_close(got.reshape(-1), want, rtol=0, atol=1e-10)
    torch.testing.assert_close(got_f, want_f, rtol=0, atol=1e-10)
    assert torch.equal(got_f[5], torch.zeros(3, dtype=F64))  # no neighbour, no force


@pytest.mark.parametrize("graphs", [1, 3])
def test_check_passes(graphs: int) -> None:
    report = check("equiformer", PARAMS, graphs=graphs, trials=3, seed=graphs)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10


def test_forces_are_equivariant_under_e3_and_permutations() -> None:
    module = _module()
    g = _inputs(2)
    gen = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))  # any O(3) element
    q = -q if torch.linalg.det(q) > 0 else q  # a reflection
    perm = torch.cat([torch.randperm(6, generator=gen), 6 + torch.randperm(5, generator=gen)])

    def forces(pos: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pos = pos.clone().requires_grad_(True)
        energy = module(**dict(g, z=z, pos=pos))["energy"]
        (grad,) = torch.autograd.grad(energy.sum(), pos)
        return energy, -grad

    e, f = forces(g["pos"], g["z"])
    shift = torch.randn(3, generator=gen, dtype=F64)
    e2, f2 = forces((g["pos"] @ q.T + shift)[perm], g["z"][perm])
    torch.testing.assert_close(e2, e, rtol=0, atol=1e-10)
    torch.testing.assert_close(f2, (f @ q.T)[perm], rtol=0, atol=1e-10)


def test_second_derivatives_are_finite_training_with_forces() -> None:
    """A force loss's gradient reaches every parameter, finite; coincident atoms included."""
    module = _module()
    g = _inputs(4)
    pos = g["pos"].clone()
    pos[7] = pos[6]  # a zero-length edge
    pos.requires_grad_(True)
    energy = module(**dict(g, pos=pos))["energy"]
    (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=True)
    assert torch.isfinite(grad).all()
    loss = grad.pow(2).sum() + energy.pow(2).sum()
    grads = torch.autograd.grad(loss, [pos, *module.parameters()], allow_unused=True)
    assert all(gr is None or torch.isfinite(gr).all() for gr in grads)
    assert sum(1 for gr in grads[1:] if gr is not None and gr.abs().sum() > 0) > 20


@pytest.mark.slow
def test_traces_and_exports() -> None:
    """``torch.compile(fullgraph=True)`` (aot_eager) and ``torch.export`` on a batch."""
    assert_captures(_module(), _inputs(5), atol=1e-10)
