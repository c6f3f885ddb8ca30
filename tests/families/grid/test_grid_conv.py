"""Local convolutions, restriction and prolongation on a torus (``geoc.ops.grid_conv``):
typing rules and their errors, agreement with ``torch.nn.functional`` (circular ``conv{1,2,3}d``,
strided ``conv`` / ``conv_transpose``, ``avg_pool``, ``interpolate``) in float64, exact
equivariance under every cyclic shift, and the subgroup a restriction commutes with."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_captures

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.grid import kernels as rt_grid
from geoc.backends.torch_fx.verify import check
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

GRIDS = {1: (9,), 2: (6, 5), 3: (4, 5, 3)}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def spec(body: str, out: str, grid: tuple[int, ...], group: str = "T({d})") -> str:
    d = len(grid)
    return (
        f"model M() {{\n    symmetry {group.format(d=d)}\n"
        f"    domain torus({', '.join(map(str, grid))})\n"
        f"    input a: 2 x scalar over torus\n    output u: {out} = {body}\n}}\n"
    )


def error(text: str) -> tuple[str, str]:
    with pytest.raises(GeoError) as info:
        frontend(text)
    diag = info.value.diagnostics[0]
    assert diag.help and diag.span is not None, "a code, a span and a help line"
    return diag.code, info.value.render()


def params(module: torch.nn.Module, kind: str) -> list[torch.Tensor]:
    return [p for n, p in module.named_parameters() if n.endswith(kind)]


def layer(module: torch.nn.Module, op: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight and bias (None without) of the one ``op`` node of a compiled module."""
    named = dict(module.named_parameters())
    (node,) = [n for n in module.meta["geoc_ir"].nodes if n.op == op and f"{n.id}.weight" in named]
    return named[f"{node.id}.weight"], named.get(f"{node.id}.bias")


# --- typing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_types_on_every_torus(d):
    graph = frontend(spec("conv(a, 3 x scalar)", "3 x scalar over torus", GRIDS[d]))
    assert str(graph.outputs["u"].type) == "3 x scalar over torus"


def test_restrict_and_prolong_change_the_grid_axis():
    body = "prolong(conv(restrict(a, 4 x scalar), 4 x scalar), 3 x scalar)"
    graph = frontend(spec(body, "3 x scalar over torus", (8, 8), "trivial"))
    kinds = {n.op: str(n.out_types[0]) for n in graph.nodes}
    assert kinds["restrict"] == "4 x scalar over torus_over2"
    assert kinds["conv"] == "4 x scalar over torus_over2"
    assert str(graph.outputs["u"].type) == "3 x scalar over torus"


@pytest.mark.parametrize(
    ("body", "group", "code", "says"),
    [
        ("conv(a, 3 x scalar, kernel=2)", "T({d})", "GEO316", "odd"),
        ("conv(a, 3 x scalar, kernel=[3, 11])", "T({d})", "GEO316", "grid size"),
        ("conv(a, 3 x scalar, kernel=[3])", "T({d})", "GEO316", "list of 2"),
        ("conv(a, 3 x vector)", "T({d})", "GEO310", "scalar"),
        ("conv(a, 3 x scalar)", "C(4)", "GEO414", "lift_conv"),
        ("conv(a, 3 x scalar over torus)", "T({d})", "GEO305", "without `over`"),
        ("restrict(a, 2 x scalar, factor=3)", "trivial", "GEO317", "divides"),
        ("restrict(a, 2 x scalar, factor=1)", "trivial", "GEO317", "at least 2"),
        ("restrict(a, 2 x scalar)", "T({d})", "GEO415", "T(2, step=2)"),
        ("restrict(restrict(a, 2 x scalar), 2 x scalar)", "T(2, step=2)", "GEO415", "step=4"),
        ("restrict(a, 2 x scalar)", "D(4)", "GEO415", "rotations"),
        ("restrict(a, 2 x scalar)", "T(2, step=0)", "GEO220", "positive"),
        ("restrict(a, 2 x scalar)", "T(2, stride=2)", "GEO220", "step=k"),
        ("restrict(a, 2 x scalar)", "T(2, step=3)", "GEO408", "divides every grid size"),
        ("restrict(a, 3 x scalar, mode=average)", "trivial", "GEO318", "keeps the channels"),
        ("a + prolong(a, 2 x scalar)", "trivial", "GEO305", "torus_times2"),
    ],
)
def test_errors(body, group, code, says):
    found, text = error(spec(body, "2 x scalar over torus", (8, 8), group))
    assert found == code and says in text


