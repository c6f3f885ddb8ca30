# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The SO(2) lowering of `tp_conv` (eSCN, docs/escn.md): the same function as the CG lowering,
to rounding, for lmax 1..6; e3nn's uvu TensorProduct as an independent reference; the edge
frames (Wigner matrices, either pole, zero and tiny vectors, any roll angle); O(3)
equivariance; gradients at the poles; graph capture; and the cost model's choices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from e3nn import o3 as e3o3

import geoc.backends.torch_fx.o3.escn as escn
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.o3 import so2_kernels as runtime_so2
from geoc.backends.torch_fx.o3 import tp_conv
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.groups import Group
from geoc.o3 import wigner_3j, wigner_D
from geoc.ops.o3 import ConvPaths, conv_paths
from geoc.types import FeatureType

F64 = torch.float64
Y = torch.tensor([0.0, 1.0, 0.0], dtype=F64)


pytestmark = pytest.mark.usefixtures("one_thread")


def _irreps(lmax: int, mul: int, parities: str = "eo") -> str:
    return " + ".join(f"{mul}x{l}{p}" for l in range(lmax + 1) for p in parities)


def _sh_irreps(lmax: int) -> str:
    return " + ".join(f"{l}{'eo'[l % 2]}" for l in range(lmax + 1))


def _spec(lmax: int, algorithm: str, mul: int = 2, sh: str = "") -> str:
    irreps = _irreps(lmax, mul)
    sh = sh or f"spherical_harmonics(r, lmax={lmax})"
    return f"""
model Conv() {{
    symmetry E(3) x S(nodes)
    domain graph(nodes)
    input h: {irreps} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    sh = {sh}
    w = radial_basis(norm(r), n=4, cutoff=4.0)
    output y: {irreps} over nodes = tp_conv(h, sh, w, out={irreps}, hidden=8, algorithm={algorithm})
}}"""


