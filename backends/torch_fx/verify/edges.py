"""Edge correspondence: which old edge each new edge is after ``g``, per edge rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import Edges
from geoc.backends.torch_fx.verify.actions import AxisMap
from geoc.backends.torch_fx.verify.recorder import ValueRecorder
from geoc.domains import EdgeRule
from geoc.domains.axes import cross_sets
from geoc.ir import Graph


def _live(edges: Edges) -> Tensor:
    mask = edges[2]
    return torch.ones_like(edges[0], dtype=torch.bool) if mask is None else mask != 0


def same_order(old: Edges, new: Edges, perm: Tensor) -> AxisMap | None:
    """Given edges: ``edge_index`` was relabelled in place, edge ``j`` is still edge ``j``."""
    return AxisMap(torch.arange(new[0].shape[0]), _live(new))


def match_endpoints(
    old: Edges, new: Edges, perm: Tensor, perm_dst: Tensor | None = None
) -> AxisMap | None:
    """Built edges: new edge (s, d) is old edge (perm[s], perm_dst[d]) (``perm_dst``: the
    permutation of the ``dst`` axis of an edge set between two axes, else ``perm``); None if
    the sets differ."""
    perm_dst = perm if perm_dst is None else perm_dst.to(new[0].device)
    n = max(int(perm.numel()), 1)
    old_live, new_live = _live(old), _live(new)
    perm = perm.to(new[0].device)
    old_ids = old_live.nonzero().squeeze(-1)
    old_keys = old[1][old_ids] * n + old[0][old_ids]  # unique: every src is below n
    new_keys = perm_dst[new[1]] * n + perm[new[0]]
    order = torch.argsort(old_keys)
    sorted_keys = old_keys[order]
    at = torch.searchsorted(sorted_keys, new_keys).clamp(max=max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == new_keys if len(sorted_keys) else torch.zeros_like(new_live)
    if not bool((found | ~new_live).all()) or int(new_live.sum()) != len(old_ids):
        return None
    index = old_ids[order][at] if len(sorted_keys) else torch.zeros_like(new[0])
    return AxisMap(index, new_live)


EDGE_MATCHERS: dict[EdgeRule, Callable[[Edges, Edges, Tensor], AxisMap | None]] = {
    EdgeRule.GIVEN: same_order,
    EdgeRule.FULL: match_endpoints,
    EdgeRule.RADIUS: match_endpoints,
    EdgeRule.KNN: match_endpoints,
    EdgeRule.BALL: match_endpoints,
}


def match_images(
    old: tuple[Tensor, ...], new: tuple[Tensor, ...], perm: Tensor, lattice: Tensor | None
) -> AxisMap | None:
    """Periodic edges ``(src, dst, shift)``: new edge ``(s, d, t)`` is old edge ``(perm[s],
    perm[d], t + L[d] - L[s])``, ``L`` the lattice move of each (new) atom (zero if None); an
    atom may see several images of another, so the shift is part of the key."""
    moves = torch.zeros(perm.numel(), 3, dtype=torch.long) if lattice is None else lattice[perm]
    index = {tuple(key): e for e, key in enumerate(torch.cat(_keys(old), 1).tolist())}
    src, dst, shift = new
    shift = shift.cpu() + moves[dst.cpu()] - moves[src.cpu()]
    keys = torch.cat(_keys((perm[src.cpu()], perm[dst.cpu()], shift)), 1).tolist()
    found = [index.get(tuple(key)) for key in keys]
    if len(found) != len(index) or any(e is None for e in found):
        return None
    return AxisMap(torch.as_tensor(found, dtype=torch.long).reshape(-1), None)


def _keys(edges: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    src, dst, shift = (t.cpu() for t in edges)
    return src[:, None], dst[:, None], shift


def match_edges(
    ir: Graph,
    old: ValueRecorder,
    new: ValueRecorder,
    maps: Mapping[str, AxisMap],
    lattice: Tensor | None = None,
) -> AxisMap | None:
    """Which old edge each new edge is (None: the edge set changed under ``g``); ``lattice``:
    the atoms' lattice moves of a trial under a periodic cell."""
    if old.edges is None or new.edges is None:
        raise RuntimeError("no fx node named `edges` holds the edge set: the lowering changed")
    perm = maps[ir.domain.axis].index if ir.domain.axis in maps else torch.arange(0)
    if old.neighbours is not None and new.neighbours is not None:
        return match_images(old.neighbours, new.neighbours, perm, lattice)
    return EDGE_MATCHERS[ir.domain.edges](old.edges, new.edges, perm)


def match_edge_sets(
    ir: Graph, old: ValueRecorder, new: ValueRecorder, maps: Mapping[str, AxisMap]
) -> dict[str, AxisMap | None]:
    """Each edge set between axes by name: which old edge each new one is (None: that set
    changed under ``g``); new edge (s, d) is old edge (perm_src[s], perm_dst[d])."""
    found: dict[str, AxisMap | None] = {}
    for edges in cross_sets(ir.domains):
        name = edges.axis or ""
        if name not in old.edge_sets:  # not built: nothing reads its pairs, nothing to map
            continue
        pair = old.edge_sets[name], new.edge_sets[name]
        src, dst = (_end_map(maps, axis, pair, end) for end, axis in enumerate(edges.ends))
        found[name] = match_endpoints(*pair, src, dst)
    return found


def _end_map(maps: Mapping[str, AxisMap], axis: str, pair: tuple[Edges, Edges], end: int) -> Tensor:
    """The permutation of an edge set's end axis; a sampled axis, which no element permutes
    (its order is the geometry's), maps to itself over the elements the edges name."""
    if axis in maps:
        return maps[axis].index
    size = max((int(e[end].max()) + 1 for e in pair if e[end].numel()), default=0)
    return torch.arange(size)
