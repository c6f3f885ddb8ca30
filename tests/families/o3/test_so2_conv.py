# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""`so2_conv`, eSCN's own SO(2) convolution (docs/escn.md): typing and each error with its
caret; the module against a plain-PyTorch reference of the paper's equations (e3nn's Euler
angles and `wigner_D`, explicit per-m blocks); equivariance under rotations and reflections;
zero-length edges (finite first and second derivatives); the parity masks are needed."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3 as e3o3
from helpers import assert_captures, assert_fails_at
from so2_reference import so2_reference
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.pipeline import frontend

F64 = torch.float64
IN = "4x0e + 2x1o + 2x2e + 1x1e"
OUT = "3x0e + 2x1o + 2x2e + 1x1e + 1x0o + 1x3o"
IN_TERMS = [(4, 0, 1), (2, 1, -1), (2, 2, 1), (1, 1, 1)]
OUT_TERMS = [(3, 0, 1), (2, 1, -1), (2, 2, 1), (1, 1, 1), (1, 0, -1), (1, 3, -1)]

pytestmark = pytest.mark.usefixtures("one_thread")


def _spec(group: str = "E(3)", mmax: int = 2, call: str = "", x: str = IN, out: str = OUT) -> str:
    call = call or f"so2_conv(h[src], r, w, out={out}, mmax={mmax})"
    return f"""model M() {{
    symmetry {group} x S(nodes)
    domain graph(nodes)
    input h: {x} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    w = radial_basis(norm(r), n=4, cutoff=4.0)
    output y: {out} over edges = {call}
}}"""


# ---------------------------------------------------------------------------------------------
# Typing


def test_types_over_edges() -> None:
    for group in ("E(3)", "SE(3)", "O(3)", "SO(3)"):
        frontend(_spec(group))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (f"so2_conv(@pos[src], r, w, out={OUT}, mmax=1)", "GEO300"),  # a point, not irreps
        (f"so2_conv(h[src], @w, w, out={OUT}, mmax=1)", "GEO300"),  # not one vector
        (f"so2_conv(h[src], r, @r, out={OUT}, mmax=1)", "GEO401"),  # radial not invariant
        (f"so2_conv(@h, r, w, out={OUT}, mmax=1)", "GEO305"),  # over nodes
        (f"@so2_conv(h[src], r, w, out={OUT}, mmax=4)", "GEO385"),  # mmax > lmax = 3
        (f"@so2_conv(h[src], r, w, out={OUT}, mmax=-1)", "GEO385"),
    ],
)
def test_errors(call: str, code: str) -> None:
    assert_fails_at(_spec(call=call), code)


def test_output_that_would_be_zero() -> None:
    """0e, 1o -> 0o couple only through W2, which needs m >= 1 (0o has no m = 1): no
    pseudoscalar from scalars, vectors and the edge vector; 1e -> 0o does (r · pv)."""
    call = "so2_conv(@h[src], r, w, out=2x0o, mmax=1)"
    assert_fails_at(_spec(call=call, x="2x0e + 1x1o", out="2x0o"), "GEO387")
    frontend(_spec(call=call.replace("@", ""), x="2x0e + 1x1e", out="2x0o"))
    frontend(_spec("SE(3)", call="so2_conv(h[src], r, w, out=2x0o, mmax=0)", x="2x0e", out="2x0o"))


def test_needs_rotations() -> None:
    text = _spec("T(3)", call=f"@so2_conv(h[src], r, w, out={OUT}, mmax=1)")
    assert_fails_at(text, "GEO386")


def test_needs_three_dimensions() -> None:
    text = """model M() {
    symmetry E(2) x S(nodes)
    domain graph(nodes)
    input h: 2x0e over nodes
    input pos: point(2) over nodes
    r = pos[dst] - pos[src]
    output y: 2x0e over edges = so2_conv(@h[src], r, norm(r), out=2x0e, mmax=0)
}"""
    assert_fails_at(text, "GEO309")


# ---------------------------------------------------------------------------------------------
# The paper's equations, written plainly


def _graph(seed: int = 0, n: int = 7) -> dict[str, torch.Tensor]:
    """Random edges plus a self-loop (zero vector), a pole (+ŷ) and two coincident nodes."""
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, 3, generator=gen, dtype=F64)
    pos[1] = pos[0] + torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    pos[3] = pos[2]
    src, dst = torch.randint(0, n, (2, 24), generator=gen)
    src = torch.cat([torch.tensor([0, 4, 2, 3]), src])
    dst = torch.cat([torch.tensor([1, 4, 3, 2]), dst])
    dim = sum(mul * (2 * l + 1) for mul, l, _ in IN_TERMS)
    h = torch.randn(n, dim, generator=gen, dtype=F64)
    return {"h": h, "pos": pos, "edge_index": torch.stack([src, dst])}


def reference(
    h: torch.Tensor, pos: torch.Tensor, edges: torch.Tensor, params: dict, mmax: int, parity: bool
) -> torch.Tensor:
    """eSCN's convolution of ``h[src]`` along each edge (:func:`so2_reference.so2_reference`),
    the radial basis geoc's."""
    src, dst = edges
    r = pos[dst] - pos[src]
    basis = _bessel(r.norm(dim=-1))
    return so2_reference(h[src], r, basis, params, mmax, parity, IN_TERMS, OUT_TERMS)


def _bessel(d: torch.Tensor, n: int = 4, c: float = 4.0) -> torch.Tensor:
    """geoc's `radial_basis` (tested against the paper in test_o3_ops.py), zero-safe."""
    from geoc.backends.torch_fx.o3.kernels import bessel_basis

    return bessel_basis(d[:, None], n, c)


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name.split(".", 1)[1]: p.detach() for name, p in module.named_parameters()}


