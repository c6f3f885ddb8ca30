"""Feature types: what a group element does to a value's channels, and which axes it lives on.

A :class:`FeatureType` is an immutable value with a text form that round-trips::

    >>> t = FeatureType.parse("8 x vector + 4 x scalar over nodes")
    >>> str(t)
    '8 x vector + 4 x scalar over nodes'
    >>> FeatureType.parse(str(t)) == t
    True

The channels are a direct sum of terms ``mul x atom``, flattened in order, each term laid out
copy-major (e3nn's ``mul_ir`` layout: all components of copy 0, then copy 1, ...).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.elaborate.constants import evaluate, is_number
from geoc.grammar import ast


class AtomKind(str, enum.Enum):
    """The atom families of feature types (docs/language.md)."""

    SCALAR = "scalar"
    PSEUDOSCALAR = "pseudoscalar"
    VECTOR = "vector"
    PSEUDOVECTOR = "pseudovector"
    POINT = "point"
    IRREP = "irrep"  # O(3) irreps in e3nn notation: 0e, 1o, 2e, ...
    # Manifold-valued atoms (docs/manifolds.md): their values live on a curved set, not in a
    # vector space, so Euclidean arithmetic on them is a diagnostic (GEO320-GEO329).
    LORENTZ = "lorentz"  # hyperboloid <x,x>_L = -1/k in R^{n+1}, time coordinate first
    POINCARE = "poincare"  # open ball of radius 1/sqrt(c) in R^n
    UNIT = "unit"  # unit sphere S^{n-1} in R^n
    SPD = "spd"  # symmetric positive definite n x n matrices, row-major
    SYM = "sym"  # symmetric n x n matrices, row-major (a vector space: tangents of spd)
    # Representations of the solver's matrix groups (docs/solver.md): the k-th tensor power of
    # `vector`, flattened row-major, and the regular representation of a finite group.
    TENSOR = "tensor"
    REGULAR = "regular"
    # Integer labels (species, atom types, classes): `index(n)` is one of 0..n-1. The group acts
    # trivially on a label, so only `embed` reads it (GEO360); docs/language.md, "Integer labels".
    INDEX = "index"
    # An orthonormal n x n frame whose columns transform as vectors (F -> R F), stored column
    # by column (`n x vector` layout); docs/language.md, "Frames and canonicalisation".
    FRAME = "frame"
    # A multivector of the Clifford algebra Cl(p, q): 2^(p+q) blade coefficients, grade by
    # grade (docs/clifford.md); O(p, q) acts by the outermorphism.
    MULTIVECTOR = "multivector"


#: Atoms written as a bare name.
NAMED_ATOMS = {
    k.value: k
    for k in (
        AtomKind.SCALAR,
        AtomKind.PSEUDOSCALAR,
        AtomKind.VECTOR,
        AtomKind.PSEUDOVECTOR,
        AtomKind.REGULAR,
    )
}
#: Atoms written as a call, with the number of integer arguments they take.
CALL_ATOMS = {
    "point": (AtomKind.POINT, 1),
    "unit": (AtomKind.UNIT, 1),
    "spd": (AtomKind.SPD, 1),
    "sym": (AtomKind.SYM, 1),
    "tensor": (AtomKind.TENSOR, 1),
    "index": (AtomKind.INDEX, 1),
    "frame": (AtomKind.FRAME, 1),
    "multivector": (AtomKind.MULTIVECTOR, 2),
}
#: The largest tensor order `tensor(k)` may have (a 64-dimensional vector space has 64^k
#: coordinates: the bound keeps types printable and layers buildable).
MAX_TENSOR_ORDER = 8
#: The largest p + q of `multivector(p, q)` (geoc.clifford.MAX_DIM; types import no numpy).
MAX_CLIFFORD_DIM = 6
#: Curved atoms with a float parameter: the keyword that names it, and its default.
CURVED_ATOMS = {"lorentz": (AtomKind.LORENTZ, "k"), "poincare": (AtomKind.POINCARE, "c")}
CURVATURE_DEFAULT = 1.0
#: Atoms whose values live on a manifold (not `sym`, a vector space).
MANIFOLD_KINDS = frozenset(
    {AtomKind.LORENTZ, AtomKind.POINCARE, AtomKind.UNIT, AtomKind.SPD, AtomKind.FRAME}
)


@dataclass(frozen=True, slots=True)
class Atom:
    """One irreducible-ish building block: ``scalar``, ``vector``, ``point(3)``, ``1o``."""

    kind: AtomKind
    args: tuple[int, ...] = ()
    parity: int = 1  # irreps: +1 even (`e`), -1 odd (`o`)
    curvature: float | None = None  # `k` of lorentz(n, k), `c` of poincare(n, c)
    # `tensor(a, b, ...)`: the factors of a tensor product (kind TENSOR, no args); see
    # :func:`tensor_product`, which keeps the form canonical.
    factors: tuple[Atom, ...] = ()

    def __str__(self) -> str:
        if self.factors:
            return f"tensor({', '.join(map(str, self.factors))})"
        if self.kind is AtomKind.IRREP:
            return f"{self.args[0]}{'e' if self.parity == 1 else 'o'}"
        if self.curvature is not None:
            key = _CURVATURE_KEYS[self.kind]
            return f"{self.kind.value}({self.args[0]}, {key}={self.curvature!r})"
        if self.args:
            return f"{self.kind.value}({', '.join(map(str, self.args))})"
        return self.kind.value

    @property
    def is_point(self) -> bool:
        return self.kind is AtomKind.POINT

    @property
    def is_manifold(self) -> bool:
        """Whether values of this atom live on a curved manifold (lorentz, poincare, unit, spd)."""
        return self.kind in MANIFOLD_KINDS

    @property
    def is_label(self) -> bool:
        """An integer label `index(n)`: a class, not a coordinate (no arithmetic applies)."""
        return self.kind is AtomKind.INDEX

    @property
    def sign(self) -> int:
        """How a reflection acts beyond the rotation: -1 for pseudo atoms and odd irreps."""
        if self.kind in (AtomKind.PSEUDOSCALAR, AtomKind.PSEUDOVECTOR):
            return -1
        if self.kind is AtomKind.IRREP:
            return self.parity * (-1) ** self.args[0]
        return 1

    @property
    def signed(self) -> bool:
        """Whether the atom has a reflected twin :meth:`with_sign` can name."""
        return self.kind in _SIGN_FLIPS or self.kind is AtomKind.IRREP

    def with_sign(self, sign: int) -> Atom:
        """The atom whose reflection sign is multiplied by ``sign`` (pseudoscalar products)."""
        if sign == 1:
            return self
        if self.kind is AtomKind.IRREP:
            return Atom(AtomKind.IRREP, self.args, -self.parity)
        return Atom(_SIGN_FLIPS[self.kind], self.args)


_SIGN_FLIPS = {
    AtomKind.SCALAR: AtomKind.PSEUDOSCALAR,
    AtomKind.PSEUDOSCALAR: AtomKind.SCALAR,
    AtomKind.VECTOR: AtomKind.PSEUDOVECTOR,
    AtomKind.PSEUDOVECTOR: AtomKind.VECTOR,
}


SCALAR = Atom(AtomKind.SCALAR)
PSEUDOSCALAR = Atom(AtomKind.PSEUDOSCALAR)
VECTOR = Atom(AtomKind.VECTOR)
PSEUDOVECTOR = Atom(AtomKind.PSEUDOVECTOR)


#: Atoms a tensor product `tensor(a, b, ...)` may hold (the solver's representations).
PRODUCT_FACTORS = frozenset({AtomKind.SCALAR, AtomKind.VECTOR, AtomKind.TENSOR, AtomKind.REGULAR})


def tensor_product(*atoms: Atom) -> Atom:
    """``a ⊗ b ⊗ ...`` flattened row-major (the index of ``a`` slowest), in a canonical form:
    nested products and ``tensor(k)`` are spread into their factors, scalars dropped, and a
    product of vectors alone written ``tensor(k)`` (so ``tensor(vector, vector)`` is
    ``tensor(2)``); one factor is itself, none is ``scalar``."""
    flat: list[Atom] = []
    for atom in atoms:
        if atom.factors:
            flat.extend(atom.factors)
        elif atom.kind is AtomKind.TENSOR:
            flat.extend([VECTOR] * atom.args[0])
        elif atom.kind is not AtomKind.SCALAR:
            flat.append(atom)
    if not flat:
        return SCALAR
    if len(flat) == 1:
        return flat[0]
    if all(a == VECTOR for a in flat):
        return Atom(AtomKind.TENSOR, (len(flat),))
    return Atom(AtomKind.TENSOR, factors=tuple(flat))


def point(n: int) -> Atom:
    return Atom(AtomKind.POINT, (n,))


def lorentz(n: int, k: float = CURVATURE_DEFAULT) -> Atom:
    return Atom(AtomKind.LORENTZ, (n,), curvature=float(k))


def poincare(n: int, c: float = CURVATURE_DEFAULT) -> Atom:
    return Atom(AtomKind.POINCARE, (n,), curvature=float(c))


_CURVATURE_KEYS = {kind: key for kind, key in CURVED_ATOMS.values()}


def irrep(l: int, parity: int) -> Atom:  # noqa: E741
    return Atom(AtomKind.IRREP, (l,), parity)


@dataclass(frozen=True, slots=True)
class Term:
    mul: int
    atom: Atom

    def __str__(self) -> str:
        if self.atom.kind is AtomKind.IRREP:
            return f"{self.mul}x{self.atom}"
        return str(self.atom) if self.mul == 1 else f"{self.mul} x {self.atom}"


@dataclass(frozen=True, slots=True)
class FeatureType:
    """A representation (direct sum of terms) placed on zero or more index axes."""

    terms: tuple[Term, ...]
    axes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert all(t.mul > 0 for t in self.terms), "multiplicities are positive"

    def __str__(self) -> str:
        rep = " + ".join(str(t) for t in self.terms) if self.terms else "0 x scalar"
        if not self.axes:
            return rep
        axes = self.axes[0] if len(self.axes) == 1 else "(" + ", ".join(self.axes) + ")"
        return f"{rep} over {axes}"

    def __repr__(self) -> str:
        return f"FeatureType({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> FeatureType:
        """Parse the text form (no parameter names: those are resolved by the elaborator)."""
        from geoc.grammar.parser import parse_expr

        return type_from_ast(parse_expr(text, "<type>"), {})

    # --- derived facts ---

    @property
    def atoms(self) -> tuple[Atom, ...]:
        return tuple(t.atom for t in self.terms)

    @property
    def copies(self) -> int:
        """Total multiplicity: one scalar per copy comes out of ``norm``."""
        return sum(t.mul for t in self.terms)

    @property
    def has_points(self) -> bool:
        return any(t.atom.is_point for t in self.terms)

    @property
    def has_manifold(self) -> bool:
        return any(t.atom.is_manifold for t in self.terms)

    @property
    def has_labels(self) -> bool:
        """Holds integer labels (`index(n)`): only the arguments an operator's `labels` trait
        names read such values (`embed`'s `z`, `symmetric_contraction`'s `species`)."""
        return any(t.atom.is_label for t in self.terms)

    @property
    def classes(self) -> int | None:
        """The number of classes n of a value of type exactly `index(n)` (over its axes)."""
        if len(self.terms) == 1 and self.terms[0].mul == 1 and self.terms[0].atom.is_label:
            return self.terms[0].atom.args[0]
        return None

    def with_axes(self, axes: tuple[str, ...]) -> FeatureType:
        return FeatureType(self.terms, axes)


def simplify(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """Merge adjacent terms of the same atom: ``4 x scalar + 4 x scalar`` = ``8 x scalar``."""
    out: list[Term] = []
    for term in terms:
        if out and out[-1].atom == term.atom:
            out[-1] = Term(out[-1].mul + term.mul, term.atom)
        else:
            out.append(term)
    return tuple(out)


def points_dim(types: Iterable[FeatureType]) -> int | None:
    """The dimension of the points among ``types``, if they all agree (else None)."""
    dims = {t.atom.args[0] for ftype in types for t in ftype.terms if t.atom.is_point}
    return dims.pop() if len(dims) == 1 else None


def scalars(n: int, axes: tuple[str, ...] = ()) -> FeatureType:
    return FeatureType((Term(n, SCALAR),), axes)


# ---------------------------------------------------------------------------------------------
# From syntax: `hidden x scalar + 4 x point(3) over nodes`, with compile-time names resolved.


def type_from_ast(expr: ast.Expr, env: dict[str, object]) -> FeatureType:
    """The feature type written by ``expr``; ``env`` maps parameter names to their values."""
    axes: tuple[str, ...] = ()
    if isinstance(expr, ast.Over):
        axes = tuple(a.id for a in expr.axes)
        expr = expr.value
    return FeatureType(tuple(t for t in _terms(expr, env) if t.mul > 0), axes)


def _terms(expr: ast.Expr, env: dict[str, object]) -> list[Term]:
    if isinstance(expr, ast.BinOp) and expr.op is ast.BinOpKind.ADD:
        return _terms(expr.left, env) + _terms(expr.right, env)
    if isinstance(expr, ast.BinOp) and expr.op is ast.BinOpKind.TIMES:
        return [Term(_multiplicity(expr.left, env), atom_from_ast(expr.right, env))]
    return [Term(1, atom_from_ast(expr, env))]


def _multiplicity(expr: ast.Expr, env: dict[str, object]) -> int:
    value = evaluate(expr, env)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GeoError(_type_error(expr, "a multiplicity must be a non-negative integer", value))
    return value


def atom_from_ast(expr: ast.Expr, env: dict[str, object]) -> Atom:
    if isinstance(expr, ast.Irrep):
        return irrep(expr.l, 1 if expr.parity == "e" else -1)
    if isinstance(expr, ast.Name) and expr.id in NAMED_ATOMS:
        return Atom(NAMED_ATOMS[expr.id])
    if _is_product(expr):
        return _product_atom(expr, env)
    if isinstance(expr, ast.Call) and expr.func.id in CALL_ATOMS and not expr.kwargs:
        kind, arity = CALL_ATOMS[expr.func.id]
        if len(expr.args) == arity:
            return _sized(Atom(kind, tuple(_multiplicity(a, env) for a in expr.args)), expr)
    if isinstance(expr, ast.Call) and expr.func.id in CURVED_ATOMS:
        return _curved_atom(expr, env)
    raise GeoError(_unknown_atom(expr))


def _is_product(expr: ast.Expr) -> bool:
    """``tensor(a, b, ...)``, two or more factors (``tensor(k)`` has one integer)."""
    return (
        isinstance(expr, ast.Call)
        and expr.func.id == "tensor"
        and not expr.kwargs
        and len(expr.args) >= 2
    )


def _product_atom(expr: ast.Call, env: dict[str, object]) -> Atom:
    factors = [atom_from_ast(a, env) for a in expr.args]
    bad = next((a for a in factors if a.kind not in PRODUCT_FACTORS), None)
    if bad is not None:
        raise GeoError(
            Diagnostic(
                "GEO330",
                f"`tensor(...)` multiplies the solver's atoms, not `{bad}`",
                expr.span,
                label=f"`{bad}`",
                help="the factors are `scalar`, `vector`, `tensor(k)`, `regular` or `tensor(...)`",
            )
        )
    atom = tensor_product(*factors)
    order = len(atom.factors) if atom.factors else 0
    if order > MAX_TENSOR_ORDER:
        raise GeoError(
            Diagnostic(
                "GEO330",
                f"`tensor(...)` takes at most {MAX_TENSOR_ORDER} factors",
                expr.span,
                label=f"{order} factors",
                help="use fewer factors",
            )
        )
    return _sized(atom, expr)


def _curved_atom(expr: ast.Call, env: dict[str, object]) -> Atom:
    """``lorentz(n, k=1.0)`` / ``poincare(n, c)``: a dimension, then a positive curvature
    (positionally or by its keyword; 1.0 when omitted)."""
    kind, key = CURVED_ATOMS[expr.func.id]
    given = list(expr.args[1:]) + [kw.value for kw in expr.kwargs if kw.name.id == key]
    wrong = [kw for kw in expr.kwargs if kw.name.id != key]
    if not expr.args or len(given) > 1 or wrong:
        raise GeoError(_unknown_atom(expr))
    value = _float_value(given[0], env) if given else CURVATURE_DEFAULT
    if value is None or not value > 0:
        raise GeoError(
            Diagnostic(
                "GEO324",
                f"the curvature `{key}` of `{expr.func.id}` must be a positive number",
                (given[0] if given else expr).span,
                label=f"this is {value!r}" if value is not None else "not a number",
                help=f"e.g. `{expr.func.id}(16, {key}=1.0)`",
            )
        )
    atom = Atom(kind, (_multiplicity(expr.args[0], env),), curvature=float(value))
    return _sized(atom, expr)


def _float_value(expr: ast.Expr, env: dict[str, object]) -> float | None:
    value = evaluate(expr, env)
    return float(value) if is_number(value) else None  # type: ignore[arg-type]


def _sized(atom: Atom, expr: ast.Expr) -> Atom:
    """Manifold atoms need a dimension of at least 1; a tensor power an order 1..8."""
    if atom.kind is AtomKind.TENSOR and atom.args and not 1 <= atom.args[0] <= MAX_TENSOR_ORDER:
        raise GeoError(
            Diagnostic(
                "GEO330",
                f"`tensor(k)` needs an order k between 1 and {MAX_TENSOR_ORDER}",
                expr.span,
                label=f"order {atom.args[0]}",
                help="e.g. `tensor(2)` (a matrix); `tensor(1)` is `vector`, use `scalar` for 0",
            )
        )
    if atom.kind is AtomKind.MULTIVECTOR and not 1 <= sum(atom.args) <= MAX_CLIFFORD_DIM:
        raise GeoError(
            Diagnostic(
                "GEO421",
                f"`{atom}` needs 1 <= p + q <= {MAX_CLIFFORD_DIM} (a multivector has 2^(p+q) "
                f"coordinates, a product table 8^(p+q) entries)",
                expr.span,
                label=f"p + q = {sum(atom.args)}",
                help="e.g. `multivector(3, 0)` or `multivector(1, 3)`",
            )
        )
    if atom.is_label and atom.args[0] < 1:
        raise GeoError(
            Diagnostic(
                "GEO361",
                f"`{atom}` has no label: `index(n)` needs n >= 1 classes",
                expr.span,
                label=f"{atom.args[0]} classes",
                help="e.g. `index(species)` with `species: int = 4`",
            )
        )
    if (atom.is_manifold or atom.kind is AtomKind.SYM) and atom.args[0] < 1:
        raise GeoError(
            Diagnostic(
                "GEO324",
                f"`{atom}` needs a dimension of at least 1",
                expr.span,
                label="empty manifold",
                help=f"e.g. `{atom.kind.value}(4)`",
            )
        )
    return atom


def _unknown_atom(expr: ast.Expr) -> Diagnostic:
    from geoc.grammar.formatter import format_expr

    manifolds = ["lorentz(n, k=1.0)", "poincare(n, c=1.0)", "unit(n)", "spd(n)", "sym(n)"]
    manifolds.append("frame(n)")
    named = [*NAMED_ATOMS, "point(n)", "tensor(k)", "tensor(a, b)", "0e", "1o", *manifolds]
    named += ["index(n)", "multivector(p, q)"]
    known = ", ".join(f"`{a}`" for a in named)
    return Diagnostic(
        "GEO301",
        f"`{format_expr(expr)}` is not a representation",
        expr.span,
        label="expected an atom",
        help=f"atoms are {known}; write e.g. `16 x scalar`",
    )


def _type_error(expr: ast.Expr, message: str, value: object) -> Diagnostic:
    return Diagnostic(
        "GEO302",
        message,
        expr.span,
        label=f"this is {value!r}" if value is not None else "not a compile-time integer",
        help="use an integer literal or an `int` parameter",
    )


__all__ = [
    "PSEUDOSCALAR",
    "PSEUDOVECTOR",
    "SCALAR",
    "VECTOR",
    "Atom",
    "AtomKind",
    "FeatureType",
    "Span",
    "Term",
    "atom_from_ast",
    "irrep",
    "lorentz",
    "poincare",
    "point",
    "points_dim",
    "scalars",
    "simplify",
    "tensor_product",
    "type_from_ast",
]
