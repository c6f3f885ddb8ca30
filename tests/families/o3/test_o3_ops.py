# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The O(3) operators: typing rules (good types, and each error's code and primary span), the
numbers against a reference (e3nn where it has the operator, else plain PyTorch written from
the paper), and float64 equivariance under O(3) with reflections and node permutations.

``@`` in a test body marks where the primary span of the expected diagnostic must start."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cases import cases, values
from e3nn import o3
from e3nn.nn import NormActivation
from helpers import InlineSpec, header
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.o3.tp_conv import TP_CONV_ALGORITHMS
from geoc.backends.torch_fx.verify import check_module
from geoc.diagnostics import GeoError
from geoc.groups import Group, GroupElement, random_rotation
from geoc.o3 import irrep_matrix
from geoc.pipeline import frontend
from geoc.types import PSEUDOVECTOR, VECTOR, irrep

HERE = Path(__file__).parent

E3 = "E(3) x S(nodes)"
CLOUD = "pointcloud(nodes, dim=3, edges=full)"
X = "4x0e + 2x0o + 4x1o + 2x2e"

# The statements under test start on line 15.
HEADER = header("c: int = 4", values(HERE / "test_o3_ops.cases", "header"))


SPEC = InlineSpec(HEADER, E3, CLOUD, value="q")  # `y` is an input here
model, infer, assert_error = SPEC.text, SPEC.infer, SPEC.assert_error


# ---------------------------------------------------------------------------------------------
# Typing: good inputs

GOOD = [
    ("spherical_harmonics(r, lmax=3)", "1x0e + 1x1o + 1x2e + 1x3o over edges"),
    ("spherical_harmonics(r, lmax=0, normalize=false)", "1x0e over edges"),
    ("spherical_harmonics(pv, lmax=2)", "1x0e + 1x1e + 1x2e over nodes"),  # parity 1^l
    ("radial_basis(norm(r), n=8, cutoff=5.0)", "8 x scalar over edges"),
    ("tensor_product(x, v, out=4x1o + 2x1e + 2x0e)", "4x1o + 2x1e + 2x0e over nodes"),
    ("tensor_product(x, g, out=3x0e)", "3x0e over nodes"),  # a global value broadcasts
    ("tensor_product(y, y, out=0e + 1e + 2e)", "1x0e + 1x1e + 1x2e over nodes"),
    ("gate(x)", f"{X} over nodes"),
    ("gate(concat(y, s))", "2x0e + 3x1o + 4 x scalar over nodes"),  # gates: 2x0e, then s
    ("norm_act(x, act=tanh)", f"{X} over nodes"),
    ("layer_norm(x)", f"{X} over nodes"),
    ("layer_norm(v)", "2 x vector over nodes"),
    ("tp_conv(x, sh, w, out=c x 0e + c x 1o + 2x2e)", "4x0e + 4x1o + 2x2e over nodes"),
    ("tp_conv(s, sh, w, out=4x0e + 4x2e, hidden=8, algorithm=cg)", "4x0e + 4x2e over nodes"),
]


@pytest.mark.parametrize(("expr", "expected"), GOOD)
def test_good_types(expr: str, expected: str) -> None:
    assert infer(expr) == expected


def test_without_reflections_parity_is_no_rule() -> None:
    """1o x 1o -> 1o (the cross product) is a path under SO(3), not under O(3)."""
    assert infer("tensor_product(v, v, out=2x1o)", "SO(3) x S(nodes)") == "2x1o over nodes"
    assert infer("tp_conv(y, sh, w, out=3x1e)", "SE(3) x S(nodes)") == "3x1e over nodes"


# ---------------------------------------------------------------------------------------------
# Typing: errors, each at its span

BAD = cases(HERE / "test_o3_ops.cases", "bad")


@pytest.mark.parametrize(("body", "code"), BAD)
def test_errors(body: str, code: str) -> None:
    assert_error(body, code)


