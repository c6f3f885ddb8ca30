"""The numeric equivariance checker (``geoc check``): verdicts, transformations, blame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.core import lower as core
from geoc.backends.torch_fx.domains.points import (
    random_edge_index,
    stable_positions,
    transform_inputs,
)
from geoc.backends.torch_fx.verify import (
    AxisMap,
    CheckReport,
    check,
    check_module,
    draw_element,
    draw_sample,
    transform,
)
from geoc.groups import Group, GroupElement
from geoc.types import FeatureType

SMALL_EGNN = {"depth": 2, "hidden": 16}
SMALL_DEEPSETS = {"hidden": 16}

# EGNN layers on other domains; the block comes from the built-in spec.
EGNN_ON = """
import "egnn"
model NAME(hidden: int = 16) {
    symmetry SYMMETRY
    domain   DOMAIN
    input h: 8 x scalar over nodes
    input x: point(3) over nodes
    h = linear(h, hidden x scalar)
    h, x = egnn_layer(h, x, hidden=hidden)
    h, x = egnn_layer(h, x, hidden=hidden)
    output energy: scalar = sum(mlp(h, [hidden, 1], act=silu), over=nodes)
    output pos: point(3) over nodes = x
    output rel: vector over edges = x[dst] - x[src]
}
"""


def egnn_on(name: str, symmetry: str, domain: str) -> str:
    """The EGNN model above, named ``name``, on ``domain`` with ``symmetry``."""
    return EGNN_ON.replace("NAME", name).replace("SYMMETRY", symmetry).replace("DOMAIN", domain)


GRAPH_EGNN = egnn_on("GraphEGNN", "S(nodes)", "graph(nodes)")
CLOUD_EGNN = egnn_on("CloudEGNN", "E(3) x S(nodes)", "pointcloud(nodes, dim=3, edges=EDGES)")
VARIANTS = {
    "graph": (GRAPH_EGNN, "GraphEGNN"),
    "full": (CLOUD_EGNN.replace("EDGES", "full"), "CloudEGNN"),
    "radius": (CLOUD_EGNN.replace("EDGES", "radius(1.5)"), "CloudEGNN"),
    "knn": (CLOUD_EGNN.replace("EDGES", "knn(3)"), "CloudEGNN"),
}


pytestmark = pytest.mark.usefixtures("one_thread")


# --- deliberately broken kernels (module level: fx prints them by name) -----------------------


def first_component_squared(x: torch.Tensor, terms: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """Not a norm: depends on the direction of the vector."""
    return x[..., :1] ** 2


def running_sum(x: torch.Tensor) -> torch.Tensor:
    """Not pointwise: mixes the elements of the set in their order."""
    return torch.cumsum(x, 0)


def radius_along_first_axis(pos: torch.Tensor, batch: Any, r: float) -> rt.Edges:
    """An edge set that rotations change: closeness along the first coordinate only."""
    src, dst = rt._all_pairs(pos.shape[0], pos.device)
    close = (pos[dst, 0] - pos[src, 0]).abs() < r
    mask = rt._pair_mask(src, dst, batch) & close
    return rt._finish(src, dst, mask, pos.dtype, batch is not None)


# --- built-in specs --------------------------------------------------------------------------


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize(("spec", "params"), [("egnn", SMALL_EGNN), ("deepsets", SMALL_DEEPSETS)])
def test_builtin_specs_are_equivariant(spec: str, params: dict, graphs: int) -> None:
    report = check(spec, params=params, graphs=graphs, every_value=True)
    assert report.passed, report.render()
    assert report.first_failure is None
    assert all(row.max_error < 1e-10 for row in report.outputs)
    assert report.dtype == torch.float64


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_egnn_on_every_edge_rule(variant: str, graphs: int) -> None:
    spec, model = VARIANTS[variant]
    report = check(spec, model=model, graphs=graphs, every_value=True)
    assert report.passed, report.render()
    assert [row.name for row in report.outputs] == ["energy", "pos", "rel"]


OTHER_GROUPS = {
    "O(3), global": """
model Global() {
    symmetry O(3)
    input v: 2 x vector + scalar + pseudoscalar + pseudovector
    output y: 3 x vector + 2 x pseudoscalar = linear(v, 3 x vector + 2 x pseudoscalar)
    output n: 2 x scalar = norm(linear(v, 2 x vector))
}""",
    "SO(3) x S(set)": """
model Set() {
    symmetry SO(3) x S(set)
    domain set(set)
    input v: 3 x vector + 3 x scalar over set
    w = linear(v, 4 x vector + 2 x scalar) + linear(mean(v, over=set), 4 x vector + 2 x scalar)
    output y: 4 x vector + 2 x scalar over set = w
    output p: 4 x vector + 2 x scalar = sum(w, over=set)
}""",
    "T(3) x S(nodes), radius": """
