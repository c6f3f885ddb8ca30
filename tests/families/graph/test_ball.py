"""The ``ball(r, k, tol)`` edge rule (PointNet++'s ball query, order-independent; docs/language.md
"Point-cloud edges", "Several axes"): its typing and diagnostics, the edges against a brute
force written from the definition (eager lists and traced masked pairs, batches, graphs
without elements, ties with the k-th), independence of memory order, and equivariance."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import as_pairs, assert_fails_at, batch_of, elaborated

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import axes_kernels as rt_axes
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.verify import check
from geoc.domains import Domain, EdgeRule

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def brute_ball(pos_src, pos_dst, batch_src, batch_dst, r, k, tol, same_axis=False):
    """Each dst receives from the src elements of its graph closer than r whose distance is at
    most (1 + tol) times the k-th smallest of those (all of them if there are at most k)."""
    pairs = set()
    for d in range(pos_dst.shape[0]):
        members = [
            s
            for s in range(pos_src.shape[0])
            if (batch_src is None or batch_src[s] == batch_dst[d]) and not (same_axis and s == d)
        ]
        dist = {s: float((pos_dst[d] - pos_src[s]).norm()) for s in members}
        inside = {s: v for s, v in dist.items() if v < r}
        ranked = sorted(inside.values())
        kth = ranked[k - 1] if len(ranked) >= k else float("inf")
        pairs |= {(s, d) for s, v in inside.items() if v <= kth * (1 + tol)}
    return pairs


# --- typing -----------------------------------------------------------------------------------

MODEL = """\
model M() {{
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3)
    domain {centres}
    domain edges(near, src=points, dst=centres, rule={rule})
    input x: point(3) over points
    input c: {centre_type} over centres
    output y: scalar over centres = sum(sqnorm(x[src(near)]), over=near, into=centres)
}}
"""


def model(rule: str, centres: str = "pointcloud(centres, dim=3)", ctype: str = "point(3)") -> str:
    return MODEL.format(rule=rule, centres=centres, centre_type=ctype)


def test_ball_parses_and_prints_as_written() -> None:
    for text in ("ball(0.2, 32)", "ball(1.0, 4, tol=0.01)", "ball(2.5, 1, tol=0.0)"):
        domain = Domain.parse(f"edges(near, src=a, dst=b, rule={text})")
        assert str(domain) == f"edges(near, src=a, dst=b, rule={text})"
        assert Domain.parse(str(domain)) == domain
    cloud = Domain.parse("pointcloud(nodes, dim=3, edges=ball(1, 8))")
    assert (cloud.edges, cloud.edge_arg, cloud.edge_k, cloud.edge_tol) == (
        EdgeRule.BALL,
        1.0,
        8,
        1e-4,
    )
    graph = elaborated(model("ball(0.5, 3)"))
    assert str(graph.domains[2]) == "edges(near, src=points, dst=centres, rule=ball(0.5, 3))"


BAD_RULES = [
    "ball(@0, 4)",  # r <= 0
    "ball(@-1.0, 4)",
    "ball(0.5, @0)",  # k < 1
    "ball(0.5, @2.5)",  # k not an integer
    "ball(0.5, @true)",
    "ball(0.5, 4, tol=@1.5)",  # tol outside [0, 1)
    "@ball(0.5)",  # r and k both required
    "@ball(0.5, 4, cutoff=1)",  # no such argument: the caret is on the keyword
]


@pytest.mark.parametrize("rule", BAD_RULES)
def test_bad_ball_arguments(rule: str) -> None:
    text = model(rule)
    if "cutoff" in rule:
        text = text.replace("@ball(0.5, 4, cutoff=1)", "ball(0.5, 4, @cutoff=1)")
    assert_fails_at(text, "GEO204")


def test_ball_needs_point_clouds_at_both_ends() -> None:
    text = model("ball(0.5, 4)", centres="set(centres)", ctype="scalar")
    text = text.replace("dst=centres", "dst=@centres")
    assert_fails_at(text, "GEO204")


def test_a_point_clouds_own_ball_edges_and_its_periodic_cell() -> None:
    assert_fails_at(
        model("full").replace(
            "domain pointcloud(points, dim=3)",
            "domain pointcloud(points, dim=3, edges=ball(1.0, 2), cell=@true)",
        ),
        "GEO204",
    )


# --- the edges --------------------------------------------------------------------------------


@pytest.mark.parametrize(("r", "k"), [(0.6, 1), (1.2, 3), (3.0, 4), (10.0, 20)])
def test_cross_ball_equals_brute_force_in_a_batch_with_an_empty_graph(r: float, k: int) -> None:
    gen = torch.Generator().manual_seed(int(10 * r) + k)
    pts, ctr = [6, 9, 0, 4], [2, 0, 3, 4]  # graph 1 has no centre, graph 2 no point
    pos_src = torch.randn(sum(pts), 3, generator=gen, dtype=F64)
    pos_dst = torch.randn(sum(ctr), 3, generator=gen, dtype=F64)
    b_src, b_dst = batch_of(pts), batch_of(ctr)
    want = brute_ball(pos_src, pos_dst, b_src, b_dst, r, k, 1e-4)
    got = rt_axes.cross_ball_edges(pos_src, pos_dst, b_src, b_dst, r, k, 1e-4)
    assert got[2] is None and as_pairs(got) == want  # eager: the exact list
    one = rt_axes.cross_ball_edges(pos_src[:6], pos_dst[:2], None, None, r, k, 1e-4)
    assert as_pairs(one) == brute_ball(pos_src[:6], pos_dst[:2], None, None, r, k, 1e-4)
    counts = torch.bincount(got[1], minlength=pos_dst.shape[0])
    assert int(counts.max()) <= k  # no ties here: at most k each
    assert int(counts[2:5].sum()) == 0  # the centres of the graph without points: no edge


@pytest.mark.parametrize(("r", "k"), [(0.8, 2), (2.0, 3)])
def test_traced_ball_keeps_every_pair_masked(monkeypatch, r: float, k: int) -> None:
    """Traced (here forced), the masked pairs of every (src, dst) give the same edges."""
    gen = torch.Generator().manual_seed(7)
    pts, ctr = [5, 7, 3], [3, 0, 2]
    pos_src = torch.randn(sum(pts), 3, generator=gen, dtype=F64)
    pos_dst = torch.randn(sum(ctr), 3, generator=gen, dtype=F64)
    b_src, b_dst = batch_of(pts), batch_of(ctr)
    want = brute_ball(pos_src, pos_dst, b_src, b_dst, r, k, 1e-4)
    monkeypatch.setattr(rt_axes, "_static", lambda like: True)
    got = rt_axes.cross_ball_edges(pos_src, pos_dst, b_src, b_dst, r, k, 1e-4)
    assert got[2] is not None and got[0].shape[0] == sum(pts) * sum(ctr)
    assert as_pairs(got) == want


@pytest.mark.parametrize("batched", [False, True])
def test_ball_within_one_axis_equals_brute_force(batched: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    sizes = [7, 1, 6]
    pos = torch.randn(sum(sizes), 3, generator=gen, dtype=F64)
    batch = batch_of(sizes) if batched else None
    for r, k in [(0.7, 1), (1.5, 2), (5.0, 30)]:
        want = brute_ball(pos, pos, batch, batch, r, k, 1e-4, same_axis=True)
        assert as_pairs(rt.ball_edges(pos, batch, r, k, 1e-4)) == want


def test_ball_takes_the_nearest_not_the_first_in_memory_order() -> None:
    """Six points within r of the centre, the nearest last in memory: ball(r, 2) takes the
    two nearest, in any order of the points."""
    radii = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.2, 0.1], dtype=F64)
    pos_src = torch.zeros(6, 3, dtype=F64)
    pos_src[:, 0] = radii
    centre = torch.zeros(1, 3, dtype=F64)
    assert as_pairs(rt_axes.cross_ball_edges(pos_src, centre, None, None, 1.0, 2, 1e-4)) == {
        (4, 0),
        (5, 0),
    }
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    moved = rt_axes.cross_ball_edges(pos_src[perm], centre, None, None, 1.0, 2, 1e-4)
    assert {int(perm[s]) for s, _ in as_pairs(moved)} == {4, 5}


def test_ball_includes_every_tie_with_the_kth_and_nothing_beyond_r() -> None:
    cube = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=F64)
    centre = torch.full((1, 3), 0.5, dtype=F64)  # all eight corners at sqrt(3)/2 ~ 0.866
    far = torch.tensor([[0.5, 0.5, 1.6]], dtype=F64)  # at 1.1: within r = 1.5 only
    pos_src = torch.cat([cube, far])
    rotation = torch.linalg.qr(torch.randn(3, 3, dtype=F64))[0]
    for k in (1, 4, 8):  # the k-th is a corner: all eight, never the farther point
        for moved in (torch.eye(3, dtype=F64), rotation):  # rounding must not split the ties
            got = rt_axes.cross_ball_edges(
                pos_src @ moved.T, centre @ moved.T, None, None, 1.5, k, 1e-4
            )
            assert as_pairs(got) == {(s, 0) for s in range(8)}
    assert len(as_pairs(rt_axes.cross_ball_edges(pos_src, centre, None, None, 1.5, 9, 1e-4))) == 9
    assert not as_pairs(rt_axes.cross_ball_edges(pos_src, centre, None, None, 0.8, 3, 1e-4))


# --- equivariance -----------------------------------------------------------------------------

BALLS = """
model Balls(hidden: int = 6) {
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3, edges=ball(1.2, 3))
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=ball(1.0, 4))
    domain edges(cc, src=centres, dst=centres, rule=ball(1.5, 2))
    input f: 3 x scalar over points
    input x: point(3) over points
    input c: point(3) over centres
    h = f + mean(f[src] * sqnorm(x[src] - x[dst]), over=edges, into=points)
    r = x[src(near)] - c[dst(near)]
    y = max(mlp(concat(h[src(near)], sqnorm(r)), [hidden]), over=near, into=centres)
    z = y + sum(y[src(cc)], over=cc, into=centres)
    output y: hidden x scalar over centres = z
    output v: vector over centres = sum(r * mlp(h[src(near)], [1]), over=near, into=centres)
}
"""


@pytest.mark.parametrize("graphs", [1, 3])
def test_ball_edges_are_equivariant(graphs: int) -> None:
    """Own ball edges on the points, ball between points and centres and among the centres:
    E(3) x S(points) x S(centres), independent permutations, ties and empty graphs."""
    report = check(BALLS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report


@pytest.mark.slow
def test_traced_ball_model_equals_eager() -> None:
    import numpy as np

    from geoc.backends.torch_fx.verify import draw_sample

    module = compile(BALLS, dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(3), 7, 2, F64, 2)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    want, got = module(**sample.inputs), compiled(**sample.inputs)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-10, atol=1e-10)
