# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Real Clebsch–Gordan coefficients (Wigner 3j tensors) in e3nn's real basis.

``wigner_3j(l1, l2, l3)`` is the unique (up to sign) tensor ``C`` of shape
``[2l1+1, 2l2+1, 2l3+1]`` with ``C = (D^{l1} ⊗ D^{l2} ⊗ D^{l3}) C`` for every rotation and
``|C|_F = 1``. It is computed in closed form, exactly as e3nn defines it, so the signs agree:

1. the Condon–Shortley coefficients ``⟨l1 m1 l2 m2 | l3 m3⟩`` by Racah's formula (Racah 1942,
   eq. 16'; https://en.wikipedia.org/wiki/Table_of_Clebsch%E2%80%93Gordan_coefficients),
   summed in exact integer arithmetic and rounded once;
2. the change to the real basis ``U`` of :func:`geoc.o3.wigner.real_to_complex_basis`, each
   index weighted by ``(-i)^l`` (output index conjugated) so that the result is real:
   ``C_abc = (-i)^{l1+l2} i^{l3} Σ U1_ia U2_kb conj(U3_nc) ⟨l1 i l2 k | l3 n⟩``;
3. division by the Frobenius norm. Entries below ``1e-14`` are exact zeros (the sparsity is
   structural: ``m3 = ±m1 ± m2``).

The sign convention is therefore e3nn's: inherited from Condon–Shortley and the ``(-i)^l``
phases; e.g. ``C^{110} = δ/√3`` and ``C^{111} = ε/√6``. The computed tensors are cached
(:mod:`geoc.o3.cache`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from geoc.o3.cache import CoefficientCache, CoefficientKind, resolve_cache
from geoc.o3.selection import triangle
from geoc.o3.wigner import real_to_complex_basis

_ZERO = 1e-14


def wigner_3j(
    l1: int,
    l2: int,
    l3: int,
    cache: CoefficientCache | None = None,
) -> np.ndarray:
    """The real 3j tensor ``[2l1+1, 2l2+1, 2l3+1]`` (read-only; all zeros off the triangle).

    >>> c = wigner_3j(1, 1, 0)
    >>> bool(np.allclose(c[:, :, 0], np.eye(3) / np.sqrt(3)))
    True
    """
    for degree in (l1, l2, l3):
        if not isinstance(degree, (int, np.integer)) or isinstance(degree, bool) or degree < 0:
            raise ValueError(f"degrees must be non-negative integers, not {(l1, l2, l3)}")
    if not triangle(l1, l2, l3):
        return np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    # The lambda reads the module attribute at call time, so tests can count computations.
    return resolve_cache(cache).fetch(
        CoefficientKind.WIGNER_3J, (l1, l2, l3), lambda: compute_wigner_3j(l1, l2, l3)
    )


def compute_wigner_3j(l1: int, l2: int, l3: int) -> np.ndarray:
    """The real 3j tensor, uncached (steps 1-3 of the module docstring)."""
    complex_cg = su2_clebsch_gordan(l1, l2, l3).astype(np.complex128)
    u1, u2, u3 = (real_to_complex_basis(l) for l in (l1, l2, l3))
    # One index at a time: three small matmuls (einsum's path search costs more than this).
    real = np.tensordot(u1, complex_cg, axes=(0, 0))  # [a, k, n]
    real = np.tensordot(u2, real, axes=(0, 1))  # [b, a, n]
    real = np.tensordot(real, u3.conj(), axes=(2, 0)).transpose(1, 0, 2)  # [a, b, c]
    real = real * (-1j) ** (l1 + l2) * 1j**l3
    assert np.abs(real.imag).max() < 1e-12, "3j is not real in this basis"
    out = real.real / np.linalg.norm(real.real)
    out[np.abs(out) < _ZERO] = 0.0
    return out


def su2_clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    """``⟨l1 m1 l2 m2 | l3 m1+m2⟩`` (Condon–Shortley) at ``[l1+m1, l2+m2, l3+m1+m2]``."""
    out = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    if not triangle(l1, l2, l3):
        return out
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            out[l1 + m1, l2 + m2, l3 + m1 + m2] = _racah(l1, m1, l2, m2, l3)
    return out


def _racah(j1: int, m1: int, j2: int, m2: int, j: int) -> float:
    """Racah's closed form for ``⟨j1 m1 j2 m2 | j m1+m2⟩`` (integer spins), exact until the
    final square root: ``value = sign(S) sqrt(A S²)`` with ``A`` the squared prefactor."""
    f = math.factorial
    m = m1 + m2
    numerator = (2 * j + 1) * f(j + j1 - j2) * f(j - j1 + j2) * f(j1 + j2 - j)
    numerator *= f(j + m) * f(j - m) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)
    ks = range(max(0, j2 - j - m1, j1 - j + m2), min(j1 + j2 - j, j1 - m1, j2 + m2) + 1)
    denominators = [
        f(k) * f(j1 + j2 - j - k) * f(j1 - m1 - k) * f(j2 + m2 - k)
        * f(j - j2 + m1 + k) * f(j - j1 - m2 + k)
        for k in ks
    ]  # fmt: skip
    common = math.lcm(*denominators)
    total = sum((-1) ** k * (common // d) for k, d in zip(ks, denominators, strict=True))
    squared = Fraction(numerator * total * total, f(j1 + j2 + j + 1) * common * common)
    return math.copysign(math.sqrt(squared), total)
