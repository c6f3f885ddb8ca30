"""The Cartesian tensor operators at run time (issue 23): each equals an explicit `einsum`
reference (1e-12, float64), is O(3)-equivariant (reflections included) under random elements
with random parameters, on batches and empty sets; the Levi-Civita maps are SO(3)-equivariant
and really odd under reflections (so rejecting them under O(3) is needed); the solver's SO(3)
maps between vectors and matrices are the Levi-Civita ones; second derivatives are finite."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from helpers import randomised

from geoc.backends.torch_fx.verify import check_module

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
EPS = torch.zeros(3, 3, 3, dtype=F64)
for _perm, _sign in zip(itertools.permutations(range(3)), [1, -1, -1, 1, 1, -1], strict=True):
    EPS[_perm] = _sign

HEAD = """model M() {{
    symmetry {group} x S(nodes)
    domain set(nodes)
    input u: 2 x vector over nodes
    input v: 2 x vector over nodes
    input t: 2 x tensor(2) over nodes
"""
#: Every operator valid under O(3), with a learned map in front so parameters matter.
O3_BODY = """    q = linear(t, 2 x tensor(2))
    output lin: 2 x tensor(2) over nodes = q
    output outer2: 2 x tensor(2) over nodes = outer(u, v)
    output outer3: 2 x tensor(3) over nodes = outer(q, v)
    output contract1: 2 x vector over nodes = contract(q, v)
    output contract2: 2 x tensor(2) over nodes = contract(outer(t, u), v)
    output tr: 2 x scalar over nodes = trace(q)
    output sym: 2 x tensor(2) over nodes = sym_part(q)
    output anti: 2 x tensor(2) over nodes = antisym_part(q)
    output iso: 2 x tensor(2) over nodes = trace_part(q)
}
"""
SO3_BODY = """    output ax: 2 x vector over nodes = axial(t)
    output sk: 2 x tensor(2) over nodes = skew(u)
    output lin_v: tensor(2) over nodes = linear(u, tensor(2), bias=false)
    output lin_t: vector over nodes = linear(t, vector, bias=false)
}
"""


def o3_module(seed: int = 0) -> torch.nn.Module:
    return randomised(HEAD.format(group="O(3)") + O3_BODY, seed)


def so3_module(seed: int = 0) -> torch.nn.Module:
    return randomised(HEAD.format(group="SO(3)") + SO3_BODY, seed)


def inputs(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "u": torch.randn(n, 6, generator=gen, dtype=F64),
        "v": torch.randn(n, 6, generator=gen, dtype=F64),
        "t": torch.randn(n, 18, generator=gen, dtype=F64),
    }


def vecs(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), 2, 3)


def mats(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), 2, 3, 3)


# ---------------------------------------------------------------------------------------------
# Each operator against einsum


def test_o3_operators_equal_einsum_references() -> None:
    module = o3_module()
    x = inputs(5)
    got = module(**x)
    u, v, t = vecs(x["u"]), vecs(x["v"]), mats(x["t"])
    q = mats(got["lin"])
    eye = torch.eye(3, dtype=F64)
    want = {
        "outer2": torch.einsum("nci,ncj->ncij", u, v),
        "outer3": torch.einsum("ncij,nck->ncijk", q, v),
        "contract1": torch.einsum("ncij,ncj->nci", q, v),
        "contract2": torch.einsum("ncij,nck,nck->ncij", t, u, v),
        "tr": torch.einsum("ncii->nc", q),
        "sym": (q + q.transpose(-1, -2)) / 2 - torch.einsum("ncii,jk->ncjk", q, eye) / 3,
        "anti": (q - q.transpose(-1, -2)) / 2,
        "iso": torch.einsum("ncii,jk->ncjk", q, eye) / 3,
    }
    for name, ref in want.items():
        torch.testing.assert_close(got[name], ref.reshape(5, -1), atol=1e-12, rtol=1e-12)


def test_the_parts_are_projections_that_sum_to_the_tensor() -> None:
    """Each part is idempotent, the three sum to t, and a part of another part is zero."""
    text = HEAD.format(group="O(3)") + (
        "    p = sym_part(sym_part(t)) + antisym_part(antisym_part(t))\n"
        "    output a: 2 x tensor(2) over nodes = p + trace_part(trace_part(t))\n"
        "    output b: 2 x tensor(2) over nodes = sym_part(antisym_part(t)) + "
        "trace_part(sym_part(t))\n}\n"
    )
    module = randomised(text)
    x = inputs(4)
    got = module(**x)
    torch.testing.assert_close(got["a"], x["t"], atol=1e-12, rtol=0)
    torch.testing.assert_close(got["b"], torch.zeros_like(x["t"]), atol=1e-12, rtol=0)


def test_levi_civita_maps_equal_einsum_references() -> None:
    module = so3_module()
    x = inputs(6)
    got = module(**x)
    u, t = vecs(x["u"]), mats(x["t"])
    torch.testing.assert_close(
        got["ax"], (-torch.einsum("ijk,ncjk->nci", EPS, t) / 2).reshape(6, -1), atol=1e-12, rtol=0
    )
    skew = -torch.einsum("ijk,nci->ncjk", EPS, u)
    torch.testing.assert_close(got["sk"], skew.reshape(6, -1), atol=1e-12, rtol=0)
    w = torch.randn(6, 2, 3, dtype=F64)  # [u]x w = u x w
    torch.testing.assert_close(
        torch.einsum("ncjk,nck->ncj", skew, w), torch.linalg.cross(u, w), atol=1e-12, rtol=0
    )


def test_the_solver_maps_under_so3_are_the_levi_civita_maps() -> None:
    """`linear(u, tensor(2))` under SO(3) is a multiple of skew (antisymmetric, no trace), and
    `linear(t, vector)` a multiple of axial: the one map each of the basis."""
    module = so3_module(seed=3)
    x = inputs(5, seed=4)
    got = module(**x)
    lin_v = got["lin_v"].reshape(5, 3, 3)
    torch.testing.assert_close(lin_v, -lin_v.transpose(-1, -2), atol=1e-12, rtol=0)
    axial_of = -torch.einsum("ijk,njk->ni", EPS, lin_v) / 2  # a combination of the two u copies
    coeffs = torch.linalg.lstsq(vecs(x["u"]).transpose(1, 2).reshape(-1, 2), axial_of.reshape(-1))
    u_mix = torch.einsum("nci,c->ni", vecs(x["u"]), coeffs.solution)
    torch.testing.assert_close(axial_of, u_mix, atol=1e-10, rtol=0)
    ax = -torch.einsum("ijk,ncjk->nci", EPS, mats(x["t"])) / 2
    fit = torch.linalg.lstsq(ax.transpose(1, 2).reshape(-1, 2), got["lin_t"].reshape(-1))
    torch.testing.assert_close(
        got["lin_t"], torch.einsum("nci,c->ni", ax, fit.solution), atol=1e-10, rtol=0
    )


# ---------------------------------------------------------------------------------------------
# Equivariance


def random_orthogonal(rng: np.random.Generator, det: float) -> torch.Tensor:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return torch.as_tensor(q)


def act(g: torch.Tensor, x: torch.Tensor, order: int) -> torch.Tensor:
    """g^⊗order on each copy of a flattened `C x tensor(order)` value (order 0: invariant)."""
    shape = (len(x), -1, *([3] * order))
    y = x.reshape(shape)
    for axis in range(order):
        y = torch.movedim(torch.tensordot(y, g, dims=([2 + axis], [1])), -1, 2 + axis)
    return y.reshape(len(x), -1)


O3_ORDERS = {
    "outer2": 2, "outer3": 3, "contract1": 1, "contract2": 2, "tr": 0, "sym": 2, "anti": 2,
    "iso": 2, "lin": 2,
}  # fmt: skip
SO3_ORDERS = {"ax": 1, "sk": 2, "lin_v": 2, "lin_t": 1}
IN_ORDERS = {"u": 1, "v": 1, "t": 2}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("det", [1.0, -1.0])
def test_o3_operators_are_equivariant_with_reflections(seed: int, det: float) -> None:
    rng = np.random.default_rng(seed)
    module = o3_module(seed)
    x, g = inputs(4, seed), random_orthogonal(rng, det)
    moved = module(**{k: act(g, v, IN_ORDERS[k]) for k, v in x.items()})
    for name, out in module(**x).items():
        expect = act(g, out, O3_ORDERS[name])
        torch.testing.assert_close(moved[name], expect, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_levi_civita_maps_are_so3_equivariant_and_odd_under_reflections(seed: int) -> None:
    """Proper rotations: equivariant. A reflection: each result picks up det g = -1, which is
    why GEO494 rejects them under O(3)."""
    rng = np.random.default_rng(seed)
    module = so3_module(seed)
    x = inputs(4, seed)
    out = module(**x)
    for det in (1.0, -1.0):
        g = random_orthogonal(rng, det)
        moved = module(**{k: act(g, v, IN_ORDERS[k]) for k, v in x.items()})
        for name in ("ax", "sk", "lin_v", "lin_t"):
            expect = det * act(g, out[name], SO3_ORDERS[name])
            torch.testing.assert_close(moved[name], expect, atol=1e-12, rtol=1e-12)
            if det < 0:  # not the action of `vector` / `tensor(2)`: a pseudovector's
                assert (moved[name] - act(g, out[name], SO3_ORDERS[name])).abs().max() > 1e-3


@pytest.mark.parametrize(("group", "body"), [("O(3)", O3_BODY), ("SO(3)", SO3_BODY)])
def test_the_checker_passes_on_batches(group: str, body: str) -> None:
    module = randomised(HEAD.format(group=group) + body)
    report = check_module(module, trials=5, graphs=3, seed=7)
    assert report.passed and all(r.rel_error < 1e-12 for r in report.outputs), report.render()


def test_empty_sets() -> None:
    for module in (o3_module(), so3_module()):
        got = module(**inputs(0))
        assert all(v.shape[0] == 0 for v in got.values())


# ---------------------------------------------------------------------------------------------
# Derivatives


@pytest.mark.parametrize("make", [o3_module, so3_module])
def test_second_derivatives_are_finite(make) -> None:
    module = make()
    x = {k: v.requires_grad_() for k, v in inputs(3, seed=5).items()}
    energy = sum((out**3).sum() for out in module(**x).values())  # cubic: a non-zero Hessian
    leaves = list(x.values())
    grads = [g for g in torch.autograd.grad(energy, leaves, create_graph=True, allow_unused=True)]
    total = sum(g.sum() for g in grads if g is not None)
    second = [g for g in torch.autograd.grad(total, leaves, allow_unused=True) if g is not None]
    grads = [g for g in grads if g is not None]
    assert all(torch.isfinite(g).all() for g in (*grads, *second))
    assert any(g.abs().max() > 0 for g in second)


def test_nematic_order_tensor_of_unit_vectors() -> None:
    """`sym_part(outer(n, n))` of unit vectors (Q = n nᵀ - I/3) passes the check with
    reflections and equals its formula."""
    text = (
        "model M() {\n    symmetry O(3) x S(nodes)\n    domain set(nodes)\n"
        "    input n: unit(3) over nodes\n"
        "    output q: tensor(2) over nodes = sym_part(outer(n, n))\n}\n"
    )
    module = randomised(text)
    report = check_module(module, trials=4, graphs=2)
    assert report.passed, report.render()
    n = torch.nn.functional.normalize(torch.randn(5, 3, dtype=F64), dim=-1)
    want = torch.einsum("ni,nj->nij", n, n) - torch.eye(3, dtype=F64) / 3
    torch.testing.assert_close(module(n=n)["q"], want.reshape(5, 9), atol=1e-12, rtol=0)


def test_under_o3_the_solver_maps_a_matrix_to_its_axial_pseudovector() -> None:
    """What GEO494's help offers under O(3): `linear(t, pseudovector)` is c · axial(t), and it
    passes the check with reflections (the pseudovector flips where `axial` would not)."""
    text = (
        "model M() {\n    symmetry O(3) x S(nodes)\n    domain set(nodes)\n"
        "    input t: tensor(2) over nodes\n"
        "    output p: pseudovector over nodes = linear(t, pseudovector, bias=false)\n}\n"
    )
    module = randomised(text, seed=2)
    report = check_module(module, trials=6, graphs=2)
    assert report.passed, report.render()
    t = torch.randn(5, 3, 3, dtype=F64)
    got = module(t=t.reshape(5, 9))["p"]
    ax = -torch.einsum("ijk,njk->ni", EPS, t) / 2
    scale = (got * ax).sum() / (ax * ax).sum()
    assert scale.abs() > 1e-3
    torch.testing.assert_close(got, scale * ax, atol=1e-12, rtol=0)
