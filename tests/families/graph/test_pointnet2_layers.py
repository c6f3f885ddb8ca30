"""PointNet++'s layers written in .geo over given centres (single- and multi-scale set
abstraction with ``ball`` grouping, feature propagation with ``interpolate``) against the
plain-PyTorch reference written from the paper (pointnet2_reference.py): the same groups, the
same features to 1e-6 in float32 (relative, and absolute near 0), with the same weights;
translation and permutation invariance (independent permutations of points and centres)
checked numerically."""

from __future__ import annotations

import pytest
import torch
from helpers import batch_of
from pointnet2_reference import (
    ball_query,
    feature_propagation,
    mlp_layers,
    multi_scale,
    nearest_groups,
    set_abstraction,
)

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.common import axes_kernels as rt_axes
from geoc.backends.torch_fx.verify import check

pytestmark = pytest.mark.usefixtures("one_thread")

# Relative coordinates go into the MLP as the paper has them: invariant under translations
# only, so the group is T(3) (an MLP of a vector is not rotation-equivariant).
LAYERS = """
model PointNet2Layers(r1: float = 0.6, k1: int = 4, r2: float = 1.2, k2: int = 8) {
    symmetry T(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3)
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=ball(r1, k1))
    domain edges(wide, src=points, dst=centres, rule=ball(r2, k2))
    domain edges(up, src=centres, dst=points, rule=knn(3))
    input x: point(3) over points
    input f: 3 x scalar over points
    input c: point(3) over centres

    # set abstraction (single scale): group, relative coordinates, shared MLP, max
    sa = mlp(concat(f[src(near)], x[src(near)] - c[dst(near)]), [8, 16], act=relu, last_act=true)
    a = max(sa, over=near, into=centres)
    # multi-scale grouping: a second radius, concatenated
    sb = mlp(concat(f[src(wide)], x[src(wide)] - c[dst(wide)]), [8, 12], act=relu, last_act=true)
    s = concat(a, max(sb, over=wide, into=centres))
    # feature propagation: interpolate back, skip features, shared MLP
    fp = mlp(concat(interpolate(s, over=up, into=points), f), [10], act=relu, last_act=true)

    output ssg: 16 x scalar over centres = a
    output msg: 28 x scalar over centres = s
    output seg: 10 x scalar over points = fp
}
"""

R1, K1, R2, K2 = 0.6, 4, 1.2, 8


def cloud(seed: int, pts: list[int], ctr: list[int], dtype=torch.float32):
    """Points and features, and centres drawn among the points (as sampling would) and moved
    a little, so every ball holds a few points and some hold none."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(pts), 3, generator=gen, dtype=torch.float64)
    f = torch.randn(sum(pts), 3, generator=gen, dtype=torch.float64)
    b_x, b_c = batch_of(pts), batch_of(ctr)
    picks = []
    for graph, count in enumerate(ctr):
        members = torch.nonzero(b_x == graph).squeeze(-1)
        picks.append(members[torch.randperm(len(members), generator=gen)[:count]])
    c = x[torch.cat(picks)] + 0.3 * torch.randn(sum(ctr), 3, generator=gen, dtype=torch.float64)
    return x.to(dtype), f.to(dtype), c.to(dtype), b_x, b_c


def random_parameters(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype) * 0.5)


def reference(module, x, f, c, b_x, b_c):
    state = module.state_dict()
    ssg = set_abstraction(x, f, c, b_x, b_c, R1, K1, mlp_layers(state, "sa"))
    scales = [(R1, K1, mlp_layers(state, "sa")), (R2, K2, mlp_layers(state, "sb"))]
    msg = multi_scale(x, f, c, b_x, b_c, scales)
    seg = feature_propagation(msg, c, x, b_c, b_x, f, mlp_layers(state, "fp"))
    return {"ssg": ssg, "msg": msg, "seg": seg}


def groups_as_pairs(index: torch.Tensor, mask: torch.Tensor) -> set[tuple[int, int]]:
    rows, cols = torch.nonzero(mask, as_tuple=True)
    return {(int(index[d, j]), int(d)) for d, j in zip(rows, cols, strict=True)}


def edges_as_pairs(edges) -> set[tuple[int, int]]:
    src, dst, mask = edges
    keep = torch.ones_like(src, dtype=torch.bool) if mask is None else mask != 0
    return set(zip(src[keep].tolist(), dst[keep].tolist(), strict=True))


@pytest.mark.parametrize(("pts", "ctr"), [([40], [12]), ([30, 25, 12], [8, 0, 5])])
def test_the_groups_are_the_references(pts: list[int], ctr: list[int]) -> None:
    """The edge sets the module builds: ball at both radii, knn back to the points."""
    x, _, c, b_x, b_c = cloud(1, pts, ctr, torch.float64)
    batches = (b_x, b_c) if len(pts) > 1 else (None, None)
    for radius, k in ((R1, K1), (R2, K2)):
        want = groups_as_pairs(*ball_query(x, c, *batches, radius, k))
        got = edges_as_pairs(rt_axes.cross_ball_edges(x, c, *batches, radius, k, 1e-4))
        assert got == want and want
    want = groups_as_pairs(*nearest_groups(c, x, *batches[::-1], 3))
    assert edges_as_pairs(rt_axes.cross_knn_edges(c, x, *batches[::-1], 3, 1e-4)) == want


@pytest.mark.parametrize(("pts", "ctr"), [([48], [12]), ([30, 25, 12], [8, 0, 5])])
def test_layers_equal_the_reference_in_float32(pts: list[int], ctr: list[int]) -> None:
    """SSG, MSG and FP with the module's own weights; the second case batches three clouds,
    one without centres (its points interpolate nothing: 0, then the skip features)."""
    module = compile(LAYERS)
    random_parameters(module, 2)
    x, f, c, b_x, b_c = cloud(3, pts, ctr)
    given = {"batch": b_x, "batch_centres": b_c, "num_graphs": len(pts)} if len(pts) > 1 else {}
    out = module(x=x, f=f, c=c, **given)
    want = reference(module, x, f, c, *((b_x, b_c) if given else (None, None)))
    for name in ("ssg", "msg", "seg"):
        torch.testing.assert_close(out[name], want[name], rtol=1e-6, atol=1e-6)
        assert float(want[name].abs().max()) > 0.1  # not vacuous: the features are live
    _, mask = ball_query(x, c, *((b_x, b_c) if given else (None, None)), R1, K1)
    assert not mask.all(1).all()  # some centre's ball holds fewer than k points (or none)


def test_groups_take_the_nearest_points_whatever_their_order() -> None:
    """The reference and the module agree after the points are permuted: the ball keeps the
    k nearest within r, never the first k in memory order."""
    module = compile(LAYERS)
    random_parameters(module, 5)
    x, f, c, _, _ = cloud(6, [60], [10])
    perm = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    first = module(x=x, f=f, c=c)
    again = module(x=x[perm], f=f[perm], c=c)
    torch.testing.assert_close(again["msg"], first["msg"], rtol=0, atol=1e-6)
    torch.testing.assert_close(again["seg"], first["seg"][perm], rtol=0, atol=1e-6)


@pytest.mark.parametrize("graphs", [1, 3])
def test_layers_are_translation_and_permutation_invariant(graphs: int) -> None:
    """T(3) x S(points) x S(centres) in float64: independent permutations, batches with graphs
    without centres, centres on the points' lattice (ties)."""
    report = check(LAYERS, graphs=graphs, trials=6, every_value=True, seed=graphs)
    assert report.passed, report
