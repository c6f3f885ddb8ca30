"""Runtime kernels of the Clifford operators. Plain PyTorch, channels last: ``c`` copies of a
multivector of Cl(p, q) are ``c * 2^(p+q)`` channels, each copy's blades contiguous in the order
of docs/clifford.md. The tables (Cayley tables, grade masks) are the module's buffers, built
once per algebra by ``geoc.clifford``; every kernel is branch-free, so
``torch.compile(fullgraph=True)`` and ``torch.export`` capture it whole.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _copies(x: Tensor, blades: int) -> Tensor:
    """[..., c * D] -> [..., c, D]."""
    return x.unflatten(-1, (-1, blades))


def bilinear(a: Tensor, b: Tensor, table: Tensor) -> Tensor:
    """``(a b)_k = sum_ij a_i b_j T[i, j, k]`` copy by copy, T [D, D, D] a product's table."""
    blades = table.shape[0]
    x, y = _copies(a, blades), _copies(b, blades)
    outer = (x.unsqueeze(-1) * y.unsqueeze(-2)).flatten(-2)  # [..., c, D * D]
    return (outer @ table.reshape(blades * blades, blades)).flatten(-2)


def scale_blades(x: Tensor, weights: Tensor) -> Tensor:
    """Every copy's blades times ``weights`` [D] (a grade mask, the reverse's signs)."""
    return (_copies(x, weights.shape[0]) * weights).flatten(-2)


def mv_linear(x: Tensor, weight: Tensor, class_of: Tensor, bias: Tensor | None) -> Tensor:
    """``y[o, d] = sum_i weight[o, i, class(d)] x[i, d]`` (+ ``bias[o]`` on the scalar blade);
    a blade's class is its grade, or the class of grades sharing a weight."""
    blades = class_of.shape[0]
    per_blade = weight[:, :, class_of]  # [out, in, D]
    y = torch.einsum("...id,oid->...od", _copies(x, blades), per_blade)
    if bias is not None:
        y = torch.cat([y[..., :1] + bias.unsqueeze(-1), y[..., 1:]], dim=-1)
    return y.flatten(-2)


def mv_linear_dual(
    x: Tensor,
    weight: Tensor,
    dual: Tensor,
    class_of: Tensor,
    hodge: Tensor,
    bias: Tensor | None,
    dual_bias: Tensor | None,
) -> Tensor:
    """``mv_linear`` plus the dual maps: ``(sum_i dual[o, i, class(d)] x[i, d]) I``, ``hodge``
    [D, D] the right multiplication by the pseudoscalar I (+ ``dual_bias[o]`` on I)."""
    blades = class_of.shape[0]
    y = _copies(mv_linear(x, weight, class_of, bias), blades)
    z = _copies(mv_linear(x, dual, class_of, None), blades) @ hodge.T
    if dual_bias is not None:
        z = torch.cat([z[..., :-1], z[..., -1:] + dual_bias.unsqueeze(-1)], dim=-1)
    return (y + z).flatten(-2)


def weighted_product(a: Tensor, b: Tensor, weight: Tensor, paths: Tensor, table: Tensor) -> Tensor:
    """``y[c, k] = sum_ij a[c, i] b[c, j] weight[c, path(i, j, k)] T[i, j, k]``: the geometric
    product with a learned weight per copy and path; ``paths`` [D, D, D] names each entry's
    path, the number of paths where T is zero (a zero weight appended there)."""
    blades = table.shape[0]
    padded = torch.cat([weight, weight.new_zeros(weight.shape[0], 1)], dim=-1)  # [c, P + 1]
    weighted = padded[:, paths] * table  # [c, D, D, D]
    x, y = _copies(a, blades), _copies(b, blades)
    return torch.einsum("...ci,...cj,cijk->...ck", x, y, weighted).flatten(-2)


def grade_invariants(x: Tensor, squares: Tensor, expand: Tensor) -> Tensor:
    """Per copy and grade the invariant quadratic form ``<x_k x̃_k>_0 = sum_d s_d x_d^2``
    [..., c, G]: ``squares`` [D] holds ``s_d = <e_d ẽ_d>_0`` (±1), ``expand`` [G, D] marks each
    grade's blades."""
    return ((x * x) * squares) @ expand.T


def mv_gate(x: Tensor, a: Tensor, b: Tensor, squares: Tensor, expand: Tensor) -> Tensor:
    """CGENN's gate: grade k of copy c times ``sigmoid(a[c, k] s_k + b[c, k])``, ``s_0`` the
    scalar part, ``s_k`` the quadratic form of grade k > 0."""
    copies = _copies(x, expand.shape[1])
    forms = grade_invariants(copies, squares, expand)
    # Grade 0 reads the scalar part itself (its sign matters), the others their forms.
    invariants = torch.cat([copies[..., :1], forms[..., 1:]], dim=-1)
    gate = torch.sigmoid(a * invariants + b) @ expand  # [..., c, D]
    return (copies * gate).flatten(-2)


def mv_norm(x: Tensor, a: Tensor, squares: Tensor, expand: Tensor, eps: float) -> Tensor:
    """CGENN's normalisation: grade k of copy c divided by ``1 + sigmoid(a[c, k]) (|x_k| - 1)``,
    ``|x_k| = (q_k^2 + eps^2)^(1/4)`` of the quadratic form q_k: the square root of its absolute
    value, smooth at zero (every derivative finite), and the divisor at least 1 - sigmoid(a)."""
    copies = _copies(x, expand.shape[1])
    forms = grade_invariants(copies, squares, expand)
    size = (forms * forms + eps * eps) ** 0.25
    mix = torch.sigmoid(a)
    divisor = (1.0 + mix * (size - 1.0)) @ expand
    return (copies / divisor).flatten(-2)


def embed_vector(x: Tensor, blades: int) -> Tensor:
    """``c x vector`` of R^n to multivectors: each vector at grade 1 (blades 1..n)."""
    vectors = x.unflatten(-1, (-1, blades.bit_length() - 1))
    zero = vectors.new_zeros((*vectors.shape[:-1], 1))
    rest = vectors.new_zeros((*vectors.shape[:-1], blades - 1 - vectors.shape[-1]))
    return torch.cat([zero, vectors, rest], dim=-1).flatten(-2)


def vector_part(x: Tensor, n: int) -> Tensor:
    """The grade-1 coefficients (blades 1..n) of every copy."""
    return _copies(x, 2**n)[..., 1 : n + 1].flatten(-2)


def embed_scalar(x: Tensor, blades: int) -> Tensor:
    """``c x scalar`` to multivectors: each scalar as the scalar part (blade 0)."""
    rest = x.new_zeros((*x.shape, blades - 1))
    return torch.cat([x.unsqueeze(-1), rest], dim=-1).flatten(-2)
