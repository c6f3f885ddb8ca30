# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""eSCN's SO(2) convolution (Passaro & Zitnick, ICML 2023): torch-only runtime kernels.

Copied next to exported models (``geoc_runtime_so2.py``), so it imports only torch (and the
common kernels, copied with it). The
constant tables come from ``geoc.backends.torch_fx.o3.escn`` as buffers; the shapes here follow
e3nn's layout (``docs/o3_conventions.md``): an irreps value is ``[rows, Σ mul (2l+1)]``,
each term ``[mul, 2l+1]`` flattened, components ``m = -l..l``, polar axis ``y``.

Per edge with direction ``r̂``: rotate the source features into the frame where ``r̂`` is the
polar axis (``D(R)ᵀ``), where the harmonics have only their ``m = 0`` component; there each
path of the channelwise tensor product maps component ``m`` of ``l1`` to component ``±m`` of
``l_out`` times one coefficient; rotate the result back with ``D(R)``. Exact, not approximate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.kernels import unit_vector
from geoc.backends.torch_fx.common.precision_kernels import accumulate, full, geometry, settle

# --- edge frames ------------------------------------------------------------------------------


def edge_rotation(direction: Tensor) -> Tensor:
    """Rotations ``R`` ``[E, 3, 3]`` with ``R ŷ = r̂``, ``r̂ = direction / |direction|``.

    Two charts of the minimal rotation (Rodrigues), each rational in ``r̂`` and used where
    its denominator is at least 1: from ``+ŷ`` when ``r̂_y >= 0``, else from ``-ŷ`` composed
    with a half turn about ``z``. Smooth (gradients included) at ``r̂ = ±ŷ``; a zero
    ``direction`` gives the identity. ``direction`` may have any positive scale, so the
    ``l = 1`` block of component-normalised harmonics (``√3 r̂``) works as it is.
    """
    # Zero (or subnormal) vectors become ŷ, with zero derivatives.
    unit = unit_vector(direction)
    polar = direction.new_tensor((0.0, 1.0, 0.0)).expand_as(direction)
    x, y, z = torch.where((unit == 0).all(-1, keepdim=True), polar, unit).unbind(-1)
    up = 1.0 / (1.0 + y).clamp_min(0.5)  # chart from +ŷ, selected where y >= 0
    down = 1.0 / (1.0 - y).clamp_min(0.5)  # chart from -ŷ, selected where y < 0
    above = [y + z * z * up, x, -x * z * up, -x, y, -z, -x * z * up, z, y + x * x * up]
    below = [y - z * z * down, x, -x * z * down, -x, y, z, x * z * down, z, -y + x * x * down]
    pick = (y >= 0).unsqueeze(-1)
    rows = torch.where(pick, torch.stack(above, -1), torch.stack(below, -1))
    return rows.reshape(*x.shape, 3, 3)


def wigner_matrices(rotation: Tensor, couplings: list[Tensor]) -> list[Tensor]:
    """``[D^0(R), ..., D^L(R)]``, each ``[E, 2l+1, 2l+1]``, for ``L = len(couplings) + 1``.

    ``D^1(R) = R`` (the ``l = 1`` basis is Cartesian) and
    ``D^l = Pᵀ (D^{l-1} ⊗ R) P`` with ``P = couplings[l-2]`` ``[2l-1, 3, 2l+1]`` the isometry
    ``√(2l+1) C^{l-1,1,l}`` of ``l`` into ``(l-1) ⊗ 1``: polynomial in ``R``, so smooth, and
    orthogonal to rounding at every degree.
    """
    matrices = [rotation.new_ones(rotation.shape[0], 1, 1), rotation]
    for p in couplings:
        p = p.to(rotation.dtype)  # tables are float64 buffers: exact in a float64 run
        right = torch.einsum("ejn,knc->ejkc", rotation, p)  # [E, 3, 2l-1, 2l+1]
        both = torch.einsum("eik,ejkc->eijc", matrices[-1], right)  # [E, 2l-1, 3, 2l+1]
        matrices.append(torch.einsum("ija,eijc->eac", p, both))
    return matrices


def edge_wigner(sh: Tensor, sh_l1: int, couplings: list[Tensor]) -> list[Tensor]:
    """Wigner matrices of the edge frames, with ``r̂`` read from the ``l = 1`` harmonics at
    column ``sh_l1`` (``-1``: no ``l = 1`` block; the identity frame then serves)."""
    sh = full(sh)  # geometry: the frames stay in float32 under autocast (precision_kernels)
    with geometry(sh.device):
        if sh_l1 < 0:
            eye = torch.eye(3, dtype=sh.dtype, device=sh.device).expand(sh.shape[0], 3, 3)
            return wigner_matrices(eye, couplings)
        return wigner_matrices(edge_rotation(sh[:, sh_l1 : sh_l1 + 3]), couplings)