model Shift() {
    symmetry T(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(2.0))
    input x: point(3) over nodes
    output c: point(3) = mean(x, over=nodes)
    output y: point(3) over nodes = x + mean(x[dst] - x[src], over=edges, into=nodes)
    output e: scalar = max(norm(x[dst] - x[src]), over=edges)
}""",
}


@pytest.mark.parametrize("graphs", [1, 3])
@pytest.mark.parametrize("group", sorted(OTHER_GROUPS))
def test_other_groups_and_types(group: str, graphs: int) -> None:
    report = check(OTHER_GROUPS[group], graphs=graphs, every_value=True)
    assert report.passed, report.render()


def test_render_is_a_table() -> None:
    text = check("egnn", params=SMALL_EGNN).render()
    lines = text.splitlines()
    assert lines[0] == (
        "geoc check: EGNN under E(3) x S(nodes), float64, 3 trials, batch of 2 graphs "
        "(rotation, rotation+reflection, translation, permutation)"
    )
    assert lines[1].split() == ["output", "type", "max", "error", "rel", "error", "bound", "status"]
    assert lines[2].startswith("  energy   scalar") and lines[2].endswith("ok")
    assert lines[3].startswith("  pos      point(3) over nodes") and lines[3].endswith("ok")


# --- group elements and transformations ------------------------------------------------------


def test_identity_element_gives_zero_error() -> None:
    module = compile("egnn", params=SMALL_EGNN, dtype=torch.float64)
    report = check_module(module, elements=[GroupElement()], graphs=2)
    assert report.passed
    assert report.max_error == 0.0
    assert report.elements == ["identity"]


def test_trials_include_rotations_with_and_without_reflection() -> None:
    group = Group.parse("E(3) x S(nodes)")
    rng = np.random.default_rng(0)
    elements = [draw_element(group, rng, {"nodes": 5}, trial) for trial in range(3)]
    dets = [round(float(np.linalg.det(e.rotation))) for e in elements]
    assert dets == [1, -1, 1]
    for element in elements:
        assert element.translation is not None
        assert sorted(element.permutations["nodes"]) == list(range(5))
    assert elements[1].label == "rotation+reflection, translation, permutation"
    report = check("egnn", params=SMALL_EGNN, trials=2)
    assert report.elements == [
        "rotation, translation, permutation",
        "rotation+reflection, translation, permutation",
    ]


def test_transform_follows_the_declared_law() -> None:
    group = Group.parse("E(3) x S(nodes)")
    element = draw_element(group, np.random.default_rng(1), {"nodes": 4}, trial=1)
    rot, shift = (torch.as_tensor(a) for a in (element.rotation, element.translation))
    perm = torch.as_tensor(element.permutations["nodes"])
    maps = {"nodes": AxisMap(perm)}
    x = torch.randn(4, 3 + 3 + 1 + 1, dtype=torch.float64)
    ftype = FeatureType.parse("point(3) + pseudovector + scalar + pseudoscalar over nodes")
    got = transform(x, ftype, group, element, maps)
    moved = x[perm]
    assert torch.allclose(got[:, :3], moved[:, :3] @ rot.T + shift)
    assert torch.allclose(got[:, 3:6], -(moved[:, 3:6] @ rot.T))  # reflection flips it back
    assert torch.equal(got[:, 6], moved[:, 6])
    assert torch.equal(got[:, 7], -moved[:, 7])
    pooled = torch.randn(2, 3, dtype=torch.float64)  # [num_graphs, C]: graphs stay in place
    got = transform(pooled, FeatureType.parse("vector"), group, element, maps)
    assert torch.allclose(got, pooled @ rot.T)


def test_inputs_move_with_the_permutation() -> None:
    module = compile(GRAPH_EGNN, model="GraphEGNN")
    ir = module.meta["geoc_ir"]
    rng = np.random.default_rng(3)
    sample = draw_sample(ir, rng, nodes=6, graphs=3, dtype=torch.float64)
    element = draw_element(ir.group, rng, sample.sizes, trial=0)
    moved = transform_inputs(ir, sample, element)
    old, new = sample.inputs, moved
    perm = torch.as_tensor(element.permutations["nodes"])
    assert torch.equal(new["h"], old["h"][perm])
    assert torch.equal(new["batch"], old["batch"][perm])
    for end in (0, 1):  # same edge order, endpoints relabelled: the same features meet
        assert torch.equal(new["h"][new["edge_index"][end]], old["h"][old["edge_index"][end]])
        assert torch.equal(
            new["batch"][new["edge_index"][end]], old["batch"][old["edge_index"][end]]
        )


def test_random_edges_stay_inside_graphs_and_leave_some_nodes_alone() -> None:
    sizes = [5, 6, 7]
    edges = random_edge_index(np.random.default_rng(0), sizes)
    graph_of = np.repeat(np.arange(3), sizes)
    src, dst = edges
    assert np.all(src != dst)
    assert np.all(graph_of[src] == graph_of[dst])
    assert len({*zip(src.tolist(), dst.tolist(), strict=True)}) == edges.shape[1]
    assert 0 < len(set(dst.tolist())) < sum(sizes)  # some nodes get no message
    assert not np.all(np.diff(dst) >= 0)  # not sorted by destination


@pytest.mark.parametrize("variant", ["radius", "knn"])
def test_point_clouds_give_stable_nontrivial_edge_sets(variant: str) -> None:
    spec, model = VARIANTS[variant]
    ir = compile(spec, model=model).meta["geoc_ir"]
    cloud = stable_positions(ir, np.random.default_rng(0), [8])
    dist = np.linalg.norm(cloud[:, None] - cloud[None], axis=-1)
    others = np.sort(dist, axis=1)[:, 1:]  # each node's distances to the others, ascending
    if variant == "radius":
        assert 0 < np.sum(others < 1.5) < others.size
        assert np.min(np.abs(others - 1.5)) > 1e-3
    else:
        assert np.min(np.diff(others, axis=1)) > 1e-6  # no near-ties decide the 3 nearest


def test_a_float32_module_is_checked_in_a_float64_copy() -> None:
    module = compile("deepsets", params=SMALL_DEEPSETS)
    report = check_module(module)
    assert report.passed and report.max_error < 1e-10
    assert next(module.parameters()).dtype == torch.float32


# --- broken lowerings are caught and blamed on the right node --------------------------------


def _broken_check(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, value: Callable, *args: Any, **kw: Any
) -> CheckReport:
    """``check`` with ``owner.name`` (or ``owner[name]`` for a dict) replaced, then restored."""
    with monkeypatch.context() as patch:
        if isinstance(owner, dict):
            patch.setitem(owner, name, value)
        else:
            patch.setattr(owner, name, value)
        return check(*args, **kw)


SQNORM = "layers.0.egnn_layer.m.concat.sqnorm"  # the first sqnorm in evaluation order


@pytest.mark.parametrize("graphs", [1, 3])
def test_a_direction_dependent_sqnorm_is_blamed(
    monkeypatch: pytest.MonkeyPatch, graphs: int
) -> None:
    report = _broken_check(
        monkeypatch,
        rt,
        "copy_sqnorm",
        first_component_squared,
        "egnn",
        params=SMALL_EGNN,
        graphs=graphs,
    )
    assert report.passed is False
    assert [(row.name, row.passed) for row in report.outputs] == [("energy", False), ("pos", False)]
    fail = report.first_failure
    assert fail is not None
    assert (fail.node, fail.op, fail.type) == (SQNORM, "sqnorm", "scalar over edges")
    span = compile("egnn", params=SMALL_EGNN).meta["geoc_ir"].node(SQNORM).span
    assert fail.span == span and span.file == "<builtin>/egnn.geo"
    assert "sqnorm(r)" in fail.source_line
    text = report.render()
    assert "first value that breaks its law:" in text
    assert "error[GEO600]" in text and f"--> {span}" in text
    assert f"{span.line} |     m = mlp(concat(h[dst], h[src], sqnorm(r))" in text


def test_an_order_dependent_activation_is_blamed(monkeypatch: pytest.MonkeyPatch) -> None:
    report = _broken_check(
        monkeypatch, core.ACTIVATION_FNS, "relu", running_sum, "deepsets", params=SMALL_DEEPSETS
    )
    assert report.passed is False
    assert report.outputs[0].name == "y" and not report.outputs[0].passed
    fail = report.first_failure
    first_act = compile("deepsets", params=SMALL_DEEPSETS).meta["geoc_ir"].node("h")
    assert (fail.node, fail.op, fail.span) == ("h", "act", first_act.span)
    assert report.elements == ["permutation"] * 3
    assert core.ACTIVATION_FNS["relu"] is torch.nn.functional.relu  # restored


def test_an_activation_inside_an_mlp_is_blamed_on_the_mlp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = _broken_check(
        monkeypatch, core.ACTIVATION_FNS, "silu", running_sum, "egnn", params=SMALL_EGNN, trials=1
    )
    assert report.passed is False
    assert (report.first_failure.node, report.first_failure.op) == ("layers.0.egnn_layer.m", "mlp")


def test_an_edge_set_that_rotations_change_is_blamed_on_the_edges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, model = VARIANTS["radius"]
    report = _broken_check(
        monkeypatch, rt, "radius_edges", radius_along_first_axis, spec, model=model
    )
    assert report.passed is False
    assert report.first_failure.node == "edges"
    assert report.first_failure.op == "radius edges"


def test_check_module_refuses_zero_trials() -> None:
    """With no trial nothing is checked, so no verdict may be given (issue 12)."""
    with pytest.raises(ValueError, match="at least 1 trial"):
        check_module(compile("deepsets"), trials=0)
