"""The equivariant-basis solver: equivariant linear maps between representations of matrix groups.

Pure numpy (float64). Given a group by its Lie-algebra and discrete generators and two
representations, the equivariant linear maps are the nullspace of stacked linear constraints
(Finzi, Welling & Wilson, "A Practical Method for Constructing Equivariant Multilayer Perceptrons
for Arbitrary Matrix Groups", ICML 2021); S(n) and O(n)-type groups on tensor powers also have
closed forms (partition and Brauer diagrams) that scale to large n. See docs/solver.md.

    >>> from geoc import solver
    >>> solver.equivariant_basis(solver.S(5), solver.T(2), solver.T(2), cache=False).shape[1]
    15
"""

from geoc.solver.basis import DENSE_MAX, Method, equivariant_basis, invariant_basis
from geoc.solver.cache import BasisCache, default_cache_dir
from geoc.solver.closed_forms import (
    BrauerBasis,
    PartitionBasis,
    closed_form,
    perfect_matchings,
    set_partitions,
)
from geoc.solver.groups import (
    SO,
    A,
    C,
    D,
    Family,
    Lorentz,
    MatrixGroup,
    O,
    S,
    SolverError,
    Sp,
    indefinite_metric,
    indefinite_orthogonal,
    minkowski_metric,
    symplectic_form,
)
from geoc.solver.reps import (
    Covector,
    Multivector,
    Regular,
    Rep,
    Scalar,
    Sum,
    T,
    Tensor,
    V,
    Vector,
    direct_sum,
    regular,
    scalar,
    tensor_product,
)

__all__ = [
    "DENSE_MAX",
    "SO",
    "A",
    "BasisCache",
    "BrauerBasis",
    "C",
    "Covector",
    "D",
    "Family",
    "Lorentz",
    "MatrixGroup",
    "Method",
    "Multivector",
    "O",
    "PartitionBasis",
    "Regular",
    "Rep",
    "S",
    "Scalar",
    "SolverError",
    "Sp",
    "Sum",
    "T",
    "Tensor",
    "V",
    "Vector",
    "closed_form",
    "default_cache_dir",
    "direct_sum",
    "equivariant_basis",
    "indefinite_metric",
    "indefinite_orthogonal",
    "invariant_basis",
    "minkowski_metric",
    "perfect_matchings",
    "regular",
    "scalar",
    "set_partitions",
    "symplectic_form",
    "tensor_product",
]
