"""Kernels of the Cartesian tensor operators (torch only; see ``geoc.ops.cartesian``).

Copied next to exported models (``geoc_runtime_cartesian.py``), so it imports only torch.
Values are laid out copy-major: ``C x tensor(k)`` of R^n is ``[..., C * n**k]``, each copy a
k-index array flattened row-major.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _copies(x: Tensor, copies: int, *shape: int) -> Tensor:
    return x.reshape(*x.shape[:-1], copies, *shape)


def _flat(x: Tensor, lead: int) -> Tensor:
    """The copy axis and everything after it flattened again (``lead`` leading axes kept)."""
    return x.flatten(lead)


def outer(u: Tensor, v: Tensor, copies: int, dim_u: int, dim_v: int) -> Tensor:
    """Per copy u_{i..} v_{j..}, row-major: ``[..., C * dim_u * dim_v]``."""
    prod = _copies(u, copies, dim_u, 1) * _copies(v, copies, 1, dim_v)
    return _flat(prod, u.dim() - 1)


def contract(t: Tensor, v: Tensor, copies: int, n: int, rows: int) -> Tensor:
    """Per copy Σ_j t_{..j} v_j (the last index of t; ``rows``: n**(k-1) of `tensor(k)`)."""
    rows = _copies(t, copies, rows, n)
    return _flat((rows * _copies(v, copies, 1, n)).sum(-1), t.dim() - 1)


def trace(t: Tensor, copies: int, n: int) -> Tensor:
    """Per copy t_ii: ``[..., C]``."""
    return _copies(t, copies, n, n).diagonal(dim1=-2, dim2=-1).sum(-1)


def _isotropic(mats: Tensor, n: int) -> Tensor:
    eye = torch.eye(n, dtype=mats.dtype, device=mats.device)
    return mats.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None] * eye / n


def sym_part(t: Tensor, copies: int, n: int) -> Tensor:
    """Per copy (t + tᵀ)/2 - tr(t) I/n."""
    mats = _copies(t, copies, n, n)
    part = (mats + mats.transpose(-1, -2)) / 2 - _isotropic(mats, n)
    return _flat(part, t.dim() - 1)


def antisym_part(t: Tensor, copies: int, n: int) -> Tensor:
    """Per copy (t - tᵀ)/2."""
    mats = _copies(t, copies, n, n)
    return _flat((mats - mats.transpose(-1, -2)) / 2, t.dim() - 1)


def trace_part(t: Tensor, copies: int, n: int) -> Tensor:
    """Per copy tr(t) I/n."""
    return _flat(_isotropic(_copies(t, copies, n, n), n), t.dim() - 1)


def axial(t: Tensor, copies: int) -> Tensor:
    """Per copy of R^3, a_i = -ε_ijk t_jk / 2: (t_21 - t_12, t_02 - t_20, t_10 - t_01) / 2."""
    m = _copies(t, copies, 3, 3)
    parts = (m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1])
    return _flat(torch.stack(parts, -1) / 2, t.dim() - 1)


def skew(v: Tensor, copies: int) -> Tensor:
    """Per copy of R^3, the matrix [v]× of w -> v × w, row-major."""
    x, y, z = _copies(v, copies, 3).unbind(-1)
    zero = torch.zeros_like(x)
    rows = (zero, -z, y, z, zero, -x, -y, x, zero)
    return _flat(torch.stack(rows, -1), v.dim() - 1)