def test_gate_error_names_the_fix() -> None:
    with pytest.raises(GeoError) as info:
        frontend(model("    q = gate(y)"))
    diag = info.value.diagnostics[0]
    assert "one even scalar per copy, 3 in all, but `x` has 2" in diag.message
    assert "3x0e" in diag.help


def test_irreps_need_a_three_dimensional_group() -> None:
    text = """model M() {
    symmetry E(2)
    input x: 2x0e + 1x1o
    output y: 2x0e + 1x1o = gate(x)
    output z: 1x0e = tensor_product(x, x, out=0e)
}
"""
    with pytest.raises(GeoError) as info:
        frontend(text)
    assert info.value.codes[0] == "GEO309"


def test_tp_conv_needs_edges() -> None:
    text = """model M() {
    symmetry O(3) x S(nodes)
    domain set(nodes)
    input h: 2x0e over nodes
    input sh: 0e + 1o over nodes
    input w: 3 x scalar over nodes
    output y: 2x0e over nodes = tp_conv(h, sh, w, out=2x0e)
}
"""
    with pytest.raises(GeoError) as info:
        frontend(text)
    assert info.value.codes == ["GEO203"]


# ---------------------------------------------------------------------------------------------
# Numbers against references

N = 5  # nodes; a full edge set has N^2 pairs (self pairs masked)


def _compile(body: str, inputs: str, group: str = E3) -> torch.fx.GraphModule:
    text = f"""model M() {{
    symmetry {group}
    domain {CLOUD}
    input pos: point(3) over nodes
{inputs}
{body}
}}
"""
    return geoc_compile(text, dtype=torch.float64)


