# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Wigner D matrices of SO(3) and O(3) in e3nn's real basis.

The real basis of degree ``l`` is the real spherical harmonics' (see :mod:`geoc.o3.harmonics`):
components ordered ``m = -l..l``, polar axis ``y``, azimuth measured from ``z`` towards ``x``.
For ``l = 1`` it is plain Cartesian ``(x, y, z)``, so ``D^1(R) = R``.

Construction: ``D^l(exp(θ n·L)) = exp(θ n·X^l)``, with ``X^l`` the real generators
(:func:`so3_generators`) and the exponential of the antisymmetric ``θ n·X`` taken through the
eigendecomposition of the Hermitian ``i n·X`` (eigenvalues exactly ``-l..l``). The rotation's
axis and angle come from its unit quaternion (Shepperd's method), which is well conditioned
for every angle, including 0 and π.
"""

from __future__ import annotations

import numpy as np

from geoc.o3.cache import CoefficientCache, CoefficientKind, resolve_cache

#: Component ``i`` of an ``l = 1`` irrep is Cartesian axis ``L1_BASIS[i]`` (e3nn's order too).
L1_BASIS = (0, 1, 2)
#: The axis about which ``D^l`` is diagonal in cos/sin pairs (e3nn's choice; ``z`` in physics).
POLAR_AXIS = 1
_ORTHOGONALITY_TOL = 1e-6


def real_to_complex_basis(l: int) -> np.ndarray:
    """Unitary ``U`` with ``Y_complex = U @ Y_real``, rows/columns ordered ``m = -l..l``.

    The standard relation between real and Condon–Shortley complex spherical harmonics
    (https://en.wikipedia.org/wiki/Spherical_harmonics#Real_form): for ``m > 0``,
    ``Y^m = (-1)^m (Y_m + i Y_{-m}) / √2`` and ``Y^{-m} = (Y_m - i Y_{-m}) / √2``.
    """
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)
    u[l, l] = 1.0
    for m in range(1, l + 1):
        sign = (-1) ** m
        u[l + m, l + m], u[l + m, l - m] = sign, 1j * sign
        u[l - m, l + m], u[l - m, l - m] = 1.0, -1j
    u[np.arange(2 * l + 1) != l] /= np.sqrt(2.0)
    return u


def _angular_momentum(l: int) -> np.ndarray:
    """``(J_x, J_y, J_z)`` on ``|l m⟩``, ``m = -l..l``, Condon–Shortley phases (Sakurai 3.5)."""
    m = np.arange(-l, l)
    raising = np.diag(np.sqrt(l * (l + 1) - m * (m + 1.0)), k=-1).astype(np.complex128)
    lowering = raising.T
    jz = np.diag(np.arange(-l, l + 1)).astype(np.complex128)
    return np.stack([(raising + lowering) / 2, (raising - lowering) / 2j, jz])


def compute_so3_generators(l: int) -> np.ndarray:
    """The real generators ``X^l_k`` (uncached); see :func:`so3_generators`."""
    u = real_to_complex_basis(l)
    # Values of functions transform with the conjugate of the state rotation exp(-iθ n·J).
    algebra = 1j * _angular_momentum(l).conj()
    real = np.einsum("ai,kab,bj->kij", u.conj(), algebra, u)
    assert np.abs(real.imag).max(initial=0.0) < 1e-12, "real basis is not real"
    # Physics axes (x, y, z) are geoc's (z, x, y): the polar axis is y (see module docstring).
    return np.ascontiguousarray(real.real[[1, 2, 0]])


def so3_generators(l: int, cache: CoefficientCache | None = None) -> np.ndarray:
    """Real antisymmetric ``[3, 2l+1, 2l+1]``: ``D^l(exp(θ L_k)) = exp(θ X^l_k)`` for axis k.

    ``X^1_k = L_k`` with ``(L_k)_ij = -ε_kij``; the same matrices as e3nn's ``so3_generators``.
    """
    _check_degree(l)
    return resolve_cache(cache).fetch(
        CoefficientKind.SO3_GENERATORS, (l,), lambda: compute_so3_generators(l)
    )


def rotation_to_axis_angle(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit axis ``[..., 3]`` and angle in ``[0, π]`` of proper rotations ``[..., 3, 3]``."""
    q = rotation_to_quaternion(rotation)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * np.arctan2(sin_half, q[..., 0])
    safe = np.where(sin_half > 0, sin_half, 1.0)[..., None]
    axis = np.where(sin_half[..., None] > 0, q[..., 1:] / safe, np.array([0.0, 0.0, 1.0]))
    return axis, angle


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(w, x, y, z)``, ``w >= 0``, of proper rotations ``[..., 3, 3]``.

    Shepperd (1978): ``M = 4 q qᵀ`` is a sum/difference of entries of ``R``; its row with the
    largest diagonal entry is ``4 q_c q`` with ``|q_c| >= 1/2``, so nothing cancels.
    """
    m = _quaternion_outer(np.asarray(rotation, dtype=np.float64))
    diagonal = np.diagonal(m, axis1=-2, axis2=-1)
    best = np.argmax(diagonal, axis=-1)[..., None, None]
    q = np.take_along_axis(m, best, axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def _quaternion_outer(r: np.ndarray) -> np.ndarray:
    """``4 q qᵀ`` ``[..., 4, 4]`` for the rotation ``R = R(q)``, from ``R``'s entries."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = (
        (r[..., i, 0], r[..., i, 1], r[..., i, 2]) for i in range(3)
    )
    rows = [
        [1 + r00 + r11 + r22, r21 - r12, r02 - r20, r10 - r01],
        [r21 - r12, 1 + r00 - r11 - r22, r01 + r10, r02 + r20],
        [r02 - r20, r01 + r10, 1 - r00 + r11 - r22, r12 + r21],
        [r10 - r01, r02 + r20, r12 + r21, 1 - r00 - r11 + r22],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def wigner_D(
    l: int,
    rotation: np.ndarray,
    cache: CoefficientCache | None = None,
) -> np.ndarray:
    """``D^l(R)`` ``[..., 2l+1, 2l+1]`` for proper rotations ``R`` ``[..., 3, 3]`` (det +1).

    ``D^l(R1 R2) = D^l(R1) D^l(R2)``, ``D^l(R)ᵀ = D^l(R)⁻¹``, ``Y^l(R x) = D^l(R) Y^l(x)``.

        >>> r = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        >>> bool(np.allclose(wigner_D(1, r), r))
        True
    """
    r = _check_rotations(rotation)
    if np.any(np.linalg.det(r) < 0):
        raise ValueError("wigner_D needs proper rotations (det +1); use irrep_matrix for O(3)")
    axis, angle = rotation_to_axis_angle(r)
    generator = np.einsum("...k,kij->...ij", axis, so3_generators(l, cache))
    # exp(θK) = V exp(-iθΛ) Vᴴ with iK = V Λ Vᴴ Hermitian (K antisymmetric).
    eigvals, eigvecs = np.linalg.eigh(1j * generator)
    phases = np.exp(-1j * angle[..., None] * eigvals)
    d = np.einsum("...ij,...j,...kj->...ik", eigvecs, phases, eigvecs.conj())
    return np.ascontiguousarray(d.real)


def irrep_matrix(
    l: int,
    parity: int,
    rotation: np.ndarray,
    cache: CoefficientCache | None = None,
) -> np.ndarray:
    """The O(3) irrep ``l`` with parity ``p`` (+1 ``e``, -1 ``o``) at ``R`` (det ±1).

    ``D(R) = p^{(1 - det R)/2} D^l(det R · R)``, as e3nn's ``Irrep(l, p).D_from_matrix``: the
    inversion ``-I`` acts as ``p``, so ``1o`` is a vector (``D = R``) and ``1e`` a pseudovector.
    """
    if parity not in (1, -1):
        raise ValueError(f"parity must be +1 or -1, not {parity!r}")
    r = _check_rotations(rotation)
    det = np.sign(np.linalg.det(r))
    d = wigner_D(l, det[..., None, None] * r, cache)
    return d * np.where(det < 0, float(parity), 1.0)[..., None, None]


def _check_degree(l: int) -> None:
    if not isinstance(l, (int, np.integer)) or isinstance(l, bool) or l < 0:
        raise ValueError(f"degree l must be a non-negative integer, not {l!r}")


def _check_rotations(rotation: np.ndarray) -> np.ndarray:
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"expected rotation matrices [..., 3, 3], got shape {r.shape}")
    error = np.abs(np.swapaxes(r, -1, -2) @ r - np.eye(3)).max(initial=0.0)
    if error > _ORTHOGONALITY_TOL:
        raise ValueError(f"matrices are not orthogonal (max |RᵀR - I| = {error:.2e})")
    return r