def _graph(lmax: int, mul: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random graph whose edges include both poles (±ŷ: 0 - 1, 0 - 2), a tiny edge (1e-9:
    0 -> 3) and a self-loop (zero vector: 4 -> 4); the random edges join nodes 5..8."""
    gen = torch.Generator().manual_seed(seed)
    n = 9
    pos = torch.randn(n, 3, generator=gen, dtype=F64)
    tiny = 1e-9 * torch.randn(3, generator=gen, dtype=F64)
    pos[1], pos[2], pos[3] = pos[0] + Y, pos[0] - 0.5 * Y, pos[0] + tiny  # x, z copied: exact poles
    src, dst = torch.randint(5, n, (2, 30), generator=gen)
    keep = src != dst  # the one self-loop is 4 -> 4
    src = torch.cat([torch.tensor([0, 1, 0, 2, 4, 0]), src[keep]])
    dst = torch.cat([torch.tensor([1, 0, 2, 0, 4, 3]), dst[keep]])
    dim = sum(2 * mul * (2 * l + 1) for l in range(lmax + 1))
    h = torch.randn(n, dim, generator=gen, dtype=F64)
    return {"h": h, "pos": pos, "edge_index": torch.stack([src, dst])}


# ---------------------------------------------------------------------------------------------
# edge frames


def _directions() -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(64, 3, generator=gen, dtype=F64)
    special = [Y, -Y, 3 * Y, torch.tensor([1e-12, -1.0, 0.0], dtype=F64), 1e-200 * v[0], v[1]]
    return torch.cat([torch.stack(special), v])


def test_edge_rotation_maps_y_to_the_direction() -> None:
    v = _directions()
    r = runtime_so2.edge_rotation(v)
    assert torch.allclose(r.transpose(1, 2) @ r, torch.eye(3, dtype=F64).expand_as(r), atol=1e-14)
    assert torch.allclose(torch.linalg.det(r), torch.ones(len(v), dtype=F64), atol=1e-14)
    unit = v / v.abs().amax(-1, keepdim=True)  # no underflow at 1e-200
    unit = unit / unit.norm(dim=-1, keepdim=True)
    assert torch.allclose(r[:, :, 1], unit, atol=1e-14)
    assert torch.equal(
        runtime_so2.edge_rotation(torch.zeros(1, 3, dtype=F64))[0], torch.eye(3, dtype=F64)
    )


def test_wigner_matrices_equal_geoc_o3() -> None:
    r = runtime_so2.edge_rotation(_directions())
    couplings = [
        torch.from_numpy(math.sqrt(2 * l + 1) * wigner_3j(l - 1, 1, l)) for l in range(2, 9)
    ]
    matrices = runtime_so2.wigner_matrices(r, couplings)
    for l, d in enumerate(matrices):
        np.testing.assert_allclose(d.numpy(), wigner_D(l, r.numpy()), atol=1e-13)


def test_every_path_couples_plus_minus_m() -> None:
    """C^{l1 l2 l3}[m1, 0, m] is non-zero only at m1 = m (l1 + l2 + l3 even) or -m (odd)."""
    for l1 in range(7):
        for l2 in range(7):
            for l3 in range(abs(l1 - l2), min(l1 + l2, 6) + 1):
                escn.polar_coupling(l1, l2, l3)  # asserts the structure


# ---------------------------------------------------------------------------------------------
# the same function as cg and as e3nn


@pytest.mark.parametrize("lmax", range(1, 7))
def test_so2_equals_cg(lmax: int) -> None:
    """Both lowerings of one spec, same seed (same parameters), float64; forward and forces."""
    cg, so2 = (geoc_compile(_spec(lmax, a), seed=3, dtype=F64) for a in ("cg", "so2"))
    inputs = _graph(lmax, seed=lmax)
    outputs = []
    for model in (cg, so2):
        pos = inputs["pos"].clone().requires_grad_()
        y = model(**{**inputs, "pos": pos})["y"]
        (force,) = torch.autograd.grad(y.pow(2).sum(), pos)
        outputs.append((y.detach(), force))
    (y_cg, f_cg), (y_so2, f_so2) = outputs
    assert (y_cg - y_so2).abs().max() < 1e-10 * max(1.0, y_cg.abs().max())
    assert torch.isfinite(f_so2).all()
    # Away from the tiny edge (0 - 3: d r̂ / d pos ~ 1e9 in both) and the self-loop (4: the
    # harmonics' gradient at 0 is 1e12 in cg, so its force there carries rounding noise).
    assert torch.allclose(f_cg[[1, 2, 5, 6, 7, 8]], f_so2[[1, 2, 5, 6, 7, 8]], atol=1e-10)


def test_float32_so2_agrees_with_cg() -> None:
    """The benchmark's dtype: both lowerings agree to float32 rounding at lmax 4."""
    cg, so2 = (geoc_compile(_spec(4, a), seed=3) for a in ("cg", "so2"))
    inputs = {k: v.float() if v.is_floating_point() else v for k, v in _graph(4).items()}
    y_cg, y_so2 = cg(**inputs)["y"], so2(**inputs)["y"]
    assert (y_cg - y_so2).abs().max() < 1e-5 * y_cg.abs().max()


def _paths(lmax: int, mul: int, group: str = "O(3)", sh_lmax: int | None = None) -> ConvPaths:
    h = FeatureType.parse(_irreps(lmax, mul) + " over nodes")
    sh = FeatureType.parse(_sh_irreps(lmax if sh_lmax is None else sh_lmax) + " over edges")
    return conv_paths(h, sh, h.with_axes(()), Group.parse(group))


def _so2_kernel(paths: ConvPaths, x, sh, weights, wigner=None) -> torch.Tensor:
    """The SO(2) messages in e3nn's mid layout, straight from the plan (no fx)."""
    plan = escn.so2_plan(paths)
    if wigner is None:
        couplings = [
            torch.from_numpy(math.sqrt(2 * l + 1) * wigner_3j(l - 1, 1, l))
            for l in range(2, plan.lmax + 1)
        ]
        wigner = runtime_so2.edge_wigner(sh, plan.sh_l1, couplings)
    edges = (torch.arange(len(x)), torch.arange(len(x)), None)  # one node per edge: no sum
    return runtime_so2.so2_conv(
        x, sh, weights, wigner, edges, len(x), plan.runs, plan.sh_blocks,
        torch.from_numpy(plan.weight_order), torch.from_numpy(plan.sh_of_weight),
        [torch.from_numpy(m) for m in plan.mixers], plan.outputs,
        torch.from_numpy(plan.mid_order),
    )  # fmt: skip


def _e3nn_reference(paths: ConvPaths) -> e3o3.TensorProduct:
    def text(irreps):
        return " + ".join(f"{m}x{l}{'e' if p == 1 else 'o'}" for m, l, p in irreps)

    instructions = [(i1, i2, k, "uvu", True) for i1, i2, k in paths.paths]
    before = torch.get_default_dtype()
    torch.set_default_dtype(F64)  # e3nn builds its 3j tables in the default dtype
    try:
        return e3o3.TensorProduct(
            text(paths.in1), text(paths.in2), text(paths.mid), instructions,
            shared_weights=False, internal_weights=False,
        )  # fmt: skip
    finally:
        torch.set_default_dtype(before)


def _edge_inputs(tp: e3o3.TensorProduct, edges: int = 40, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    r = torch.randn(edges, 3, generator=gen, dtype=F64)
    r[0], r[1], r[2], r[3] = Y, -2 * Y, 0.0, 1e-9 * r[3]
    sh = e3o3.spherical_harmonics(tp.irreps_in2, r, normalize=True, normalization="component")
    sh = sh.reshape(edges, tp.irreps_in2.dim)
    x = torch.randn(edges, tp.irreps_in1.dim, generator=gen, dtype=F64)
    weights = torch.randn(edges, tp.weight_numel, generator=gen, dtype=F64)
    return x, sh, weights


@pytest.mark.parametrize(
    ("lmax", "group", "sh_lmax"), [(3, "O(3)", 3), (5, "O(3)", 5), (3, "SO(3)", 3), (2, "O(3)", 0)]
)
def test_so2_equals_e3nn_tensor_product(lmax: int, group: str, sh_lmax: int) -> None:
    """Messages against e3nn's uvu TensorProduct with per-sample weights (SO(3): every
    irrep even, so the odd `l1 + l2 + l_out` paths such as the cross product appear; harmonics
    `0e` alone: no direction to read, the identity frame serves)."""
    paths = _paths(lmax, 2, group, sh_lmax)
    tp = _e3nn_reference(paths)
    x, sh, weights = _edge_inputs(tp)
    expected = tp(x, sh, weights)
    assert (
        _so2_kernel(paths, x, sh, weights) - expected
    ).abs().max() < 1e-12 * expected.abs().max()


def test_result_is_independent_of_the_roll_angle() -> None:
    """Any R with R ŷ = r̂ gives the same messages: compose the frames with random rolls."""
    paths = _paths(4, 2)
    tp = _e3nn_reference(paths)
    x, sh, weights = _edge_inputs(tp, seed=5)
    rotation = runtime_so2.edge_rotation(sh[:, 1:4])
    angle = torch.rand(len(x), generator=torch.Generator().manual_seed(2), dtype=F64) * 2 * math.pi
    c, s, zero, one = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    roll = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], -1).reshape(-1, 3, 3)
    couplings = [
        torch.from_numpy(math.sqrt(2 * l + 1) * wigner_3j(l - 1, 1, l)) for l in range(2, 7)
    ]
    rolled = runtime_so2.wigner_matrices(rotation @ roll, couplings)
    assert not torch.allclose(rolled[2], runtime_so2.wigner_matrices(rotation, couplings)[2])
    expected = _so2_kernel(paths, x, sh, weights)
    assert torch.allclose(_so2_kernel(paths, x, sh, weights, rolled), expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# equivariance, capture


def test_so2_is_o3_equivariant() -> None:
    """`geoc check`: random rotations, reflections (parities), translations, permutations."""
    report = check(_spec(3, "so2"), trials=3, nodes=6, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-10
    assert "rotation+reflection" in report.render()


def test_so2_captures_with_fullgraph_and_export() -> None:
    model = geoc_compile(_spec(2, "so2"))
    inputs = {k: v.float() if v.is_floating_point() else v for k, v in _graph(2).items()}
    expected = model(**inputs)["y"]
    traced = torch.compile(model, fullgraph=True, backend="aot_eager")(**inputs)["y"]
    exported = torch.export.export(model, (), inputs).module()(**inputs)["y"]
    assert torch.allclose(traced, expected, atol=1e-5)
    assert torch.allclose(exported, expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# cost model and the algorithm attribute


def _chosen(lmax: int, mul: int) -> str:
    """The algorithm `auto` picks for the bench's layer (natural parities, `mul` channels)."""
    natural = " + ".join(f"{mul}x{l}{'eo'[l % 2]}" for l in range(lmax + 1))
    h = FeatureType.parse(natural + " over nodes")
    sh = FeatureType.parse(_sh_irreps(lmax) + " over edges")
    paths = conv_paths(h, sh, h.with_axes(()), Group.parse("O(3)"))
    return min(escn.COSTS, key=lambda a: escn.estimated_seconds_per_edge(a, paths))


def test_cost_model_picks_so2_at_high_degree() -> None:
    assert _chosen(6, 16) == "so2"
    assert _chosen(1, 16) == "cg"


def test_auto_lowers_by_the_cost_model() -> None:
    module = geoc_compile(_spec(6, "auto", mul=1))
    targets = {n.target.__name__ for n in module.graph.nodes if n.op == "call_function"}
    assert "so2_conv" in targets


def test_so2_needs_spherical_harmonics() -> None:
    """`sh` that is not Y(r̂) breaks the m = 0 reduction: auto takes cg, so2 is GEO501."""
    other = "linear(spherical_harmonics(r, lmax=2), 0e + 1o + 2e)"
    module = geoc_compile(_spec(2, "auto", sh=other))
    targets = {n.target.__name__ for n in module.graph.nodes if n.op == "call_function"}
    assert "so2_conv" not in targets
    with pytest.raises(GeoError) as err:
        geoc_compile(_spec(2, "so2", sh=other))
    assert err.value.diagnostics[0].code == "GEO501"
    assert "spherical_harmonics" in err.value.diagnostics[0].message


def test_so2_is_registered() -> None:
    assert tp_conv.TP_CONV_ALGORITHMS["so2"] is tp_conv.lower_tp_conv_so2
    assert set(tp_conv.TP_CONV_COSTS) == set(escn.COSTS) == {"cg", "so2"}