@pytest.mark.parametrize(("group", "mmax"), [("E(3)", 2), ("SE(3)", 1), ("E(3)", 3)])
def test_equals_the_reference(group: str, mmax: int) -> None:
    module = geoc_compile(_spec(group, mmax), dtype=F64)
    g = _graph()
    with torch.no_grad():  # random radial weights: the initial bias alone would hide errors
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    got = module(**g)["y"]
    with float64_default():  # e3nn's generators in float64
        want = reference(g["h"], g["pos"], g["edge_index"], _params(module), mmax, group == "E(3)")
    assert got.abs().max() > 0.1
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------------------------
# Equivariance, zero-length edges, parity


@pytest.mark.parametrize(("group", "mmax"), [("E(3)", 2), ("SE(3)", 2), ("O(3)", 1), ("E(3)", 3)])
def test_check_passes(group: str, mmax: int) -> None:
    report = check(_spec(group, mmax))
    assert all(row.passed for row in report.outputs), report
    assert max(row.max_error for row in report.outputs) < 1e-10


def _rep(terms: list, matrix: torch.Tensor) -> torch.Tensor:
    irreps = e3o3.Irreps([(mul, (l, p)) for mul, l, p in terms])
    with float64_default():
        return irreps.D_from_matrix(matrix)


@pytest.mark.parametrize("reflect", [False, True])
def test_equivariant_under_random_elements(reflect: bool) -> None:
    module = geoc_compile(_spec("E(3)", 2), dtype=F64)
    g = _graph(seed=3)
    for seed in range(3):
        q, _ = torch.linalg.qr(
            torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)
        )
        q = q * torch.linalg.det(q)  # a rotation
        q = -q if reflect else q
        moved = dict(g, h=g["h"] @ _rep(IN_TERMS, q).T, pos=g["pos"] @ q.T + 1.5)
        want = module(**g)["y"] @ _rep(OUT_TERMS, q).T
        torch.testing.assert_close(module(**moved)["y"], want, atol=1e-10, rtol=0)


def test_without_parity_masks_reflections_break_it() -> None:
    """The SE(3) module (no masks) is not inversion-equivariant: the masks are needed."""
    module = geoc_compile(_spec("SE(3)", 2), dtype=F64)
    g = _graph()
    q = -torch.eye(3, dtype=F64)
    moved = dict(g, h=g["h"] @ _rep(IN_TERMS, q).T, pos=-g["pos"])
    want = module(**g)["y"] @ _rep(OUT_TERMS, q).T
    assert (module(**moved)["y"] - want).abs().max() > 1e-3


def test_zero_length_edges_have_finite_derivatives() -> None:
    module = geoc_compile(_spec("E(3)", 2), dtype=F64)
    g = _graph()
    pos = g["pos"].clone().requires_grad_(True)
    h = g["h"].clone().requires_grad_(True)
    y = module(h=h, pos=pos, edge_index=g["edge_index"])["y"]
    assert torch.isfinite(y).all()
    assert (y[1:4] == 0).all()  # the self-loop and the coincident pair
    (gp, gh) = torch.autograd.grad(y.square().sum(), (pos, h), create_graph=True)
    assert torch.isfinite(gp).all() and torch.isfinite(gh).all()
    (hp,) = torch.autograd.grad(gp.square().sum() + gh.sum(), pos)
    assert torch.isfinite(hp).all()


def test_batches_and_no_edges() -> None:
    module = geoc_compile(_spec("E(3)", 2), dtype=F64)
    a, b = _graph(seed=1), _graph(seed=2)
    n = len(a["pos"])
    both = {
        "h": torch.cat([a["h"], b["h"]]),
        "pos": torch.cat([a["pos"], b["pos"]]),
        "edge_index": torch.cat([a["edge_index"], b["edge_index"] + n], 1),
        "batch": torch.arange(2).repeat_interleave(n),
        "num_graphs": 2,
    }
    y = module(**both)["y"]
    torch.testing.assert_close(y, torch.cat([module(**a)["y"], module(**b)["y"]]))
    empty = dict(a, edge_index=torch.zeros(2, 0, dtype=torch.long))
    assert module(**empty)["y"].shape == (0, y.shape[1])


def test_the_mirror_through_the_polar_axis_is_diagonal() -> None:
    """docs/escn.md: the mirror x -> -x fixes ŷ and acts on the pair (+m, -m) of (l, p) as
    p (-1)^l diag(1, -1) (m = 0: p (-1)^l), the fact behind the parity masks."""
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=F64))
    for l in range(5):
        for p in (1, -1):
            d = _rep([(1, l, p)], mirror)
            signs = [p * (-1) ** l * (1 if m >= 0 else -1) for m in range(-l, l + 1)]
            torch.testing.assert_close(d, torch.diag(torch.tensor(signs, dtype=F64)))


def test_traces_whole() -> None:
    """One graph under torch.compile(fullgraph=True) and torch.export, equal to eager."""
    module = geoc_compile(_spec("E(3)", 2), dtype=F64)
    assert_captures(module, _graph(), atol=1e-12)


def test_the_spec_traces_and_exports_on_radius_graphs() -> None:
    """specs/escn_so2.geo (radius edges: an unbacked edge count) under torch.compile and
    torch.export, a batch of two graphs; its first layer has orders no input reaches."""
    import numpy as np

    from geoc.backends.torch_fx.verify import draw_sample

    module = geoc_compile("escn_so2", dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 6, 2, F64, 0)
    assert_captures(module, sample.inputs, atol=1e-12)
