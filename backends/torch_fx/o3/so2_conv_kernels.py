# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""eSCN's own SO(2) convolution ``so2_conv`` (Passaro & Zitnick, ICML 2023): torch-only runtime
kernel (copied next to exported models). Index tables come from ``o3/so2_conv.py`` as buffers;
an irreps value is ``[E, Σ mul (2l+1)]`` in e3nn's layout, components ``m = -l..l``, polar
axis ``y``. The edge frames and Wigner matrices are those of ``tp_conv(algorithm=so2)``
(``so2_kernels.edge_wigner``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import unit_vector
from geoc.backends.torch_fx.o3.so2_kernels import edge_wigner

#: ``(mul, l)`` of each term of the input or output irreps.
Terms = tuple[tuple[int, int], ...]


def _rotate(x: Tensor, wigner: list[Tensor], terms: Terms, mmax: int, back: bool) -> Tensor:
    """Into the edge frame, ``D^lᵀ x`` keeping the rows ``|m| <= mmax`` (``[mul, 2 mm + 1]``
    per term, ``mm = min(l, mmax)``), or back (``back``), ``D^l y`` of such rows: the other
    orders are zero there, so only the columns ``|m| <= mmax`` of ``D^l`` are read, and the
    rotations cost ``O(mul l mmax)`` per term instead of ``O(mul l²)``."""
    parts = []
    widths = [mul * (2 * min(l, mmax) + 1 if back else 2 * l + 1) for mul, l in terms]
    for block, (mul, l) in zip(x.split(widths, 1), terms, strict=True):
        if l > 0:  # rows are channels: x D = (Dᵀ x)ᵀ, x Dᵀ = (D x)ᵀ
            mm = min(l, mmax)
            d = wigner[l][:, :, l - mm : l + mm + 1]  # the columns |m| <= mmax
            block = block.reshape(x.shape[0], mul, 2 * mm + 1 if back else 2 * l + 1)
            block = torch.bmm(block, d.transpose(1, 2) if back else d).flatten(1)
        parts.append(block)
    return torch.cat(parts, 1)


def _times(a: Tensor, w: Tensor) -> Tensor:
    """``a @ w`` as ``linear`` (as the radial MLP): ``matmul`` guards on an unbacked edge count
    under dynamo (radius graphs; see so2_kernels.rotate_in)."""
    return torch.nn.functional.linear(a, w.t())


def so2_conv(
    x: Tensor,
    r: Tensor,
    radial: Tensor,
    weights: list[Tensor],
    couplings: list[Tensor],
    in_terms: Terms,
    out_terms: Terms,
    gather: list[Tensor],
    scatter: Tensor,
    mmax: int,
) -> Tensor:
    """``D(R_e) M_e D(R_e)ᵀ x`` per edge: ``x`` ``[E, dim_in]``, edge vectors ``r`` ``[E, 3]``,
    radial weights ``radial`` ``[E, Σ_m n_in(m)]``; ``[E, dim_out]`` (0 where ``r = 0``).

    ``gather[m]`` ``[2, n_in(m)]`` (``[1, n_in(0)]`` at ``m = 0``): the columns of the rotated
    input (orders ``|m| <= mmax`` kept, ``[mul, 2 min(l, mmax) + 1]`` per term) holding
    components ``+m`` and ``-m`` (degrees ``l >= m``, channel by channel);
    ``weights[m]``: ``W`` ``[n_in(0), n_out(0)]`` at ``m = 0``, ``(W1, W2)`` ``[2, n_in(m),
    n_out(m)]`` above (parity masks already applied); ``scatter``: the column of
    ``[y_0, y_1+, y_1-, ...]`` that each kept output component (``|m| <= mmax``) takes.
    """
    wigner = edge_wigner(r, 0, couplings)
    rotated = _rotate(x, wigner, in_terms, mmax, back=False)
    # A zero (or subnormal) edge vector has no frame: its output is 0, the only value that
    # every rotation keeps (its frame is the identity, which would not be equivariant).
    radial = radial * (unit_vector(r) != 0).any(-1, keepdim=True).to(radial.dtype)
    scales = radial.split([g.shape[1] for g in gather], 1)
    pieces = []
    for m, (cols, scale, w) in enumerate(zip(gather, scales, weights, strict=True)):
        if cols.shape[1] == 0:  # no input degree reaches m: zeros (an empty mm's backward
            pieces += [x.new_zeros(x.shape[0], w.shape[-1])] * len(cols)  # guards on E = 1)
            continue
        if m == 0:
            pieces.append(_times(rotated.index_select(1, cols[0]) * scale, w))
            continue
        plus = rotated.index_select(1, cols[0]) * scale  # the radial weight of ±m is shared
        minus = rotated.index_select(1, cols[1]) * scale
        # [[W1, -W2], [W2, W1]] on (+m, -m)
        pieces += [_times(plus, w[0]) - _times(minus, w[1])]
        pieces += [_times(plus, w[1]) + _times(minus, w[0])]
    y = torch.cat(pieces, 1).index_select(1, scatter)
    return _rotate(y, wigner, out_terms, mmax, back=True)