# --- the SO(2) convolution --------------------------------------------------------------------
# Tensors are cut with `split`, never by repeated slicing: the backward of a slice is a
# full-size zero tensor, of a split one `cat`.

#: Runs of input terms of one degree: ``(l, muls)``. Output degrees: ``(l_out, blocks)``, each
#: block ``(run, term in run, number of paths)`` with its own mixer (in this order).
Run = tuple[int, tuple[int, ...]]
OutputDegree = tuple[int, tuple[tuple[int, int, int], ...]]


def polar_components(sh: Tensor, wigner: list[Tensor], sh_blocks: tuple[int, ...]) -> Tensor:
    """The ``m = 0`` component of each harmonic block in the edge frame ``[E, n_sh]``:
    ``(D^lᵀ Y^l)_0`` (``√(2l+1)`` for unit directions; 0 for ``l > 0`` at a zero vector)."""
    blocks = sh.split([2 * l + 1 for l in sh_blocks], 1)
    parts = [
        b[:, 0] if l == 0 else (b * wigner[l][:, :, l]).sum(-1)
        for b, l in zip(blocks, sh_blocks, strict=True)
    ]
    return torch.stack(parts, -1)


def rotate_in(x: Tensor, wigner: list[Tensor], runs: tuple[Run, ...]) -> list[list[Tensor]]:
    """``D^lᵀ x`` per input term ``[E, mul, 2l+1]``, grouped by run (one matmul per run)."""
    out = []
    widths = [sum(muls) * (2 * l + 1) for l, muls in runs]
    for block, (l, muls) in zip(x.split(widths, 1), runs, strict=True):
        block = block.reshape(x.shape[0], sum(muls), 2 * l + 1)  # no -1: there may be no edge
        # bmm, not matmul: torch 2.11's matmul guards on an unbacked edge count (fake tensors)
        block = block if l == 0 else torch.bmm(block, wigner[l])
        out.append([t.contiguous() for t in block.split(muls, 1)] if len(muls) > 1 else [block])
    return out


def so2_conv(
    x: Tensor,
    sh: Tensor,
    weights: Tensor,
    wigner: list[Tensor],
    edges: tuple[Tensor, Tensor, Tensor | None],
    num_nodes: int,
    runs: tuple[Run, ...],
    sh_blocks: tuple[int, ...],
    weight_order: Tensor,
    sh_of_weight: Tensor,
    mixers: list[Tensor],
    outputs: tuple[OutputDegree, ...],
    mid_order: Tensor,
) -> Tensor:
    """The channelwise tensor product of ``x`` ``[E, dim_in1]`` (``h[src]``) and the edge
    harmonics ``sh`` (degrees ``sh_blocks``) with per-edge path weights ``weights``
    ``[E, n_w]``, summed into ``dst``: ``[num_nodes, dim_mid]``, e3nn's layouts throughout.

    In the edge frame, input term ``t`` feeds its paths to ``l_out`` through one matrix
    ``[2l1+1, paths (2l_out+1)]`` (coupled component, CG coefficient and path normalisation
    of each path): one GEMM over all edges and channels. Each path is then scaled by its
    weight times the ``m = 0`` harmonic (``weight_order``, ``sh_of_weight``: those
    coefficients in message order, the edge mask folded in), rotated back and added into its
    node. The node sums, grouped by ``(l_out, term, channel, path)``, are put in e3nn's mid
    order by ``mid_order`` (on nodes: cheaper than on edges).
    """
    _, dst, mask = edges
    rotated = rotate_in(x, wigner, runs)
    polar = polar_components(sh, wigner, sh_blocks)
    if mask is not None:
        polar = polar * mask.unsqueeze(-1)
    coef = weights.index_select(1, weight_order) * polar.index_select(1, sh_of_weight)
    widths = [rotated[r][t].shape[1] * p for _, blocks in outputs for r, t, p in blocks]
    coefs, mixer = iter(coef.split(widths, 1)), iter(mixers)
    parts = []
    for l, blocks in outputs:
        for run, term, _ in blocks:
            block = rotated[run][term]  # [E, mul, 2l1+1] times [2l1+1, paths]: one GEMM
            y = torch.mm(block.flatten(0, 1), next(mixer).to(x.dtype)).unflatten(
                0, (block.shape[0], block.shape[1])
            )
            y = y.unflatten(-1, (-1, 2 * l + 1)).flatten(1, 2) * next(coefs).unsqueeze(-1)
            if l > 0:
                y = torch.bmm(y, wigner[l].transpose(1, 2))  # rotate back: D^l y
            y = accumulate(y.flatten(1))  # half precision adds in float32
            parts.append(y.new_zeros(num_nodes, y.shape[1]).index_add(0, dst, y))
    return settle(torch.cat(parts, -1).index_select(1, mid_order), x.dtype)
