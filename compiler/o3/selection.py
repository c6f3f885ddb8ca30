# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Selection rules of the O(3) tensor product: which irreps ``l1 ⊗ l2`` may produce.

``(l1, p1) ⊗ (l2, p2) = ⊕_{l=|l1-l2|}^{l1+l2} (l, p1 p2)`` (Clebsch–Gordan series; parity is
multiplicative because the inversion ``-I`` is central and acts on ``(l, p)`` as ``p``).
Irreps lists are sequences of ``(mul, l, p)`` with ``p = +1`` (``e``) or ``-1`` (``o``).

    >>> allowed_paths([(8, 0, 1), (8, 1, -1)], [(1, 1, -1)], [(8, 1, -1), (8, 0, 1)])
    [(0, 0, 0), (1, 0, 1)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

#: ``(mul, l, p)``: ``mul`` copies of the irrep of degree ``l`` and parity ``p``.
MulIrrep = tuple[int, int, int]


def triangle(l1: int, l2: int, l3: int) -> bool:
    """``|l1 - l2| <= l3 <= l1 + l2`` (symmetric in the three degrees)."""
    return abs(l1 - l2) <= l3 <= l1 + l2


def parity_allowed(p1: int, p2: int, p_out: int) -> bool:
    """``p_out = p1 p2``."""
    return p_out == p1 * p2


def path_allowed(ir1: tuple[int, int], ir2: tuple[int, int], ir_out: tuple[int, int]) -> bool:
    """Whether ``(l, p)`` irrep ``ir_out`` occurs in ``ir1 ⊗ ir2``."""
    return triangle(ir1[0], ir2[0], ir_out[0]) and parity_allowed(ir1[1], ir2[1], ir_out[1])


def irrep_product(ir1: tuple[int, int], ir2: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """The irreps ``(l, p)`` of ``ir1 ⊗ ir2``, by increasing ``l`` (e3nn's ``Irrep.__mul__``)."""
    (l1, p1), (l2, p2) = ir1, ir2
    for l in range(abs(l1 - l2), l1 + l2 + 1):
        yield l, p1 * p2


def allowed_paths(
    irreps_in1: Sequence[MulIrrep],
    irreps_in2: Sequence[MulIrrep],
    irreps_out: Sequence[MulIrrep],
) -> list[tuple[int, int, int]]:
    """Every ``(i1, i2, i_out)`` whose irreps couple, in e3nn's FullyConnectedTensorProduct
    order (``i1``, then ``i2``, then ``i_out``, each ascending). Multiplicities are ignored,
    so zero-multiplicity entries still get their paths, as in e3nn."""
    for irreps in (irreps_in1, irreps_in2, irreps_out):
        _check(irreps)
    return [
        (i1, i2, i_out)
        for i1, (_, l1, p1) in enumerate(irreps_in1)
        for i2, (_, l2, p2) in enumerate(irreps_in2)
        for i_out, (_, l_out, p_out) in enumerate(irreps_out)
        if path_allowed((l1, p1), (l2, p2), (l_out, p_out))
    ]


def _check(irreps: Sequence[MulIrrep]) -> None:
    for mul, l, p in irreps:
        if mul < 0 or l < 0 or p not in (1, -1):
            raise ValueError(f"bad irrep (mul={mul}, l={l}, p={p}); want mul, l >= 0, p = ±1")
