"""The manifold operators' numbers: each equals a reference written from its paper's equations
here, and geoopt's math where geoopt has it (float64, 1e-10); each is equivariant under
permutations (and rotations where its contract says so) with every value on its manifold;
deep float32 stacks stay on the hyperboloid and inside the ball."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.manifold.verify import membership_error
from geoc.backends.torch_fx.verify import check_module
from geoc.types import FeatureType

with warnings.catch_warnings():  # geoopt 0.5.1 decorates with the deprecated torch.jit.script
    warnings.simplefilter("ignore", DeprecationWarning)
    import geoopt

pytestmark = pytest.mark.usefixtures("one_thread")
ATOL = 1e-10


def out(ftype: str, expr: str) -> str:
    return f"    output y: {ftype} = {expr}"


VEC, SPD3, ROT = "    input v: vector over set", "    input x: spd(3) over set", "O(3) x S(set)"
LZ, BALL = "lorentz(4, k=0.5) over set", "poincare(3, c=2.0) over set"


def spec(body: str, inputs: str, group: str = "S(set)", domain: str = "set(set)") -> str:
    dom = f"    domain {domain}\n" if domain else ""
    return f"model M() {{\n    symmetry {group}\n{dom}{inputs}\n{body}\n}}\n"


def compile64(body: str, inputs: str, group: str = "S(set)", domain: str = "set(set)"):
    return geoc_compile(spec(body, inputs, group, domain), dtype=torch.float64)


def geoopt_lorentz(k: float) -> geoopt.Lorentz:
    """geoopt's hyperboloid <x,x>_L = -1/k (geoopt's own k is 1/k), curvature in float64."""
    with float64_default():
        return geoopt.Lorentz(k=1 / k)


def geoopt_ball(c: float) -> geoopt.PoincareBall:
    with float64_default():
        return geoopt.PoincareBall(c=c)


def set_param(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    with torch.no_grad():
        module.get_parameter(name).copy_(value)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float64) * scale


# --- references written from the papers ------------------------------------------------------


def minkowski(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -x[..., 0] * y[..., 0] + (x[..., 1:] * y[..., 1:]).sum(-1)


def lorentz_point(space: torch.Tensor, k: float) -> torch.Tensor:
    time = torch.sqrt(1 / k + (space**2).sum(-1, keepdim=True))
    return torch.cat([time, space], -1)


def ref_lorentz_expmap0(v: torch.Tensor, k: float) -> torch.Tensor:
    """Radius R = 1/sqrt(k): exp_o(v) = (R cosh(|v|/R), R sinh(|v|/R) v/|v|)."""
    r, norm = 1 / math.sqrt(k), v.norm(dim=-1, keepdim=True)
    return torch.cat([r * torch.cosh(norm / r), r * torch.sinh(norm / r) * v / norm], -1)


def ref_lorentz_linear(x, weight, bias, log_scale, k, act):
    """Chen et al. (2022), Eq. 3: y = [sqrt(|phi|² - 1/K), phi], K = -k,
    phi = lambda sigma(v·h(x) + b') (W h(x) + b) / |W h(x) + b|."""
    h = act(x)
    v, w = weight[0], weight[1:]
    time_logit = h @ v + bias[0]
    space = h @ w.T + bias[1:]
    phi = math.exp(log_scale) * torch.sigmoid(time_logit)[..., None] * space
    phi = phi / space.norm(dim=-1, keepdim=True)
    return torch.cat([torch.sqrt((phi**2).sum(-1, keepdim=True) + 1 / k), phi], -1)


def ref_lorentz_mlr(x, a, z, k):
    """Bdeir et al. (2024), Eq. 9 with K = -k: v = (1/sqrt(-K)) sign(alpha) beta
    |asinh(sqrt(-K) alpha / beta)|, w_t = sinh(sqrt(-K) a)|z|, w_s = cosh(sqrt(-K) a) z,
    beta = sqrt(-w_t² + |w_s|²), alpha = -w_t x_t + <w_s, x_s>."""
    sk = math.sqrt(k)
    zn = z.norm(dim=-1)
    w_t, w_s = torch.sinh(sk * a) * zn, torch.cosh(sk * a)[:, None] * z
    beta = torch.sqrt(-(w_t**2) + (w_s**2).sum(-1))
    alpha = -w_t * x[..., :1] + x[..., 1:] @ w_s.T
    return torch.sign(alpha) * beta * (torch.asinh(sk * alpha / beta)).abs() / sk


def ref_centroid(points: torch.Tensor, k: float) -> torch.Tensor:
    """Law et al. (2019): mu = sqrt(beta) s / |<s,s>_L|^(1/2), beta = 1/k, s = sum of points."""
    s = points.sum(0)
    return s / (math.sqrt(k) * torch.sqrt(-minkowski(s, s)))[..., None]


def ref_mobius_add(x, y, c):
    """Ganea et al. (2018), Eq. 2."""
    xy, x2, y2 = (
        (x * y).sum(-1, keepdim=True),
        (x * x).sum(-1, keepdim=True),
        (y * y).sum(-1, keepdim=True),
    )
    return ((1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y) / (1 + 2 * c * xy + c**2 * x2 * y2)


def ref_poincare_mlr(x, p, a, c):
    """Ganea et al. (2018), Eq. 25."""
    diff = ref_mobius_add(-p, x[..., None, :], c)
    an = a.norm(dim=-1)
    lam = 2 / (1 - c * (p**2).sum(-1))
    arg = 2 * math.sqrt(c) * (diff * a).sum(-1) / ((1 - c * (diff**2).sum(-1)) * an)
    return lam * an / math.sqrt(c) * torch.asinh(arg)


def spd_batch(count: int, n: int, seed: int = 0) -> torch.Tensor:
    a = randn(count, n, n, seed=seed)
    return (a @ a.transpose(-1, -2) / n + 0.3 * torch.eye(n, dtype=torch.float64)).reshape(
        count, -1
    )


def eig_map(x: torch.Tensor, n: int, fn) -> torch.Tensor:
    values, vectors = np.linalg.eigh(x.reshape(-1, n, n).numpy())
    out = (vectors * fn(values)[:, None, :]) @ np.swapaxes(vectors, -1, -2)
    return torch.as_tensor(out.reshape(x.shape))


# --- Lorentz model ----------------------------------------------------------------------------

K = 0.5  # <x,x>_L = -1/k = -2; geoopt's Lorentz(k) has <x,x>_L = -k, so it is Lorentz(1/K)
LORENTZ_IN = "    input v: 4 x scalar over set\n    input z: lorentz(4, k=0.5) over set"


def lorentz_input(count: int = 6, seed: int = 1) -> torch.Tensor:
    return lorentz_point(randn(count, 4, seed=seed), K)


def test_lorentz_exp_and_log_equal_the_paper_and_geoopt() -> None:
    module = compile64(
        "    x = expmap0(v, manifold=lorentz(4, k=0.5))\n"
        "    output x: lorentz(4, k=0.5) over set = x\n"
        "    output t: 4 x scalar over set = logmap0(z)",
        LORENTZ_IN,
    )
    v, z = randn(6, 4, scale=1.5), lorentz_input()
    out = module(v=v, z=z)
    manifold = geoopt_lorentz(K)
    tangent = torch.cat([torch.zeros(6, 1, dtype=torch.float64), v], -1)
    assert torch.allclose(out["x"], ref_lorentz_expmap0(v, K), atol=ATOL, rtol=0)
    assert torch.allclose(out["x"], manifold.expmap0(tangent), atol=ATOL, rtol=0)
    assert torch.allclose(out["t"], manifold.logmap0(z)[:, 1:], atol=ATOL, rtol=0)
    assert torch.allclose(module(v=out["t"], z=z)["x"], z, atol=ATOL, rtol=0)  # exp∘log = id


@pytest.mark.parametrize("act", ["identity", "relu"])
def test_lorentz_linear_equals_the_paper(act: str) -> None:
    module = compile64(
        f"    output y: lorentz(3, k=0.5) over set = lorentz_linear(z, 3, act={act})", LORENTZ_IN
    )
    weight, bias = randn(4, 5, seed=2), randn(4, seed=3)
    set_param(module, "y.weight", weight)
    set_param(module, "y.bias", bias)
    set_param(module, "y.log_scale", torch.tensor(0.7, dtype=torch.float64))
    z = lorentz_input()
    fn = {"identity": lambda x: x, "relu": torch.relu}[act]
    expected = ref_lorentz_linear(z, weight, bias, 0.7, K, fn)
    y = module(v=randn(6, 4), z=z)["y"]
    assert torch.allclose(y, expected, atol=ATOL, rtol=0)
    assert geoopt_lorentz(K).check_point_on_manifold(y, atol=1e-12, rtol=1e-12)


def test_lorentz_act_equals_hcnn() -> None:
    module = compile64(
        "    output y: lorentz(4, k=0.5) over set = lorentz_act(z, relu)", LORENTZ_IN
    )
    z = lorentz_input()
    expected = lorentz_point(torch.relu(z[:, 1:]), K)
    assert torch.allclose(module(v=randn(6, 4), z=z)["y"], expected, atol=ATOL, rtol=0)


def test_lorentz_mlr_equals_the_paper() -> None:
    module = compile64("    output y: 3 x scalar over set = lorentz_mlr(z, 3)", LORENTZ_IN)
    a, zz = randn(3, seed=4), randn(3, 4, seed=5)
    set_param(module, "y.a", a)
    set_param(module, "y.z", zz)
    z = lorentz_input()
    expected = ref_lorentz_mlr(z, a, zz, K)
    assert torch.allclose(module(v=randn(6, 4), z=z)["y"], expected, atol=ATOL, rtol=0)


def test_lorentz_centroid_of_two_points_is_the_geodesic_midpoint() -> None:
    inputs = "    input a: lorentz(4, k=0.5) over set\n    input b: lorentz(4, k=0.5) over set"
    module = compile64(
        "    output m: lorentz(4, k=0.5) over set = lorentz_centroid(concat(a, b))", inputs
    )
    a, b = lorentz_input(seed=7), lorentz_input(seed=8)
    mid = module(a=a, b=b)["m"]
    assert torch.allclose(mid, ref_centroid(torch.stack([a, b]), K), atol=ATOL, rtol=0)
    manifold = geoopt_lorentz(K)
    d_am, d_bm, d_ab = manifold.dist(a, mid), manifold.dist(b, mid), manifold.dist(a, b)
    assert torch.allclose(d_am, d_bm, atol=1e-9) and torch.allclose(d_am + d_bm, d_ab, atol=1e-9)


def test_lorentz_centroid_over_edges_into_nodes() -> None:
    module = compile64(
        "    output m: lorentz(4, k=0.5) over nodes = "
        "lorentz_centroid(z[src], over=edges, into=nodes)",
        "    input z: lorentz(4, k=0.5) over nodes",
        "S(nodes)",
        "graph(nodes)",
    )
    z = lorentz_input(5)
    edges = torch.tensor([[0, 1, 2, 3, 0], [1, 1, 1, 2, 3]])  # node 1 gets 0, 1, 2; node 4 none
    out = module(z=z, edge_index=edges)["m"]
    assert torch.allclose(out[1], ref_centroid(z[[0, 1, 2]], K), atol=ATOL, rtol=0)
    assert torch.allclose(out[2], z[3], atol=ATOL, rtol=0)
    origin = torch.tensor([1 / math.sqrt(K), 0, 0, 0, 0], dtype=torch.float64)
    assert torch.allclose(out[[0, 4]], origin.expand(2, 5), atol=ATOL, rtol=0)  # no edge in


# --- Poincaré ball ----------------------------------------------------------------------------

C = 2.0
BALL_IN = (
    "    input v: 3 x scalar over set\n    input p: poincare(3, c=2.0) over set\n"
    "    input q: poincare(3, c=2.0) over set"
)


def ball_points(count: int = 6, seed: int = 1) -> torch.Tensor:
    return geoopt_ball(C).expmap0(randn(count, 3, seed=seed, scale=0.8))


def test_poincare_exp_log_and_mobius_add_equal_geoopt() -> None:
    module = compile64(
        "    output x: poincare(3, c=2.0) over set = expmap0(v, manifold=poincare(3, c=2.0))\n"
        "    output t: 3 x scalar over set = logmap0(p)\n"
        "    output s: poincare(3, c=2.0) over set = mobius_add(p, q)",
        BALL_IN,
    )
    ball = geoopt_ball(C)
    v, p, q = randn(6, 3), ball_points(seed=2), ball_points(seed=3)
    out = module(v=v, p=p, q=q)
    norm = v.norm(dim=-1, keepdim=True) * math.sqrt(C)
    assert torch.allclose(out["x"], torch.tanh(norm) * v / norm, atol=ATOL, rtol=0)  # Lemma 2
    assert torch.allclose(out["x"], ball.expmap0(v), atol=ATOL, rtol=0)
    assert torch.allclose(out["t"], ball.logmap0(p), atol=ATOL, rtol=0)
    assert torch.allclose(out["s"], ref_mobius_add(p, q, C), atol=ATOL, rtol=0)
    assert torch.allclose(out["s"], ball.mobius_add(p, q), atol=ATOL, rtol=0)


@pytest.mark.parametrize("act", ["identity", "tanh"])
def test_mobius_linear_equals_geoopt(act: str) -> None:
    module = compile64(
        f"    output y: poincare(2, c=2.0) over set = mobius_linear(p, 2, act={act})", BALL_IN
    )
    ball = geoopt_ball(C)
    weight, bias = randn(2, 3, seed=4), ball.expmap0(randn(2, seed=5, scale=0.3))
    set_param(module, "y.weight", weight)
    set_param(module, "y.bias", bias)
    p = ball_points()
    expected = ball.mobius_add(ball.mobius_matvec(weight, p), bias)
    if act == "tanh":
        expected = ball.expmap0(torch.tanh(ball.logmap0(expected)))
    out = module(v=randn(6, 3), p=p, q=p)["y"]
    assert torch.allclose(out, expected, atol=ATOL, rtol=0)


def test_poincare_mlr_equals_the_paper_and_geoopt() -> None:
    module = compile64("    output y: 4 x scalar over set = poincare_mlr(p, 4)", BALL_IN)
    ball = geoopt_ball(C)
    points, normals = ball.expmap0(randn(4, 3, seed=6, scale=0.4)), randn(4, 3, seed=7)
    set_param(module, "y.p", points)
    set_param(module, "y.a", normals)
    p = ball_points()
    out = module(v=randn(6, 3), p=p, q=p)["y"]
    assert torch.allclose(out, ref_poincare_mlr(p, points, normals, C), atol=ATOL, rtol=0)
    lam = 2 / (1 - C * (points**2).sum(-1))
    signed = ball.dist2plane(p[:, None, :], points, normals, signed=True, scaled=True)
    assert torch.allclose(out, lam * signed, atol=0, rtol=1e-8)  # geoopt clamps: ~1e-9


# --- SPD matrices and the sphere ----------------------------------------------------------------

SPD_IN = "    input x: 2 x spd(3) over set\n    input w: 3 x scalar over set"


def test_bimap_equals_wt_x_w_with_a_stiefel_weight() -> None:
    module = compile64("    output y: 2 x spd(2) over set = bimap(x, 2)", SPD_IN)
    weight = module.get_parameter("y.weight").detach()
    eye = torch.eye(2, dtype=torch.float64)
    gram = weight.transpose(-1, -2) @ weight  # initialised in float32, so to 1e-6
    assert torch.allclose(gram, eye.expand(2, 2, 2), atol=1e-6)
    x = spd_batch(10, 3).reshape(5, 2, 3, 3)
    expected = torch.einsum("cia,ncij,cjb->ncab", weight, x, weight).reshape(5, -1)
    out = module(x=x.reshape(5, -1), w=randn(5, 3))["y"]
    assert torch.allclose(out, expected, atol=ATOL, rtol=0)
    spd = geoopt.SymmetricPositiveDefinite()
    assert spd.check_point_on_manifold(out.reshape(5, 2, 2, 2))


def test_reeig_logeig_expmap0_and_eigvals_equal_their_definitions() -> None:
    module = compile64(
        "    output r: 2 x spd(3) over set = reeig(x, eps=0.5)\n"
        "    output l: 2 x sym(3) over set = logeig(x)\n"
        "    output e: 2 x spd(3) over set = expmap0(logeig(x), manifold=2 x spd(3))\n"
        "    output t: 2 x sym(3) over set = logmap0(x)\n"
        "    output v: 6 x scalar over set = eigvals(x)",
        SPD_IN,
    )
    x = spd_batch(8, 3).reshape(4, -1)
    out = module(x=x, w=randn(4, 3))
    mats = x.reshape(4, 2, 3, 3)
    assert torch.allclose(out["r"], eig_map(x, 3, lambda s: np.maximum(s, 0.5)), atol=ATOL)
    assert torch.allclose(out["l"], geoopt.linalg.sym_logm(mats).reshape(4, -1), atol=ATOL)
    assert torch.allclose(out["t"], out["l"], atol=ATOL)
    assert torch.allclose(out["e"], x, atol=1e-9)  # expm(logm(X)) = X
    expected = torch.as_tensor(np.linalg.eigvalsh(mats.numpy())).reshape(4, -1)
    assert torch.allclose(out["v"], expected, atol=ATOL)


def test_normalize_equals_geoopt_sphere_projection() -> None:
    module = compile64("    output u: unit(3) over set = normalize(w)", SPD_IN)
    w = randn(5, 3)
    out = module(x=spd_batch(10, 3).reshape(5, -1), w=w)["u"]
    assert torch.allclose(out, geoopt.Sphere().projx(w), atol=ATOL, rtol=0)


# --- equivariance (float64), with every value on its manifold ------------------------------------

EQUIVARIANT = [
    # (body, inputs, group): permutations of a set, and rotations where the contract allows
    (out(LZ, "expmap0(v, manifold=lorentz(4, k=0.5))"), LORENTZ_IN, "S(set)"),
    (out("4 x scalar over set", "logmap0(z)"), LORENTZ_IN, "S(set)"),
    (out("lorentz(2, k=0.5) over set", "lorentz_linear(z, 2, act=relu)"), LORENTZ_IN, "S(set)"),
    (out(LZ, "lorentz_act(z, silu)"), LORENTZ_IN, "S(set)"),
    (out("3 x scalar over set", "lorentz_mlr(z, 3)"), LORENTZ_IN, "S(set)"),
    (out("lorentz(4, k=0.5)", "lorentz_centroid(z, over=set)"), LORENTZ_IN, "S(set)"),
    (out("poincare(2, c=2.0) over set", "mobius_linear(p, 2, act=tanh)"), BALL_IN, "S(set)"),
    (out(BALL, "mobius_add(p, q)"), BALL_IN, "S(set)"),
    (out("4 x scalar over set", "poincare_mlr(p, 4)"), BALL_IN, "S(set)"),
    (out("2 x spd(2) over set", "bimap(x, 2)"), SPD_IN, "S(set)"),
    (out("unit(3) over set", "normalize(w)"), SPD_IN, "S(set)"),
    # rotations
    (out("lorentz(3) over set", "expmap0(v, manifold=lorentz(3))"), VEC, ROT),
    (out("vector over set", "logmap0(expmap0(v, manifold=poincare(3, c=2.0)))"), VEC, ROT),
    (out("lorentz(3)", "lorentz_centroid(expmap0(v, manifold=lorentz(3)), over=set)"), VEC, ROT),
    (
        "    a = expmap0(v, manifold=poincare(3))\n"
        + out("poincare(3) over set", "mobius_add(a, expmap0(u, manifold=poincare(3)))"),
        VEC + "\n    input u: vector over set",
        ROT,
    ),
    (out("2 x unit(3) over set", "normalize(v)"), "    input v: 2 x vector over set", ROT),
    (out("spd(3) over set", "reeig(x, eps=0.8)"), SPD3, ROT),
    (out("sym(3) over set", "logeig(x)"), SPD3, ROT),
    (out("spd(3) over set", "expmap0(logeig(x), manifold=spd(3))"), SPD3, ROT),
    (out("3 x scalar over set", "eigvals(x)"), SPD3, ROT),
]


@pytest.mark.parametrize(("body", "inputs", "group"), EQUIVARIANT)
def test_operator_is_equivariant_and_stays_on_its_manifold(
    body: str, inputs: str, group: str
) -> None:
    report = check_module(compile64(body, inputs, group), trials=4, sources={})
    assert report.passed, report.render()
    assert all(row.max_error < ATOL for row in report.outputs)
    assert all(row.error < 1e-12 for row in report.membership)


ISOLATED = """model M() {
    symmetry S(nodes)
    domain graph(nodes)
    input x: 2 x scalar over nodes
    output u: unit(2) over nodes = normalize(mean(x[src], over=edges, into=nodes))
}
"""


def test_normalize_keeps_zero_and_membership_skips_it() -> None:
    """Found by the soundness fuzzer (issue 12): an isolated node's mean over no edges is 0, and
    `normalize(0) = 0` (the only equivariant choice). The rows with edges are on the sphere;
    the check's membership rule skips the exact zero instead of failing it."""
    module = geoc_compile(ISOLATED, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    edges = torch.tensor([[0, 1, 2], [1, 2, 0]])  # node 3 has no incoming edge
    u = module(x=x, edge_index=edges)["u"]
    assert torch.equal(u[3], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(u[:3].norm(dim=-1), torch.ones(3, dtype=torch.float64))
    ftype = FeatureType.parse("unit(2) over nodes")
    assert membership_error(u, ftype, module.meta["geoc_ir"].group) < 1e-12  # rounding only
    assert membership_error(u + 1e-3, ftype, module.meta["geoc_ir"].group) > 1e-4