@pytest.mark.parametrize(
    ("body", "group", "step"),
    [
        ("restrict(prolong(a, 3 x scalar, factor=3), 2 x scalar, factor=3)", "T(2)", 1),
        ("prolong(conv(restrict(a, 4 x scalar), 4 x scalar), 2 x scalar)", "T(2, step=2)", 2),
        ("prolong(restrict(restrict(a, 4 x scalar), 4 x scalar, mode=average), 2 x scalar,"
         " factor=4)", "T(2, step=4)", 4),
    ],
)  # fmt: skip
def test_the_static_verdict_names_the_subgroup_and_the_check_samples_it(body, group, step):
    """A finer grid first commutes with every shift; a coarser one with multiples of the
    factors: the model is typed under `T(2, step=k)` and `geoc check` draws those shifts."""
    graph = frontend(spec(body, "2 x scalar over torus", (8, 8), group))
    assert str(graph.group) == group
    report = check(graph, trials=4)
    assert report.passed
    text = report.render()
    assert (f"multiples of {step}" in text) == (step > 1), text


def test_conv_needs_a_torus_field():
    text = (
        "model M() {\n    symmetry S(nodes)\n    domain set(nodes)\n"
        "    input a: 2 x scalar over nodes\n"
        "    output u: 2 x scalar over nodes = conv(a, 2 x scalar)\n}\n"
    )
    assert error(text)[0] == "GEO315"


def test_absolute_coordinates_stay_rejected_beside_conv():
    body = "conv(concat(a, grid_coords(a)), 2 x scalar)"
    assert error(spec(body, "2 x scalar over torus", (8, 8)))[0] == "GEO470"


