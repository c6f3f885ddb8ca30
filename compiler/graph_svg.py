"""A pure-Python SVG drawing of a :class:`~geoc.graph_picture.Picture`, for machines without
Graphviz: a layered layout in the style of Sugiyama et al.

1. Layers: longest path from the inputs (a node lies one layer below its deepest input).
2. Order: barycentre sweeps (each node moves to the mean position of its neighbours, down then
   up, four rounds) with clusters kept contiguous: a node sorts by its clusters' mean
   barycentres first, outermost first, then by its own.
3. Coordinates: each cluster is packed on its own, then placed as one rectangle that spans its
   layers; items go left to right in that order, each at the first x free in every layer it
   spans, so boxes and cluster rectangles never overlap.
4. Straight edges with arrowheads, drawn under the boxes; the marked value in red.

The SVG mirrors Graphviz's own (``<g class="node ...">`` with a ``<title>`` holding the node
id, ``<g class="edge">``, ``<g class="cluster">``), so one reader serves both.

``python -m geoc.graph_svg FOLDER`` writes one picture per built-in spec (docs/graphs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from xml.sax.saxutils import escape, quoteattr

from geoc.graph_picture import Box, Picture

FONT = 11  # px, monospace
CHAR_W = 6.7  # the width of one character at FONT px (DejaVu Sans Mono: 0.602 em)
LINE_H = 14
PAD_X, PAD_Y = 8, 5
GAP_X = 18  # between neighbours in a layer
LAYER_GAP = 34  # between layers, plus room for the cluster frames that start or end there
FRAME_TOP, FRAME_BOTTOM, FRAME_SIDE = 20, 8, 10  # a cluster's frame around its contents
MARGIN = 16
EDGE_CLEAR = 4  # how far a routed edge keeps from a box
ROUNDS = 4

STYLE = """
text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 11px; }
.title { font-size: 14px; font-weight: bold; }
.note { fill: #c00000; }
.node rect, .node ellipse { fill: #ffffff; stroke: #333333; }
.node.input rect { fill: #eef5ea; }
.node.output ellipse { fill: #f3eefa; }
.node.broken rect { fill: #ffd6d6; stroke: #c00000; stroke-width: 2.5; }
.node .id { font-weight: bold; }
.node .op { fill: #666666; font-style: italic; }
.node .type { fill: #1f4e8c; }
.edge path { fill: none; stroke: #555555; stroke-width: 1; }
.cluster rect { fill: #f6f8fc; stroke: #3a6ea5; stroke-dasharray: 4 2; }
.cluster text { fill: #3a6ea5; }
"""


@dataclass(frozen=True)
class Place:
    """Where a box or a cluster frame lies: its top-left corner and size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> float:
        return self.x + self.w / 2


def box_size(box: Box) -> tuple[float, float]:
    width = max(len(line) for line in box.lines) * CHAR_W + 2 * PAD_X
    if box.kind == "output":
        width += 2 * PAD_X  # an ellipse needs room at its ends
    return width, len(box.lines) * LINE_H + 2 * PAD_Y


def layers(pic: Picture) -> dict[str, int]:
    """Longest-path layering: sources on layer 0, every edge going down at least one layer."""
    preds = _neighbours(pic, reverse=True)
    layer: dict[str, int] = {}
    for box in pic.boxes:  # in evaluation order: every input comes first
        layer[box.id] = max((layer[p] + 1 for p in preds[box.id]), default=0)
    return layer


def _neighbours(pic: Picture, reverse: bool) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {b.id: [] for b in pic.boxes}
    for a, b in pic.edges:
        if reverse:
            found[b].append(a)
        else:
            found[a].append(b)
    return found


def _chain(pic: Picture, cluster: str | None) -> list[str]:
    """The clusters around a box, outermost first."""
    chain: list[str] = []
    while cluster is not None:
        chain.append(cluster)
        cluster = pic.clusters[cluster].parent
    return chain[::-1]


def order(pic: Picture, layer: dict[str, int]) -> dict[str, float]:
    """Positions within the layers after the barycentre rounds (the index in the layer)."""
    rows: dict[int, list[str]] = {}
    for box in pic.boxes:
        rows.setdefault(layer[box.id], []).append(box.id)
    pos = {n: float(i) for row in rows.values() for i, n in enumerate(row)}
    chains = {b.id: _chain(pic, b.cluster) for b in pic.boxes}
    preds, succs = _neighbours(pic, reverse=True), _neighbours(pic, reverse=False)
    for _ in range(ROUNDS):
        for towards in (preds, succs):
            bary = {n: fmean([pos[m] for m in towards[n]]) if towards[n] else pos[n] for n in pos}
            members: dict[str, list[float]] = {}
            for n, chain in chains.items():
                for cluster in chain:
                    members.setdefault(cluster, []).append(bary[n])
            weight = {c: fmean(v) for c, v in members.items()}

            def key(n: str) -> tuple[float, ...]:
                return (*(weight[c] for c in chains[n]), bary[n])  # noqa: B023

            for row in rows.values():
                row.sort(key=key)
                pos.update({n: float(i) for i, n in enumerate(row)})
    return pos


@dataclass
class _Item:
    """A box or a whole cluster, as its parent packs it."""

    id: str
    lo: int
    hi: int
    w: float
    key: float
    cluster: bool


def _pack(
    pic: Picture, cluster: str | None, layer: dict[str, int], pos: dict[str, float],
    sizes: dict[str, tuple[float, float]], offsets: dict[str, float],
) -> tuple[float, int, int, list[float]]:  # fmt: skip
    """Pack the contents of ``cluster`` from x = 0: fills ``offsets`` (relative to the parent
    for clusters, to this cluster for boxes) and returns its width, its layer span and the
    positions of every box inside."""
    items: list[_Item] = []
    inside: list[float] = []
    for box in pic.boxes:
        if box.cluster == cluster:
            items.append(_Item(box.id, layer[box.id], layer[box.id], sizes[box.id][0],
                               pos[box.id], False))  # fmt: skip
            inside.append(pos[box.id])
    for child in (c for c in pic.clusters.values() if c.parent == cluster):
        width, lo, hi, spots = _pack(pic, child.id, layer, pos, sizes, offsets)
        offsets[f"width:{child.id}"] = width
        items.append(_Item(child.id, lo, hi, width + 2 * FRAME_SIDE, fmean(spots), True))
        inside += spots
    items.sort(key=lambda item: item.key)
    skyline: dict[int, float] = {}
    for item in items:
        x = max(skyline.get(k, 0.0) for k in range(item.lo, item.hi + 1))
        offsets[("cluster:" if item.cluster else "") + item.id] = x
        skyline.update({k: x + item.w + GAP_X for k in range(item.lo, item.hi + 1)})
    width = max(skyline.values(), default=GAP_X) - GAP_X
    lo = min(item.lo for item in items) if items else 0
    hi = max(item.hi for item in items) if items else 0
    return width, lo, hi, inside


def _depths(pic: Picture) -> dict[str, int]:
    """How many frames a cluster holds, itself included: outer frames sit above inner ones."""
    depth = {c: 1 for c in pic.clusters}
    for cluster in sorted(pic.clusters.values(), key=lambda c: -c.depth):
        if cluster.parent is not None:
            depth[cluster.parent] = max(depth[cluster.parent], depth[cluster.id] + 1)
    return depth


def layout(pic: Picture, top: float = 0.0) -> tuple[dict[str, Place], dict[str, Place], float]:
    """Places of the boxes and of the cluster frames, and the drawing's width."""
    layer = layers(pic)
    pos = order(pic, layer)
    sizes = {b.id: box_size(b) for b in pic.boxes}
    offsets: dict[str, float] = {}
    width, _, _, _ = _pack(pic, None, layer, pos, sizes, offsets)
    depth = _depths(pic)
    deepest = max(depth.values(), default=0)
    gap = LAYER_GAP + (FRAME_TOP + FRAME_BOTTOM) * deepest
    heights: dict[int, float] = {}
    for box in pic.boxes:
        heights[layer[box.id]] = max(heights.get(layer[box.id], 0.0), sizes[box.id][1])
    y_top, y = {}, top + FRAME_TOP * deepest
    for k in range(max(heights, default=-1) + 1):
        y_top[k] = y
        y += heights.get(k, 0.0) + gap
    origin: dict[str | None, float] = {None: MARGIN}
    frames: dict[str, Place] = {}
    for cluster in sorted(pic.clusters.values(), key=lambda c: c.depth):  # parents first
        x = origin[cluster.parent] + offsets[f"cluster:{cluster.id}"]
        origin[cluster.id] = x + FRAME_SIDE
        spans = [layer[b.id] for b in pic.boxes if cluster.id in _chain(pic, b.cluster)]
        lo, hi = min(spans), max(spans)
        y0 = y_top[lo] - FRAME_TOP * depth[cluster.id]
        y1 = y_top[hi] + heights[hi] + FRAME_BOTTOM * depth[cluster.id]
        frames[cluster.id] = Place(x, y0, offsets[f"width:{cluster.id}"] + 2 * FRAME_SIDE, y1 - y0)
    places = {
        b.id: Place(origin[b.cluster] + offsets[b.id], y_top[layer[b.id]], *sizes[b.id])
        for b in pic.boxes
    }
    return places, frames, width + 2 * MARGIN


def render(pic: Picture) -> str:
    """The whole SVG document."""
    head = [pic.title, pic.subtitle, *(pic.mark.note.splitlines() if pic.mark else [])]
    top = MARGIN + len(head) * (LINE_H + 4) + 8
    places, frames, width = layout(pic, top)
    width = max(width, max(len(line) for line in head) * CHAR_W + 2 * MARGIN)
    bottom = max((p.y + p.h for p in [*places.values(), *frames.values()]), default=top)
    height = bottom + MARGIN
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" class="geoc-graph">',
        f"<title>{escape(pic.title)}</title>",
        "<defs>",
        f"<style>{STYLE}</style>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555555"/></marker>',
        "</defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *_header(head, pic.mark is not None),
        *_frames(pic, frames),
        *_edges(pic, places),
        *(_box(box, places[box.id]) for box in pic.boxes),
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def _header(lines: list[str], marked: bool) -> list[str]:
    out = []
    for i, line in enumerate(lines):
        cls = "title" if i == 0 else "note" if marked and i >= 2 else "subtitle"
        y = MARGIN + 12 + i * (LINE_H + 4)
        out.append(f'<text class="{cls}" x="{MARGIN}" y="{y}">{escape(line)}</text>')
    return out


def _frames(pic: Picture, frames: dict[str, Place]) -> list[str]:
    out = []
    for cluster in sorted(pic.clusters.values(), key=lambda c: c.depth):
        p = frames[cluster.id]
        out.append(
            f'<g class="cluster" id={quoteattr("cluster:" + cluster.id)}>'
            f"<title>{escape(cluster.id)}</title>"
            f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.w:.1f}" height="{p.h:.1f}" rx="6"/>'
            f'<text x="{p.x + 6:.1f}" y="{p.y + 14:.1f}">{escape(cluster.label)}</text></g>'
        )
    return out


def _edges(pic: Picture, places: dict[str, Place]) -> list[str]:
    rows: dict[float, list[Place]] = {}
    for place in places.values():
        rows.setdefault(place.y, []).append(place)
    out = []
    for a, b in pic.edges:
        out.append(
            f'<g class="edge"><title>{escape(f"{a}->{b}")}</title>'
            f'<path d="{route(places[a], places[b], rows)}" marker-end="url(#arrow)"/></g>'
        )
    return out


def route(src: Place, dst: Place, rows: dict[float, list[Place]]) -> str:
    """An edge's path: straight when it crosses no box, else down a free vertical lane
    through the layers in between (the lane nearest to both ends)."""
    x0, y0, x1, y1 = src.centre, src.y + src.h, dst.centre, dst.y
    between = [p for y, row in rows.items() if src.y < y < dst.y for p in row]

    def hits(p: Place, lo: float, hi: float) -> bool:
        return p.x - EDGE_CLEAR < hi and lo < p.x + p.w + EDGE_CLEAR

    def x_at(y: float) -> float:
        return x0 + (x1 - x0) * (y - y0) / (y1 - y0)

    if not any(hits(p, *sorted((x_at(p.y), x_at(p.y + p.h)))) for p in between):
        return f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"
    lanes = {x0, x1} | {p.x - GAP_X / 2 for p in between} | {p.x + p.w + GAP_X / 2 for p in between}
    free = [x for x in lanes if not any(hits(p, x, x) for p in between)]
    lane = min(free, key=lambda x: (abs(x - x0) + abs(x - x1), x))
    below = max(p.y + p.h for p in rows[src.y]) + EDGE_CLEAR * 2
    above = y1 - EDGE_CLEAR * 3
    return (
        f"M{x0:.1f},{y0:.1f} L{x0:.1f},{below:.1f} L{lane:.1f},{below:.1f} "
        f"L{lane:.1f},{above:.1f} L{x1:.1f},{above:.1f} L{x1:.1f},{y1:.1f}"
    )


def _box(box: Box, p: Place) -> str:
    classes = f"node {box.kind}" + (" broken" if box.broken else "")
    if box.kind == "output":
        shape = (
            f'<ellipse cx="{p.centre:.1f}" cy="{p.y + p.h / 2:.1f}" rx="{p.w / 2:.1f}" '
            f'ry="{p.h / 2:.1f}"/>'
        )
    else:
        shape = f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.w:.1f}" height="{p.h:.1f}" rx="3"/>'
    texts = []
    for i, line in enumerate(box.lines):
        role = "id" if i == 0 else "op" if i == 1 and box.kind == "value" else "type"
        y = p.y + PAD_Y + (i + 1) * LINE_H - 3
        texts.append(
            f'<text class="{role}" x="{p.centre:.1f}" y="{y:.1f}" text-anchor="middle">'
            f"{escape(line)}</text>"
        )
    tooltip = f"<title>{escape(box.id)}</title><desc>{escape(box.tooltip)}</desc>"
    return f'<g class="{classes}" id={quoteattr(box.id)}>{tooltip}{shape}{"".join(texts)}</g>'


def main(argv: list[str]) -> int:
    from geoc.cli.graph import write_builtin_pictures

    if len(argv) != 1:
        print("usage: python -m geoc.graph_svg FOLDER  (one SVG per built-in spec)")
        return 2
    for path in write_builtin_pictures(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
