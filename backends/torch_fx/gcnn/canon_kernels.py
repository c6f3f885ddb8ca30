"""Canonicalisation of images under the rotations of a square torus grid (Kaba et al. 2023,
"Equivariance with learned canonicalization functions", arXiv:2211.06489), the runtime half
of a C(4) canonicaliser: a score per group element picks one, and the image is turned back
by it, so the turned image no longer depends on how the input was rotated.

A field is ``[B, C, n, n]`` (channels first). The group acts as the checker moves fields,
``(g·f)(p) = f(g⁻¹ p mod n)`` (``GridMove._turn``), about the grid's origin. ``sources[k]``
(:func:`turned_sources`) lists, for every point ``p`` (row-major), the flat index of
``g_k p mod n``: gathering with it gives ``g_k⁻¹·f``. Scores are ``[B, |G|]`` in the order
of the elements, equivariant in the sense ``s(g·f)[index(g g_k)] = s(f)[k]`` (a `regular`
output of a lifting / group convolution pooled over the grid).

**Ties.** The chosen element ``a(f)`` is an argmax of the scores; scores within
``sqrt(eps) · max|s|`` of the largest (``eps`` of the dtype: 1.5e-8 relative in float64) count
as tied, so that scores equal in exact arithmetic but not after rounding (a score network
whose sums run in another order on a turned image) tie, and among the tied the one whose
turned image ``g_a⁻¹·f`` is lexicographically largest (channels, then rows, then columns)
wins. The tied set moves with the input (``g`` maps the maximisers of ``s(f)`` onto
those of ``s(g·f)``) and ``g_{g k}⁻¹·(g·f) = g_k⁻¹·f``, so both the candidates and the order
among them are the same for ``f`` and ``g·f``: the output is exactly invariant under every
element of the group whenever the scores of ``g·f`` are the permutation of those of ``f``
up to rounding and none lies within rounding of the edge of the tie band (a measure-zero
set of inputs). Candidates whose images are equal are interchangeable. The key is not
shift-invariant: under ``T(2) x C(4)`` a tie between rotations is broken consistently only for
rotations.
Imports only torch (copied into exported modules).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _lex_greater(a: Tensor, b: Tensor) -> Tensor:
    """``[B]``: whether the rows of ``a`` are lexicographically greater than those of ``b``
    (the sign of their first difference; equal rows are not greater)."""
    diff = a - b
    first = (diff != 0).to(torch.uint8).argmax(dim=1, keepdim=True)  # first differing entry
    return diff.gather(1, first).squeeze(1) > 0


def turned_sources(elements: Tensor, size: int) -> Tensor:
    """``[|G|, size²]``: the flat index of ``g_k p mod size`` for each point ``p`` (row-major)
    of a ``size x size`` grid and integer matrix ``g_k`` (``elements``, ``[|G|, 2, 2]``)."""
    line = torch.arange(size, device=elements.device)
    rows, cols = torch.meshgrid(line, line, indexing="ij")
    moved = (elements @ torch.stack((rows.flatten(), cols.flatten()))) % size  # [G, 2, size²]
    return moved[:, 0] * size + moved[:, 1]


def canonicalise_c4(x: Tensor, scores: Tensor, elements: Tensor) -> Tensor:
    """``g_a⁻¹·x`` per sample, ``a`` the score argmax with the lexicographic tie-break above;
    ``elements`` are the group's integer matrices in the order of the scores. The table is
    built from the image's own (square) size, so a model runs at any resolution.

    Only comparisons and a gather: the selected image is a permutation of ``x``'s points, its
    gradient flows to ``x`` (none to the scores: the choice is piecewise constant)."""
    batch, channels = x.shape[:2]
    sources = turned_sources(elements, x.shape[-1])
    turned = x.flatten(2)[:, :, sources]  # [B, C, G, n²]: every candidate g_k⁻¹·x
    flat = turned.transpose(1, 2).flatten(2)  # [B, G, C·n²] in lexicographic order
    top = scores.amax(dim=1, keepdim=True)
    band = torch.finfo(scores.dtype).eps ** 0.5 * scores.abs().amax(dim=1, keepdim=True)
    tied = scores >= top - band
    best = flat[:, 0]
    found = tied[:, 0]
    for k in range(1, elements.shape[0]):
        take = tied[:, k] & (~found | _lex_greater(flat[:, k], best))
        best = torch.where(take[:, None], flat[:, k], best)
        found = found | tied[:, k]
    return best.reshape(batch, channels, *x.shape[2:])


__all__ = ["canonicalise_c4", "turned_sources"]
