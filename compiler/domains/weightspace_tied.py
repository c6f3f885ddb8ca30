"""The equivariant maps that tying layers by skips adds (docs/weightspace.md, "Residual
networks").

Under untied permutations each layer moves alone, and an equivariant map between two blocks is
a product of per-layer maps: on each layer, partitions of its (at most one input and one
output) axes, pass-through or mean-then-broadcast. Tying the layers of a skip into one class
makes one permutation act on all of them, so the maps between two blocks are products over
*classes* of the maps of ``S(n)`` on tensor products of its permutation representation: one per
set partition of the class's input and output axes (Maron et al., ICLR 2019; Zhou et al., UNF).
The partitions whose every part stays within one layer are the untied maps, which
``dws_linear``'s terms already hold; this module lists the others, the *mixed* ones (a part
joining axes of two layers of a class: the diagonal of a skip layer's ``W_i``, its transpose,
the rows of ``W_i`` matched with those of ``W_(i-1)``, ...).

Each is written as an *orbit* map: the sum over index tuples that are equal within a part and
distinct across parts of a class (a factor ``1 - I`` per pair of parts), divided by how many
tuples each output entry sums (a constant of the layout, ``_tuples``; with padding the same map
applied to the mask, so each network counts its own neurons and padded and unpadded networks
agree), as one ``einsum`` on the blocks' canonical views ``[batch, *permuted axes, fixed x
channels]``. An orbit map commutes with every permutation of its class because it is defined
by equalities of indices only, which a permutation of the class preserves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import product
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geoc.domains.weightspace_layout import WeightSpace

#: One mixed map: source block, target block, the einsum (source view, then the factors), the
#: factors ("ones" | "eye" | "apart", size), and how many index tuples each output entry sums
#: when no network is padded (at least 1).
TiedMap = tuple[int, int, str, tuple[tuple[str, int], ...], int]

Point = tuple[str, int, int]  # ("in" | "out", canonical axis, layer)


def tied_maps(space: WeightSpace) -> tuple[TiedMap, ...]:
    """Every mixed orbit map between two blocks (none without skips)."""
    if not space.skips:
        return ()
    out = []
    for a, source in enumerate(space.blocks):
        for b, target in enumerate(space.blocks):
            points = [("in", j, k) for j, k in enumerate(source.hidden)]
            points += [("out", j, k) for j, k in enumerate(target.hidden)]
            classes: dict[int, list[Point]] = {}
            for point in points:
                classes.setdefault(space.tied[point[2]], []).append(point)
            for combo in product(*(list(_partitions(p)) for p in classes.values())):
                if any(len({k for _, _, k in part}) > 1 for parts in combo for part in parts):
                    out.append(_einsum(a, b, len(source.hidden), len(target.hidden), combo, space))
    return tuple(out)


def _partitions(points: list[Point]) -> Iterator[list[list[Point]]]:
    """Every set partition of ``points``."""
    if not points:
        yield []
        return
    first, rest = points[0], points[1:]
    for smaller in _partitions(rest):
        yield [[first], *smaller]
        for i in range(len(smaller)):
            yield [*smaller[:i], [first, *smaller[i]], *smaller[i + 1 :]]


def _einsum(
    source: int, target: int, n_in: int, n_out: int, combo: tuple, space: WeightSpace
) -> TiedMap:
    """The orbit map of one partition per class, as ``einsum`` subscripts: letters per part,
    a ``ones`` factor for a part only the output has (broadcast), an ``eye`` factor for each
    further output axis of a part (a diagonal), ``apart`` (``1 - I``) for two parts of one
    class."""
    letters = iter("abcdefghijklmnopqrstuvwx")
    ins, outs = [""] * n_in, [""] * n_out
    factors: list[tuple[str, str, int]] = []
    number = 1
    for parts in combo:
        number *= _tuples(parts, space.sizes[parts[0][0][2]])
        named = []
        for part in parts:
            letter, size = next(letters), space.sizes[part[0][2]]
            named.append((letter, size))
            seen_out = False
            for side, axis, _ in part:
                if side == "in":
                    ins[axis] = letter
                elif not seen_out:
                    outs[axis], seen_out = letter, True
                else:
                    fresh = next(letters)
                    outs[axis] = fresh
                    factors.append(("eye", letter + fresh, size))
            if all(side == "out" for side, _, _ in part):
                factors.append(("ones", letter, size))
        for i, (p, size) in enumerate(named):
            factors += [("apart", p + q, size) for q, _ in named[i + 1 :]]
    operands = ["Z" + "".join(ins) + "Y", *(subs for _, subs, _ in factors)]
    equation = ",".join(operands) + "->Z" + "".join(outs) + "Y"
    return source, target, equation, tuple((kind, size) for kind, _, size in factors), number


def _tuples(parts: list[list[Point]], n: int) -> int:
    """How many index tuples an output entry of one class sums: the parts only the input has
    take distinct indices, none that of a part the output has (at least 1: where there are
    none the sum is zero anyway)."""
    fixed = sum(any(side == "out" for side, _, _ in part) for part in parts)
    summed = len(parts) - fixed
    return max(math.perm(max(n - fixed, 0), summed), 1)
