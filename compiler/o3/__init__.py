"""O(3) representation machinery (numpy, float64): real spherical harmonics, Wigner D
matrices, real Clebsch–Gordan (Wigner 3j) tensors, selection rules and their cache.

Conventions are e3nn's (``docs/o3_conventions.md``): irreps ``(l, p)`` with components
``m = -l..l``, polar axis ``y``, ``l = 1`` in Cartesian order ``(x, y, z)`` so ``D^1(R) = R``.

    >>> import numpy as np
    >>> from geoc import o3
    >>> r = o3.wigner_D(1, np.eye(3))
    >>> o3.wigner_3j(1, 1, 2).shape
    (3, 3, 5)
"""

from geoc.o3.cache import (
    CACHE_VERSION,
    CacheStats,
    CoefficientCache,
    CoefficientKind,
    default_cache,
    default_cache_dir,
)
from geoc.o3.clebsch_gordan import su2_clebsch_gordan, wigner_3j
from geoc.o3.coupling import CouplingPath, coupling_tensor, symmetric_paths
from geoc.o3.harmonics import Normalization, spherical_harmonics
from geoc.o3.selection import (
    MulIrrep,
    allowed_paths,
    irrep_product,
    parity_allowed,
    path_allowed,
    triangle,
)
from geoc.o3.wigner import (
    L1_BASIS,
    POLAR_AXIS,
    irrep_matrix,
    real_to_complex_basis,
    rotation_to_axis_angle,
    rotation_to_quaternion,
    so3_generators,
    wigner_D,
)

__all__ = [
    "CACHE_VERSION",
    "L1_BASIS",
    "POLAR_AXIS",
    "CacheStats",
    "CoefficientCache",
    "CoefficientKind",
    "CouplingPath",
    "MulIrrep",
    "Normalization",
    "allowed_paths",
    "coupling_tensor",
    "default_cache",
    "default_cache_dir",
    "irrep_matrix",
    "irrep_product",
    "parity_allowed",
    "path_allowed",
    "real_to_complex_basis",
    "rotation_to_axis_angle",
    "rotation_to_quaternion",
    "so3_generators",
    "spherical_harmonics",
    "su2_clebsch_gordan",
    "symmetric_paths",
    "triangle",
    "wigner_3j",
    "wigner_D",
]
