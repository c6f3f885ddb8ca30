"""Point clouds for ``geoc check``: positions that stress a point cloud's edge rule, yet give
an edge set that every isometry keeps exactly (the rules are in geoc.domains.pointcloud).

Each trial has a :class:`Layout`: general position; ties (part of every cloud on a randomly
rotated cubic lattice, so knn sees many neighbours tied with the k-th); degenerate (two
coincident points, for ``radius`` a node without edges, and in a batch a one-node graph and,
for ``radius``, a graph with no edge at all). Every graph is redrawn until it is *stable*: no
distance within rounding of a rule's boundary (``r`` for radius, ``(1 + tol) d_k`` for knn),
where the rule itself could not be exact. Ties at ``d_k`` are kept: the knn rule must handle
them (with ``tol = 0`` it cannot, and the check rightly fails).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np

from geoc.domains import EdgeRule
from geoc.domains.axes import samples
from geoc.ir import Graph

#: Relative distance from a rule's boundary below which a cloud is redrawn (radius: of ``r``).
RADIUS_MARGIN = 1e-3
#: Relative difference below which two distances count as tied (lattice ties differ by rounding).
TIED = 1e-9


class Layout(enum.Enum):
    """What a trial's inputs stress, in turn (``trial % 3``), so three trials see them all."""

    GENERAL = "general position"  # distinct points, no ties
    TIES = "ties"  # part of each cloud on a randomly rotated cubic lattice: many equal distances
    DEGENERATE = "degenerate"  # coincident points, one-node graphs, graphs without edges


def layout_of(trial: int) -> Layout:
    return list(Layout)[trial % len(Layout)]


def stable_positions(
    ir: Graph,
    rng: np.random.Generator,
    sizes: Sequence[int],
    layout: Layout = Layout.GENERAL,
    tries: int = 200,
) -> np.ndarray:
    """Positions of every graph of a batch, each redrawn until stable (module docstring).

    Radius clouds are scaled so about half the pairs are within ``r``.
    """
    clouds = []
    for graph, size in enumerate(sizes):
        for _ in range(tries):
            cloud = _draw_cloud(ir, rng, size, layout, graph)
            if _stable(cloud, ir):
                break
        else:
            raise RuntimeError(f"no stable point cloud of {size} nodes for {ir.domain}")
        clouds.append(cloud)
    return np.concatenate(clouds)


def _draw_cloud(
    ir: Graph, rng: np.random.Generator, size: int, layout: Layout, graph: int
) -> np.ndarray:
    domain, dim = ir.domain, ir.domain.dim or 3
    radial = domain.edges in (EdgeRule.RADIUS, EdgeRule.BALL)
    radius = domain.edge_arg if radial and domain.edge_arg else None
    scale = radius / 2.2 if radius else 1.0
    cloud = rng.normal(size=(size, dim)) * scale
    if layout is Layout.TIES:
        return _with_lattice(cloud, rng, radius / 1.7 if radius else 1.0)
    if layout is Layout.DEGENERATE and size > 1:
        if radius and graph % 3 == 2:  # no pair within the cutoff: an empty edge set
            return _spread(rng, size, dim, radius)
        if samples(ir.domains):  # FPS takes the lower index of coincident points: no pair
            return cloud  # (values other than positions gathered there would depend on order)
        return _with_coincident(cloud, rng, 10 * radius if radius else None)
    return cloud


def _rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def _with_lattice(cloud: np.ndarray, rng: np.random.Generator, spacing: float) -> np.ndarray:
    """All but two points (at least one) replaced by corners of a rotated, shifted cube."""
    size, dim = cloud.shape
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * dim, indexing="ij")).reshape(dim, -1).T
    count = min(max(size - 2, 1), len(corners))
    chosen = corners[rng.choice(len(corners), size=count, replace=False)]
    cloud = cloud.copy()
    cloud[:count] = (chosen - 0.5) @ _rotation(rng, dim).T * spacing + rng.normal(size=dim)
    return cloud[rng.permutation(size)]


def _with_coincident(cloud: np.ndarray, rng: np.random.Generator, far: float | None) -> np.ndarray:
    """Two nodes at the same point and, given ``far`` (radius clouds: a node without edges,
    ``far`` away from every other) and three or more nodes, one node that far out. Other
    rules get no far node: large distances only inflate the values (EGNN's ``sqnorm(r)``)."""
    size = len(cloud)
    cloud = cloud.copy()
    first, second, *rest = rng.permutation(size)
    cloud[second] = cloud[first]
    if rest and far is not None:
        cloud[rest[0]] = cloud[first] + far * (1.0 + rng.random(cloud.shape[1]))
    return cloud


def _spread(rng: np.random.Generator, size: int, dim: int, radius: float) -> np.ndarray:
    """Points on a rotated line, ``2r`` apart with small jitter: no pair closer than ``r``."""
    line = np.zeros((size, dim))
    line[:, 0] = 2.0 * radius * np.arange(size)
    line += rng.normal(size=(size, dim)) * 0.1 * radius
    return line @ _rotation(rng, dim).T


def _stable(cloud: np.ndarray, ir: Graph) -> bool:
    """No distance within rounding of the edge rule's boundary (ties at ``d_k`` allowed): ``r``
    for radius and ball, ``(1 + tol) d_k`` for knn and ball (among the distances below ``r``)."""
    rule, arg = ir.domain.edges, ir.domain.edge_arg
    if len(cloud) < 2 or rule not in (EdgeRule.RADIUS, EdgeRule.KNN, EdgeRule.BALL) or arg is None:
        return True
    dist = np.linalg.norm(cloud[:, None] - cloud[None], axis=-1)
    others = np.sort(dist[~np.eye(len(cloud), dtype=bool)].reshape(len(cloud), -1), axis=1)
    if rule is not EdgeRule.KNN and not np.all(np.abs(others - arg) > RADIUS_MARGIN * arg):
        return False
    if rule is EdgeRule.RADIUS:
        return True
    k = int(arg) if rule is EdgeRule.KNN else int(ir.domain.edge_k or 1)
    if rule is EdgeRule.BALL:  # the k-th among the distances below r
        others = np.where(others < arg, others, np.inf)
    return _knn_stable(others, k, ir.domain.edge_tol or 0.0)


def _knn_stable(others: np.ndarray, k: int, tol: float) -> bool:
    """Each row's sorted distances (``inf``: not a candidate) clear of ``(1 + tol) d_k``."""
    if k > others.shape[1]:  # every other node is a neighbour
        return True
    kth = others[:, k - 1 : k]
    finite = np.isfinite(kth[:, 0])
    others, kth = others[finite], kth[finite]
    with np.errstate(invalid="ignore"):  # inf - inf where a row has fewer than k candidates
        tied = np.abs(others - kth) <= TIED * kth
        clear = np.abs(others - (1 + tol) * kth) > max(tol / 10, 1e-6) * kth
    return bool(np.all(tied | clear | ~np.isfinite(others)))