# --- numeric reference ----------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "kernel"), [(1, "5"), (2, "[3, 5]"), (3, "3")])
def test_conv_equals_torch_circular_conv(d, kernel):
    grid = GRIDS[d]
    text = spec(f"conv(a, 3 x scalar, kernel={kernel})", "3 x scalar over torus", grid)
    module = geoc_compile(text, dtype=torch.float64, seed=d)
    (weight,), (bias,) = params(module, "weight"), params(module, "bias")
    x = torch.randn(4, 2, *grid, dtype=torch.float64)
    pads = [k // 2 for k in weight.shape[2:]]
    padded = F.pad(x, [p for q in reversed(pads) for p in (q, q)], mode="circular")
    want = CONV[d](padded, weight, bias)
    layer = getattr(torch.nn, f"Conv{d}d")(
        2,
        3,
        tuple(weight.shape[2:]),
        padding=tuple(pads),
        padding_mode="circular",
        dtype=torch.float64,
    )
    with torch.no_grad():
        layer.weight.copy_(weight), layer.bias.copy_(bias)
    got = module(a=x)["u"]
    assert (got - want).abs().max() < 1e-12
    assert (got - layer(x)).abs().max() < 1e-12


@pytest.mark.parametrize("d", [1, 2, 3])
def test_resampling_equals_torch(d):
    grid = tuple(2 * n for n in GRIDS[d])
    x = torch.randn(3, 2, *grid, dtype=torch.float64)
    body = "prolong(restrict(a, 4 x scalar), 3 x scalar)"
    text = spec(body, "3 x scalar over torus", grid, "trivial")
    module = geoc_compile(text, dtype=torch.float64, seed=d)
    (rw, rb), (pw, pb) = layer(module, "restrict"), layer(module, "prolong")
    want = CONV_T[d](CONV[d](x, rw, rb, stride=2), pw, pb, stride=2)
    assert (module(a=x)["u"] - want).abs().max() < 1e-12
    pool = getattr(F, f"avg_pool{d}d")(x, 2)
    assert (rt_grid.average(x, 2) - pool).abs().max() < 1e-12
    near = F.interpolate(x, scale_factor=2, mode="nearest")
    assert (rt_grid.nearest(x, 2) - near).abs().max() == 0


def test_v_cycle_equals_torch():
    body = (
        "prolong(act(conv(restrict(a, 4 x scalar), 4 x scalar, bias=false), relu), 2 x scalar,"
        " bias=false) + restrict(prolong(a, 2 x scalar, mode=nearest), 2 x scalar, mode=average)"
    )
    text = spec(body, "2 x scalar over torus", (6, 8), "trivial")
    module = geoc_compile(text, dtype=torch.float64)
    (rw, rb), (cw, _), (pw, _) = (layer(module, op) for op in ("restrict", "conv", "prolong"))
    x = torch.randn(2, 2, 6, 8, dtype=torch.float64)
    c = F.conv2d(x, rw, rb, stride=2)
    c = F.relu(F.conv2d(F.pad(c, (1, 1, 1, 1), mode="circular"), cw))
    want = F.conv_transpose2d(c, pw, stride=2)
    want = want + F.avg_pool2d(F.interpolate(x, scale_factor=2, mode="nearest"), 2)
    assert (module(a=x)["u"] - want).abs().max() < 1e-12


# --- equivariance -------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_commutes_with_every_cyclic_shift(d):
    grid = GRIDS[d]
    kernel = "[3, 5]" if d == 2 else "3"
    body = f"conv(act(conv(a, 4 x scalar, kernel={kernel}), gelu), 2 x scalar)"
    module = geoc_compile(spec(body, "2 x scalar over torus", grid), dtype=torch.float64)
    x = torch.randn(3, 2, *grid, dtype=torch.float64)
    out = module(a=x)["u"]
    dims = tuple(range(2, 2 + d))
    for shift in itertools.product(*(range(n) for n in grid)):
        moved = module(a=torch.roll(x, shift, dims))["u"]
        assert (moved - torch.roll(out, shift, dims)).abs().max() < 1e-12, shift


def test_geoc_check_passes_conv_and_names_the_shifts():
    text = spec(
        "conv(act(conv(a, 4 x scalar), gelu), 2 x scalar)", "2 x scalar over torus", (5, 4, 3)
    )
    report = check(frontend(text), trials=4)
    assert report.passed


@pytest.mark.parametrize("d", [1, 2, 3])
def test_resampling_commutes_with_shifts_by_multiples_of_the_factor(d):
    grid = tuple(2 * n for n in GRIDS[d])
    dims = tuple(range(2, 2 + d))
    x = torch.randn(2, 3, *grid, dtype=torch.float64)
    w = torch.randn(4, 3, *(2,) * d, dtype=torch.float64)
    wt = torch.randn(4, 3, *(2,) * d, dtype=torch.float64)
    down = rt_grid.restrict(x, w, None, 2)
    coarse = torch.randn(2, 4, *GRIDS[d], dtype=torch.float64)
    up = rt_grid.prolong(coarse, wt, None, 2)
    for shift in itertools.product(*(range(n) for n in GRIDS[d])):
        fine = tuple(2 * s for s in shift)
        moved = rt_grid.restrict(torch.roll(x, fine, dims), w, None, 2)
        assert (moved - torch.roll(down, shift, dims)).abs().max() < 1e-12
        lifted = rt_grid.prolong(torch.roll(coarse, shift, dims), wt, None, 2)
        assert (lifted - torch.roll(up, fine, dims)).abs().max() < 1e-12


def test_an_odd_shift_through_a_restriction_is_not_claimed():
    """Numerically an odd shift does not commute with the restriction, and the type system
    refuses the claim (GEO415) rather than typing the model under `T(2)`."""
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    w = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    down = rt_grid.restrict(x, w, None, 2)
    for shift in [(1, 0), (0, 1), (3, 2)]:
        moved = rt_grid.restrict(torch.roll(x, shift, (2, 3)), w, None, 2)
        halves = tuple(s // 2 for s in shift)
        assert (moved - torch.roll(down, halves, (2, 3))).abs().max() > 1e-3
    body = "prolong(restrict(a, 4 x scalar), 2 x scalar)"
    code, text = error(spec(body, "2 x scalar over torus", (8, 8)))
    assert code == "GEO415" and "multiples of 2" in text


# --- derivatives, meta tensors, tracing ---------------------------------------------------------

V_CYCLE = (
    "prolong(act(conv(restrict(a, 4 x scalar), 4 x scalar), gelu), 2 x scalar)"
    " + conv(a, 2 x scalar)"
)


def test_first_and_second_derivatives_are_finite():
    module = geoc_compile(
        spec(V_CYCLE, "2 x scalar over torus", (8, 6), "trivial"), dtype=torch.float64
    )
    x = torch.randn(2, 2, 8, 6, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(module(a=x)["u"].square().sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.square().sum(), x)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
    assert grad.abs().sum() > 0 and second.abs().sum() > 0


def test_runs_on_meta_and_fake_tensors():
    from torch._subclasses.fake_tensor import FakeTensorMode

    module = geoc_compile(spec(V_CYCLE, "2 x scalar over torus", (8, 6), "trivial"))
    out = module.to("meta")(a=torch.empty(3, 2, 8, 6, device="meta"))["u"]
    assert out.shape == (3, 2, 8, 6) and out.device.type == "meta"
    module = geoc_compile(spec(V_CYCLE, "2 x scalar over torus", (8, 6), "trivial"))
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = module(a=mode.from_tensor(torch.randn(3, 2, 8, 6)))["u"]
    assert fake.shape == (3, 2, 8, 6)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_fullgraph_capture(d):
    grid = tuple(2 * n for n in GRIDS[d])
    body = "prolong(conv(restrict(a, 4 x scalar), 4 x scalar), 2 x scalar) + conv(a, 2 x scalar)"
    module = geoc_compile(spec(body, "2 x scalar over torus", grid, "trivial"))
    assert_captures(module, {"a": torch.randn(2, 2, *grid)}, atol=1e-5)


# --- the subgroup T(d, step=k) --------------------------------------------------------------------


def test_stepped_translations_parse_print_and_draw_whole_steps():
    import numpy as np

    from geoc.backends.torch_fx.domains.fields import draw_grid_element
    from geoc.groups import Group

    assert str(Group.parse("T(2, step=2)")) == "T(2, step=2)"
    assert Group.parse("T(2, step=1)") == Group.parse("T(2)")
    graph = frontend(spec("conv(a, 2 x scalar)", "2 x scalar over torus", (8, 12), "T(2, step=4)"))
    rng = np.random.default_rng(0)
    shifts = [draw_grid_element(graph, rng).grid_move.shifts for _ in range(50)]
    assert all(s % 4 == 0 for shift in shifts for s in shift)
    assert set(shifts) == {(4, 4), (4, 8)}  # every nonzero multiple of 4, per dimension


def test_stepped_translations_need_a_grid():
    text = (
        "model M() {\n    symmetry T(3, step=2) x S(nodes)\n    domain pointcloud(nodes, dim=3)\n"
        "    input x: point(3) over nodes\n    output u: vector over nodes = x - x\n}\n"
    )
    code, rendered = error(text)
    assert code == "GEO221" and "no grid" in rendered


def test_grid_sizes_the_restriction_does_not_divide_are_an_input_error():
    from geoc.backends.torch_fx.common.validate_kernels import InputError

    body = "prolong(restrict(restrict(a, 4 x scalar), 4 x scalar), 2 x scalar, factor=4)"
    module = geoc_compile(spec(body, "2 x scalar over torus", (8, 8), "T(2, step=4)"))
    assert module(a=torch.randn(2, 2, 12, 16))["u"].shape == (2, 2, 12, 16)
    with pytest.raises(InputError) as info:
        module(a=torch.randn(2, 2, 10, 16))
    assert info.value.code == "GEO657"


def test_coarse_fields_are_outputs_pool_and_round_trip_through_the_ir_json():
    from geoc.ir import Graph

    text = (
        "model M() {\n    symmetry T(2, step=2)\n    domain torus(8, 6)\n"
        "    input a: 2 x scalar over torus\n"
        "    c = restrict(a, 3 x scalar)\n"
        "    output coarse: 3 x scalar over torus_over2 = c\n"
        "    output pooled: 3 x scalar = mean(c, over=torus_over2)\n}\n"
    )
    graph = frontend(text)
    again = Graph.from_json(graph.to_json())
    assert str(again.outputs["coarse"].type) == "3 x scalar over torus_over2"
    assert str(again.group) == "T(2, step=2)"
    assert check(graph, trials=3).passed
    module = geoc_compile(text, dtype=torch.float64)
    x = torch.randn(2, 2, 8, 6, dtype=torch.float64)
    out = module(a=x)
    weight, bias = layer(module, "restrict")
    want = F.conv2d(x, weight, bias, stride=2)
    assert (out["coarse"] - want).abs().max() < 1e-12
    assert (out["pooled"] - want.mean((2, 3))).abs().max() < 1e-12


def test_grid_field_axis_names_are_reserved():
    text = (
        "model M() {\n    symmetry S(torus_over2)\n    domain set(torus_over2)\n"
        "    input a: 2 x scalar over torus_over2\n"
        "    output u: 2 x scalar = sum(a, over=torus_over2)\n}\n"
    )
    with pytest.raises(GeoError) as info:
        frontend(text)
    assert info.value.codes == ["GEO204"]


@pytest.mark.parametrize("padding", ["circular", "constant", "reflect"])
@pytest.mark.parametrize("grid", [(7,), (5, 6), (3, 4, 5)], ids=["1d", "2d", "3d"])
def test_grid_patches_taps_are_a_convolutions(padding: str, grid: tuple[int, ...]) -> None:
    """A linear map of each point's patch is the convolution with the same taps; a constant
    pad reads the given point (a shift of the zero padding by it)."""
    d = len(grid)
    kernel = (3, 3, 1)[:d] if d == 3 else (3,) * d
    gen = torch.Generator().manual_seed(d)
    x = torch.randn(2, 4, *grid, generator=gen, dtype=torch.float64)
    weight = torch.randn(5, 4, *kernel, generator=gen, dtype=torch.float64)
    fill = torch.randn(4, generator=gen, dtype=torch.float64) if padding == "constant" else None
    patches = rt_grid.grid_patches(x.movedim(1, -1), kernel, padding, fill)
    assert patches.shape == (2, *grid, math.prod(kernel), 4)
    taps = weight.flatten(2).permute(0, 2, 1)  # [out, K, C]
    got = torch.einsum("b...kc,okc->bo...", patches, taps)
    shifted = x if fill is None else x - fill.view(1, 4, *(1,) * d)
    want = rt_grid.local_conv(shifted, weight, None, padding)
    if fill is not None:  # each tap reads the fill where the zero padding was
        want = want + torch.einsum("okc,c->o", taps, fill).view(1, 5, *(1,) * d)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