def _set(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    with torch.no_grad():
        module.get_parameter(name).copy_(value)


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """src, dst of the static full edge layout of one graph: the distinct pairs."""
    return rt._distinct_pairs(N, torch.device("cpu"))


def _with_coincident(pos: torch.Tensor) -> torch.Tensor:
    """Node 1 on node 0: edges 0 -> 1 and 1 -> 0 have r = 0."""
    pos[1] = pos[0]
    return pos


@pytest.mark.parametrize("normalize", [True, False])
def test_spherical_harmonics_equal_e3nn(normalize: bool) -> None:
    flag = "true" if normalize else "false"
    module = _compile(
        f"    output y: 0e + 1o + 2e + 3o + 4e over edges = "
        f"spherical_harmonics(pos[dst] - pos[src], lmax=4, normalize={flag})",
        "",
    )
    pos = _with_coincident(torch.randn(N, 3, dtype=torch.float64))
    src, dst = _pairs()
    r = pos[dst] - pos[src]  # includes r = 0 between the coincident points
    expected = o3.spherical_harmonics(list(range(5)), r, normalize, normalization="component")
    assert torch.allclose(module(pos=pos)["y"], expected, atol=1e-12, rtol=1e-12)


def bessel_reference(d: torch.Tensor, n: int, c: float, p: int = 6) -> torch.Tensor:
    """DimeNet (Klicpera et al. 2020) eqs. 7-8: e_k(d) = sqrt(2/c) sin(k pi d / c) / d times
    u(d/c) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2) below the cutoff."""
    k = torch.arange(1, n + 1, dtype=d.dtype)
    basis = math.sqrt(2 / c) * torch.sin(k * math.pi * d / c) / d
    x = d / c
    u = (
        1
        - (p + 1) * (p + 2) / 2 * x**p
        + p * (p + 2) * x ** (p + 1)
        - p * (p + 1) / 2 * x ** (p + 2)
    )
    return basis * torch.where(x < 1, u, torch.zeros_like(u))


def test_radial_basis_equals_the_paper() -> None:
    module = _compile(
        "    output y: 6 x scalar over edges = "
        "radial_basis(norm(pos[dst] - pos[src]), n=6, cutoff=2.5)",
        "",
    )
    pos = _with_coincident(torch.randn(N, 3, dtype=torch.float64))
    src, dst = _pairs()
    d = (pos[dst] - pos[src]).norm(dim=-1, keepdim=True)
    got = module(pos=pos)["y"]
    off = d[:, 0] != 0
    assert torch.allclose(got[off], bessel_reference(d[off], 6, 2.5), atol=1e-12)
    at_zero = math.sqrt(2 / 2.5) * torch.arange(1, 7, dtype=torch.float64) * math.pi / 2.5
    assert int((~off).sum()) == 2
    assert torch.allclose(got[~off], at_zero.expand(2, 6), atol=1e-12)  # the d -> 0 limit


def test_radial_basis_is_smooth_at_the_cutoff_and_zero() -> None:
    from geoc.backends.torch_fx.o3 import kernels as rt_o3

    d = torch.tensor([[0.0], [2.0 - 1e-7], [2.0], [3.0]], dtype=torch.float64, requires_grad=True)
    out = rt_o3.bessel_basis(d, 4, 2.0)
    (grad,) = torch.autograd.grad(out.sum(), d)
    assert torch.isfinite(grad).all() and torch.isfinite(out).all()
    assert out[1:].abs().max() < 1e-10 and grad[1:].abs().max() < 1e-10


def test_linear_on_irreps_equals_e3nn_linear() -> None:
    """e3nn's Linear multiplies each path by 1/sqrt(fan_in) (the copies of that irrep in the
    input); geoc's weight is that product: W_geoc[key] = w_e3nn[key].T / sqrt(fan_in)."""
    irreps_in, irreps_out = o3.Irreps("3x0e + 2x1o + 2x2e"), o3.Irreps("2x0e + 3x1o + 1x2e")
    module = _compile(
        f"    output y: {irreps_out} over nodes = linear(x, {irreps_out})",
        f"    input x: {irreps_in} over nodes",
    )
    with float64_default():
        ref = o3.Linear(irreps_in, irreps_out, biases=True)
        torch.nn.init.normal_(ref.bias)
    # One instruction per irrep, weights [mul_in, mul_out] in order (weight_views trips on
    # e3nn's bias instructions).
    blocks = ref.weight.detach().split([3 * 2, 2 * 3, 2 * 1])
    for key, block, (mul_in, mul_out) in zip(
        ("0e", "1o", "2e"), blocks, ((3, 2), (2, 3), (2, 1)), strict=True
    ):
        _set(module, f"y.weight_{key}", block.reshape(mul_in, mul_out).T / math.sqrt(mul_in))
    _set(module, "y.bias_0e", ref.bias.detach())
    x = irreps_in.randn(N, -1, dtype=torch.float64)
    assert torch.allclose(
        module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"], ref(x), atol=1e-12
    )


def gate_reference(x: torch.Tensor, terms: list[tuple[int, int, int]]) -> torch.Tensor:
    """Even scalars silu, odd scalars tanh, copy i of a non-scalar term times sigmoid(s_i)."""
    even = torch.cat(
        [
            x[:, a : a + m]
            for (m, l, p), a in zip(terms, _offsets(terms), strict=True)
            if (l, p) == (0, 1)
        ],
        1,
    )
    out = []
    for (mul, l, p), at in zip(terms, _offsets(terms), strict=True):
        block = x[:, at : at + mul * (2 * l + 1)]
        if l == 0:
            out.append(F.silu(block) if p == 1 else torch.tanh(block))
        else:
            gates = torch.sigmoid(even[:, :mul]).repeat_interleave(2 * l + 1, dim=1)
            out.append(block * gates)
    return torch.cat(out, 1)


def _offsets(terms: list[tuple[int, int, int]]) -> list[int]:
    starts, at = [], 0
    for mul, l, _ in terms:
        starts.append(at)
        at += mul * (2 * l + 1)
    return starts


def test_gate_equals_reference() -> None:
    terms = [(4, 0, 1), (2, 0, -1), (4, 1, -1), (2, 2, 1)]
    module = _compile(f"    output y: {X} over nodes = gate(x)", f"    input x: {X} over nodes")
    x = torch.randn(N, o3.Irreps(X).dim, dtype=torch.float64)
    assert torch.allclose(
        module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"], gate_reference(x, terms)
    )


def test_norm_act_equals_e3nn_norm_activation() -> None:
    """Even scalars through the activation; the other copies as e3nn's NormActivation with a
    bias (geoc is exactly 0 at the origin, e3nn clamps |x| below 1e-8)."""
    rest = "2x0o + 4x1o + 2x2e"
    module = _compile(
        f"    output y: {X} over nodes = norm_act(x, act=softplus)", f"    input x: {X} over nodes"
    )
    ref = NormActivation(o3.Irreps(rest), F.softplus, bias=True).to(torch.float64)
    bias = torch.randn(8, dtype=torch.float64)
    _set(module, "y.bias", bias)
    with torch.no_grad():
        ref.biases.copy_(bias)
    x = torch.randn(N, o3.Irreps(X).dim, dtype=torch.float64)
    expected = torch.cat([F.softplus(x[:, :4]), ref(x[:, 4:])], 1)
    assert torch.allclose(
        module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"], expected, atol=1e-12
    )


def test_norm_act_is_safe_at_zero() -> None:
    module = _compile(
        f"    output y: {X} over nodes = norm_act(x, act=silu)", f"    input x: {X} over nodes"
    )
    x = torch.zeros(N, o3.Irreps(X).dim, dtype=torch.float64, requires_grad=True)
    out = module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"]
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(out, torch.zeros_like(out)) and torch.isfinite(grad).all()


def layer_norm_reference(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """X = 4x0e + 2x0o + 4x1o + 2x2e with unit scales and zero shifts: the even scalars
    centred and divided by their RMS; each other irrep type divided by sqrt(mean |v|^2 + eps)."""
    s, o, v, t = x.split([4, 2, 12, 10], dim=1)
    s = s - s.mean(1, keepdim=True)
    parts = [s / (s.pow(2).mean(1, keepdim=True) + eps).sqrt()]
    for block, dim in ((o, 1), (v, 3), (t, 5)):
        copies = block.reshape(N, -1, dim)
        rms = (copies.pow(2).sum(-1).mean(-1) + eps).sqrt()
        parts.append(block / rms[:, None])
    return torch.cat(parts, 1)


def test_layer_norm_equals_reference() -> None:
    module = _compile(
        f"    output y: {X} over nodes = layer_norm(x)", f"    input x: {X} over nodes"
    )
    x = torch.randn(N, o3.Irreps(X).dim, dtype=torch.float64) * 3 + 1
    got = module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"]
    assert torch.allclose(got, layer_norm_reference(x), atol=1e-12)
    weight, bias = torch.randn(12, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    _set(module, "y.weight", weight)
    _set(module, "y.bias", bias)
    scale = torch.repeat_interleave(weight, torch.tensor([1] * 6 + [3] * 4 + [5] * 2))
    shift = torch.cat([bias, torch.zeros(24, dtype=torch.float64)])
    got = module(pos=torch.randn(N, 3, dtype=x.dtype), x=x)["y"]
    assert torch.allclose(got, layer_norm_reference(x) * scale + shift, atol=1e-12)


def _tp_module(a: str, b: str, out: str, mode: str) -> torch.fx.GraphModule:
    return _compile(
        f"    output y: {out} over nodes = tensor_product(a, b, out={out}, mode={mode})",
        f"    input a: {a} over nodes\n    input b: {b} over nodes",
    )


def _tp_inputs(a: str, b: str) -> dict[str, torch.Tensor]:
    dims = (o3.Irreps(a).dim, o3.Irreps(b).dim)
    return {"pos": torch.randn(N, 3, dtype=torch.float64)} | {
        k: torch.randn(N, d, dtype=torch.float64) for k, d in zip("ab", dims, strict=True)
    }


def test_tensor_product_full_equals_e3nn() -> None:
    """`mode=full` is e3nn's FullyConnectedTensorProduct, same flat weight vector."""
    a, b, out = "3x0e + 2x1o + 1x2e", "2x0e + 1x1o + 1x2e", "2x0e + 3x1o + 1x1e + 2x2e"
    module = _tp_module(a, b, out, "full")
    with float64_default():
        ref = o3.FullyConnectedTensorProduct(a, b, out)
    _set(module, "y.weight", ref.weight.detach())
    inputs = _tp_inputs(a, b)
    expected = ref(inputs["a"], inputs["b"])
    assert torch.allclose(module(**inputs)["y"], expected, atol=1e-12)


def test_tensor_product_channelwise_equals_e3nn_uvu() -> None:
    """`mode=channelwise` is e3nn's TensorProduct with a "uvu" instruction for every allowed
    path whose output multiplicity is that of `a`'s term."""
    a, b, out = "3x0e + 3x1o + 3x2e", "0e + 1o + 2e", "3x0e + 3x1o + 3x1e + 3x2e"
    ia, ib, io = (o3.Irreps(t) for t in (a, b, out))
    instructions = [
        (i1, i2, k, "uvu", True)
        for i1, (m1, ir1) in enumerate(ia)
        for i2, (_, ir2) in enumerate(ib)
        for k, (mk, irk) in enumerate(io)
        if irk in ir1 * ir2 and mk == m1
    ]
    module = _tp_module(a, b, out, "channelwise")
    with float64_default():
        ref = o3.TensorProduct(ia, ib, io, instructions)
    _set(module, "y.weight", ref.weight.detach())
    inputs = _tp_inputs(a, b)
    assert torch.allclose(module(**inputs)["y"], ref(inputs["a"], inputs["b"]), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Equivariance: float64, O(3) with reflections (every other trial), node permutations

EQUIVARIANT = {
    "spherical_harmonics": "sh6 = spherical_harmonics(r, lmax=6)\n"
    "    output y: 0e + 1o + 2e + 3o + 4e + 5o + 6e over edges = sh6",
    "radial_basis": "output y: 8 x scalar over edges = w",
    "gate": f"output y: {X} over nodes = gate(x)",
    "norm_act": f"output y: {X} over nodes = norm_act(x, act=silu)",
    "layer_norm": f"output y: {X} over nodes = layer_norm(x)",
    "linear": "output y: 3x1o + 2x0e over nodes = linear(x, 3x1o + 2x0e)",
    "tensor_product": "output y: 2x0e + 3x1e + 2x2o + 1x3e over nodes = "
    "tensor_product(x, b, out=2x0e + 3x1e + 2x2o + 1x3e)",
    "tensor_product_channelwise": "output y: 4x1o + 4x1e + 4x2e over nodes = "
    "tensor_product(x, b, out=4x1o + 4x1e + 4x2e, mode=channelwise)",
    "tp_conv": "output y: 3x0e + 2x1o + 2x1e + 2x2e + 1x3o over nodes = "
    "tp_conv(x, sh, w, out=3x0e + 2x1o + 2x1e + 2x2e + 1x3o, hidden=8)",
}
EQUIVARIANT_INPUTS = f"""    input x: {X} over nodes
    input b: 0e + 1o + 2e over nodes
    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax=3)
    w = radial_basis(norm(r), n=8, cutoff=3.0)
"""


def assert_equivariant(module: torch.fx.GraphModule, graphs: int = 1) -> None:
    report = check_module(module, trials=4, graphs=graphs, atol=1e-10, every_value=True)
    assert report.passed, report.render()
    assert "rotation+reflection" in report.render() and "permutation" in report.render()


@pytest.mark.parametrize("op", list(EQUIVARIANT))
def test_equivariance(op: str) -> None:
    assert_equivariant(_compile("    " + EQUIVARIANT[op], EQUIVARIANT_INPUTS))


def test_equivariance_with_a_batch_of_graphs() -> None:
    assert_equivariant(_compile("    " + EQUIVARIANT["tp_conv"], EQUIVARIANT_INPUTS), graphs=3)


@pytest.mark.parametrize(
    "body",
    [
        "output y: 2x1o over nodes = tensor_product(v, v, out=2x1o)",  # the cross product
        "output y: 4x1o + 2x2o over nodes = tp_conv(x, sh, w, out=4x1o + 2x2o, hidden=8)",
    ],
)
def test_equivariance_without_reflections(body: str) -> None:
    """Under SE(3) every triangle path is used, parity-violating ones included."""
    inputs = EQUIVARIANT_INPUTS + "    input v: 2 x vector over nodes\n"
    module = _compile("    " + body, inputs, group="SE(3) x S(nodes)")
    report = check_module(module, trials=4, atol=1e-10, every_value=True)
    assert report.passed, report.render()
    assert module(**_random_inputs(module))["y"].abs().max() > 1e-3  # not identically zero


def _random_inputs(module: torch.fx.GraphModule) -> dict[str, torch.Tensor]:
    ir = module.meta["geoc_ir"]
    return {
        name: torch.randn(N, ir.group.type_dim(port.type), dtype=torch.float64)
        for name, port in ir.inputs.items()
    }


# ---------------------------------------------------------------------------------------------
# How irreps transform, and how tp_conv picks its lowering


def test_irrep_matrices_follow_the_group() -> None:
    """O(3): Wigner D with parity (1o is a vector, 1e a pseudovector); SO(3) drops parity as
    it does for pseudovectors; irreps need a 3-D group."""
    rot = random_rotation(np.random.default_rng(1), 3, reflect=True)
    element = GroupElement(rotation=rot)
    o3_group, so3 = Group.parse("E(3)"), Group.parse("SO(3)")
    assert np.allclose(
        o3_group.atom_matrix(irrep(1, -1), element), o3_group.atom_matrix(VECTOR, element)
    )
    assert np.allclose(
        o3_group.atom_matrix(irrep(1, 1), element), o3_group.atom_matrix(PSEUDOVECTOR, element)
    )
    assert np.allclose(o3_group.atom_matrix(irrep(2, -1), element), irrep_matrix(2, -1, rot))
    assert np.allclose(
        so3.atom_matrix(irrep(1, 1), element), so3.atom_matrix(PSEUDOVECTOR, element)
    )
    assert np.allclose(so3.atom_matrix(irrep(3, 1), element), irrep_matrix(3, -1, rot))
    with pytest.raises(ValueError, match="R\\^3"):
        Group.parse("O(2)").atom_matrix(irrep(1, -1), GroupElement(rotation=np.eye(2)))


def test_tp_conv_algorithms_compute_one_function() -> None:
    """`algorithm=cg` and `auto` (and every registered algorithm) give the same numbers."""
    out = "3x0e + 2x1o + 2x2e"
    body = (
        f"    output y: {out} over nodes = tp_conv(x, sh, w, out={out}, hidden=8, algorithm={{}})"
    )
    first = _compile(body.format("cg"), EQUIVARIANT_INPUTS)
    inputs = _random_inputs(first)
    outputs = {
        name: _compile(body.format(name), EQUIVARIANT_INPUTS)(**inputs)["y"]
        for name in ["auto", *TP_CONV_ALGORITHMS]
    }
    for name, value in outputs.items():
        assert torch.allclose(value, outputs["cg"], atol=1e-12), name


def test_tp_conv_of_a_linear_map_keeps_both_weights() -> None:
    """`tp_conv(linear(h, ...), ...)`: the argument's weights (`<id>.linear.*`) and the
    convolution's own map to `out` (`<id>.update.*`) are different parameters."""
    out = "4x0e + 4x1o"
    body = f"    output y: {out} over nodes = tp_conv(linear(x, {out}), sh, w, out={out})"
    names = {name for name, _ in _compile(body, EQUIVARIANT_INPUTS).named_parameters()}
    assert {"y.linear.weight_0e", "y.update.weight_0e"} <= names
