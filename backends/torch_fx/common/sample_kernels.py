"""Order-independent farthest-point sampling, batched per graph (docs/language.md, "Sampled
axes"). Plain PyTorch; copied next to exported modules like every kernel module.

Per graph, the first centre is the point farthest from the graph's centroid, each next one the
point farthest from the centres chosen so far (its distance: to the nearest of them). Ties are
broken without looking at the input order: every point whose squared distance is at least
``(1 - tol)`` times the largest is a candidate, and the candidate whose position comes first in
lexicographic order (x, then y, ...) wins; only between points at one same position does the
lower index win. So the chosen points and their order are a function of the positions:

* exact under any permutation of the points (up to which of several coincident points is taken);
* exact under isometries (and translations) whenever, at every step, the largest distance
  exceeds every other by more than the relative ``tol``; within ``tol`` the lexicographic rule
  still holds under permutations and translations, but a rotation may reorder it.

A graph with fewer than ``m`` points gives all of them (eagerly: ``min(m, n_g)`` centres per
graph); traced, the output has ``num_graphs * m`` rows (static shapes) and a graph with fewer
points is refused (``GEO640``). The selection carries no gradient: gradients flow through the
values gathered at the chosen indices.

Cost: ``m`` steps of ``O(n)`` each (one distance per point to the newest centre, an in-place
minimum, a per-graph maximum and the first candidate), after one ``O(n log n)`` lexicographic
sort. Eagerly a batch is a padded table, a graph per row (``O(graphs * widest graph)`` per step,
one sync for the width); traced, every step reduces over all points per graph (scatter).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import _shapes_must_be_static
from geoc.backends.torch_fx.common.validate_kernels import _require

#: The default relative tie tolerance (geoc.domains.sample.FPS_TOL, which the lowering passes).
FPS_DEFAULT_TOL = 1e-6


def fps(pos: Tensor, batch: Tensor | None, num_graphs: int, m: int, tol: float) -> Tensor:
    """Indices of the sampled points, graph by graph, each graph's in the order chosen
    (module docstring). ``pos`` ``[n, d]``; ``batch`` ``[n]`` graph indices or None."""
    p = _working(pos)
    n = p.shape[0]
    static = _shapes_must_be_static(pos) or pos.device.type == "meta"  # no values to count
    if batch is None:
        if not static and n == 0:
            return torch.zeros(0, dtype=torch.long, device=pos.device)
        chosen, valid = _fps_one(p, m, tol)
        graphs = 1
    elif static:  # every step one scatter over all points: shapes independent of the data
        chosen, valid = _fps_batched(p, batch, num_graphs, m, tol)
        graphs = num_graphs
    else:  # eagerly, graphs as rows of a padded table (one sync for its width)
        chosen, valid = _fps_rows(p, batch, num_graphs, m, tol)
        graphs = num_graphs
    if static:
        _require(valid.all(), "GEO640", "batch", _FEWER)
        return chosen.reshape(graphs * m)
    return chosen[valid]


def sampled_batch(batch: Tensor | None, index: Tensor) -> Tensor | None:
    """The graph of each sampled point (None for one graph, like ``batch``)."""
    return None if batch is None else batch.index_select(0, index)


_FEWER = (
    "a graph has fewer points than the centres a traced `fps(m)` takes from each graph "
    "(traced shapes are num_graphs * m); run it eagerly, or give every graph at least m points"
)


def _working(pos: Tensor) -> Tensor:
    """Positions without gradient, in float32 at least (half precision would tie distances)."""
    p = pos.detach()
    return p if p.dtype in (torch.float32, torch.float64) else p.float()


def lexicographic_order(p: Tensor) -> Tensor:
    """The points in lexicographic order of their coordinates (coincident points: lower index
    first): stable sorts from the last coordinate to the first. Sampling runs on the points in
    this order, so its arithmetic (sums included) is the same for every input order."""
    order = torch.arange(p.shape[0], device=p.device)
    for k in range(p.shape[1] - 1, -1, -1):
        order = order[torch.sort(p[order, k], stable=True).indices]
    return order


def _fps_one(p: Tensor, m: int, tol: float) -> tuple[Tensor, Tensor]:
    """One graph: ``[m]`` indices and which are real (not steps after the last point)."""
    if p.shape[0] == 0:  # traced with no point: nothing is real (GEO640)
        none = torch.zeros(m, dtype=torch.long, device=p.device)
        return none, none.bool()
    order = lexicographic_order(p)
    coords = p[order].T.contiguous()  # one contiguous row per coordinate: fast distances
    dist = _sqdist(coords, coords.mean(1, keepdim=True))  # the start: farthest from the centroid
    step, work = torch.empty_like(dist), torch.empty_like(dist)
    found, ok = [], []
    eager_host = dist.device.type == "cpu" and not _shapes_must_be_static(p)  # syncs are free
    for t in range(m):
        top = dist.max()
        band = torch.ge(dist, (top * (1.0 - tol)).clamp(min=0.0))
        place = band.to(torch.uint8).argmax()  # the first candidate: lexicographically smallest
        found.append(place)
        ok.append(top >= 0)
        at = place.reshape(1)  # a tensor index: traced, a 0-d index would be read as an int
        _sqdist(coords, coords.index_select(1, at), out=step, work=work)
        if t == 0:  # from now on: the distance to the nearest centre
            dist.copy_(step)
        else:
            torch.minimum(dist, step, out=dist)
        dist.index_fill_(0, at, -1.0)  # never a candidate again (distances are >= 0)
        if eager_host and not ok[-1]:
            break  # every point taken (on the host only: elsewhere this would be a sync)
    got = len(found)
    index = torch.zeros(m, dtype=torch.long, device=p.device)
    valid = torch.zeros(m, dtype=torch.bool, device=p.device)
    if got:
        index[:got], valid[:got] = order[torch.stack(found)], torch.stack(ok)
    return index, valid


def _sqdist(
    coords: Tensor, centre: Tensor, out: Tensor | None = None, work: Tensor | None = None
) -> Tensor:
    """Squared distances of the points (``[d, n]``, a row per coordinate) to ``centre``
    (``[d, 1]``), summed coordinate by coordinate into ``out`` with ``work`` as scratch."""
    out = torch.empty_like(coords[0]) if out is None else out
    work = torch.empty_like(coords[0]) if work is None else work
    torch.sub(coords[0], centre[0], out=work)
    torch.mul(work, work, out=out)
    for k in range(1, coords.shape[0]):
        torch.sub(coords[k], centre[k], out=work)
        out.addcmul_(work, work)
    return out


def _fps_rows(p: Tensor, batch: Tensor, graphs: int, m: int, tol: float) -> tuple[Tensor, Tensor]:
    """Every graph at once, eagerly: each graph a row of a padded ``[graphs, width]`` table of
    its points in lexicographic order (padding at -inf: never a candidate), the same steps as
    :func:`_fps_one` row by row. ``[graphs, m]`` indices and which are real."""
    n, dim = p.shape
    order = lexicographic_order(p)
    order = order[torch.sort(batch[order], stable=True).indices]  # by graph, then lexicographic
    counts = torch.bincount(batch, minlength=graphs)
    width = int(counts.max()) if n else 0
    found = torch.zeros(graphs, m, dtype=torch.long, device=p.device)
    ok = torch.zeros(graphs, m, dtype=torch.bool, device=p.device)
    if width == 0:
        return found, ok
    row = batch[order]
    col = torch.arange(n, device=p.device) - (torch.cumsum(counts, 0) - counts)[row]
    index = torch.zeros(graphs, width, dtype=torch.long, device=p.device)
    index[row, col] = order
    real = torch.arange(width, device=p.device) < counts.unsqueeze(1)  # each graph's first slots
    table = p.new_zeros(graphs, width, dim)
    table[row, col] = p[order]
    coords = table.permute(2, 0, 1).contiguous()  # [dim, graphs, width]
    centroid = table.sum(1) / counts.clamp(min=1).to(p.dtype).unsqueeze(1)  # padding adds 0
    dist = _sqdist(coords, centroid.T.unsqueeze(-1)).masked_fill(~real, float("-inf"))
    step, work = torch.empty_like(dist), torch.empty_like(dist)
    for t in range(m):
        top = dist.amax(1)
        band = dist >= (top * (1.0 - tol)).clamp(min=0.0).unsqueeze(1)
        place = band.to(torch.uint8).argmax(1, keepdim=True)  # each row's first candidate
        found[:, t], ok[:, t] = index.gather(1, place).squeeze(1), top >= 0
        centre = coords.gather(2, place.unsqueeze(0).expand(dim, graphs, 1))
        _sqdist(coords, centre, out=step, work=work)
        if t == 0:  # from now on: the distance to the nearest centre (padding stays -inf)
            dist = step.masked_fill(~real, float("-inf"))
        else:
            torch.minimum(dist, step, out=dist)
        dist.scatter_(1, place, -1.0)  # never a candidate again
    return found, ok


def _fps_batched(
    p: Tensor, batch: Tensor, graphs: int, m: int, tol: float
) -> tuple[Tensor, Tensor]:
    """Every graph at once: ``[graphs, m]`` indices and which are real."""
    n = p.shape[0]
    order = lexicographic_order(p)
    p, batch = p[order], batch[order]
    count = torch.zeros(graphs, dtype=p.dtype, device=p.device).index_add_(0, batch, p.new_ones(n))
    centroid = torch.zeros(graphs, p.shape[1], dtype=p.dtype, device=p.device)
    centroid = centroid.index_add_(0, batch, p) / count.clamp(min=1).unsqueeze(1)
    dist = (p - centroid[batch]).square().sum(1)
    places = torch.arange(n, device=p.device)
    sentinel = torch.full_like(places, n)
    found = torch.zeros(graphs, m, dtype=torch.long, device=p.device)
    ok = torch.zeros(graphs, m, dtype=torch.bool, device=p.device)
    for t in range(m):
        top = dist.new_full((graphs,), -1.0).scatter_reduce(0, batch, dist, "amax")
        band = dist >= (top * (1.0 - tol)).clamp(min=0.0)[batch]
        key = torch.where(band, places, sentinel)
        place = sentinel.new_full((graphs,), n).scatter_reduce(0, batch, key, "amin")
        real = place < n
        place = place.clamp(max=max(n - 1, 0))
        found[:, t], ok[:, t] = order[place] if n else place, real
        step = (p - p[place][batch]).square().sum(1) if n else dist
        dist = step if t == 0 else torch.minimum(dist, step)  # then: to the nearest centre
        taken = torch.where(real, -1.0, float("inf")).to(dist.dtype)
        dist = dist.scatter_reduce(0, place, taken, "amin")  # taken: never a candidate again
    return found, ok
