"""From syntax to a :class:`Group`: ``symmetry E(3) x S(nodes)``."""

from __future__ import annotations

from collections.abc import Callable

from geoc.diagnostics import Diagnostic, GeoError
from geoc.elaborate.constants import evaluate
from geoc.elaborate.messages import about_expr
from geoc.grammar import ast
from geoc.groups.factors import (
    GEOMETRIC_GROUPS,
    MATRIX_GROUPS,
    Factor,
    Geometric,
    MatrixFactor,
    Permutation,
    Rotations,
)
from geoc.groups.group import POLAR, Broken, Group
from geoc.groups.indefinite import INDEFINITE_GROUPS, IndefiniteFactor


def group_from_ast(factors: tuple[ast.Expr, ...], env: dict[str, object]) -> Group:
    parsed = [_factor(f, env) for f in factors]
    out = tuple(f for f in parsed if f is not None)
    geometric = [f for f in out if isinstance(f, Geometric)]
    if len(geometric) > 1:
        raise GeoError(
            Diagnostic(
                "GEO202",
                "a model has at most one geometric group factor",
                factors[-1].span,
                label="second geometric factor",
                help="E(n) already contains O(n) and T(n): write the largest group once",
            )
        )
    channel = [f for f in out if isinstance(f, Geometric | MatrixFactor)]
    if len(channel) > 1 and not _is_wallpaper(channel):
        raise GeoError(
            Diagnostic(
                "GEO202",
                "a model has at most one group acting on channels",
                factors[-1].span,
                label="second channel group",
                help="combine one channel group with permutations of axes, e.g. "
                "`Lorentz(3) x S(particles)`",
            )
        )
    return Group(out)


def _is_wallpaper(factors: list[Factor]) -> bool:
    """``T(2) x C(n)`` / ``T(2) x D(n)``: shifts and rotations of a 2-D grid (docs/gcnn.md); the
    translations do not act on channels, so the rotations are the one channel group."""
    shifts = Geometric(2, Rotations.NONE, True)
    rotations = [f for f in factors if isinstance(f, MatrixFactor) and f.family in ("C", "D")]
    return len(factors) == 2 and shifts in factors and len(rotations) == 1


def _factor(expr: ast.Expr, env: dict[str, object]) -> Factor | None:
    if isinstance(expr, ast.Name) and expr.id == "trivial":
        return None
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and expr.func.id == "T" and expr.kwargs:
        return _stepped_translations(expr, env)
    indefinite = isinstance(expr, ast.Call) and expr.func.id in INDEFINITE_GROUPS
    if indefinite and not expr.kwargs and (len(expr.args) == 2 or expr.func.id == "SO+"):
        return _indefinite(expr, env)
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.kwargs:
        name, (arg,) = expr.func.id, expr.args
        builder = _FACTOR_BUILDERS.get(name)
        if builder is not None:
            return builder(name, arg, env)
    raise GeoError(
        about_expr(
            "GEO202",
            expr,
            "is not a known group",
            label="unknown group",
            help="groups: `trivial`, `O(n)`, `SO(n)`, `E(n)`, `SE(n)`, `T(n)`, `T(n, step=k)`, "
            "`Lorentz(n)`, `O(p, q)`, `SO(p, q)`, `SO+(p, q)`, "
            "`Sp(n)`, `C(n)`, `D(n)`, `S(n)`, `A(n)`, `S(axis)`, joined by `x`",
        )
    )


def _geometric(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    n = evaluate(arg, env)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 64:
        raise GeoError(
            Diagnostic(
                "GEO202",
                f"`{name}(n)` needs a dimension n between 1 and 64",
                arg.span,
                label="not a dimension",
                help=f"e.g. `{name}(3)`",
            )
        )
    rotations, translations = GEOMETRIC_GROUPS[name]
    return Geometric(n, rotations, translations)


def _indefinite(expr: ast.Call, env: dict[str, object]) -> Factor:
    """``O(p, q)``, ``SO(p, q)``, ``SO+(p, q)``: the (indefinite) orthogonal groups of R^(p, q),
    the first p coordinates +1 (docs/language.md, "Clifford algebras")."""
    values = [evaluate(a, env) for a in expr.args]
    if len(values) != 2 or not all(_is_int(v) and 0 <= v <= 64 for v in values) or sum(values) < 1:
        raise GeoError(
            Diagnostic(
                "GEO202",
                f"`{expr.func.id}(p, q)` needs a signature: integers p, q >= 0 with "
                f"1 <= p + q <= 64",
                expr.span,
                label="not a signature",
                help=f"e.g. `{expr.func.id}(1, 3)` (one +1 direction, three -1 directions)",
            )
        )
    p, q = (int(v) for v in values)  # type: ignore[call-overload]
    return IndefiniteFactor(expr.func.id, p, q)


def _stepped_translations(expr: ast.Call, env: dict[str, object]) -> Factor:
    """``T(d, step=k)``: the translations by multiples of ``k`` grid points of a torus (the
    torus checks that ``k`` divides its sizes); ``step=1`` is ``T(d)``."""
    (kw, *more) = expr.kwargs
    step = evaluate(kw.value, env) if kw.name.id == "step" and not more else None
    if not _is_int(step) or not 1 <= step <= 65536:
        raise GeoError(
            Diagnostic(
                "GEO220",
                "`T(d, ...)` takes one keyword, `step=k`: a positive integer",
                kw.span,
                label="not a translation step",
                help="write `T(2, step=2)` for the shifts by multiples of 2 grid points",
            )
        )
    shifts = _geometric("T", expr.args[0], env)
    assert isinstance(shifts, Geometric)
    return Geometric(shifts.n, shifts.rotations, shifts.translations, step=step)


def _permutation(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    if _is_int(evaluate(arg, env)):
        return _matrix_group(name, arg, env)  # S(5): permutation matrices on the channels
    if not isinstance(arg, ast.Name):
        raise GeoError(
            Diagnostic(
                "GEO202",
                "`S(...)` permutes a named index axis",
                arg.span,
                label="expected an axis name",
                help="e.g. `S(nodes)` or `S(set)`",
            )
        )
    return Permutation(arg.id)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matrix_group(name: str, arg: ast.Expr, env: dict[str, object]) -> Factor:
    """``Lorentz(3)``, ``Sp(2)``, ``C(4)``, ``D(4)``, ``S(5)``, ``A(5)``: a solver group."""
    n = evaluate(arg, env)
    if not _is_int(n) or not 1 <= n <= 64:  # type: ignore[operator]
        raise GeoError(
            Diagnostic(
                "GEO202",
                f"`{name}(n)` needs a size n between 1 and 64",
                arg.span,
                label="not a group size",
                help=f"e.g. `{name}(4)`",
            )
        )
    return MatrixFactor(name, int(n))  # type: ignore[arg-type]


_FACTOR_BUILDERS: dict[str, Callable[[str, ast.Expr, dict[str, object]], Factor]] = {
    **{name: _geometric for name in GEOMETRIC_GROUPS},
    **{name: _matrix_group for name in MATRIX_GROUPS},
    "S": _permutation,
}


# --- declared symmetry breaking: `breaks T(3) by x` --------------------------------------------


def remainder_from_ast(
    group: Group, statements: list[ast.Breaks], env: dict[str, object], polar: bool = False
) -> tuple[Group, tuple[Broken, ...]]:
    """The group that remains after every `breaks` statement, in order, and what each broke.
    A part outside the declared group is GEO212, one an earlier statement broke GEO213, a
    reduction to a named subgroup other than `SO(3) to SO(2)` on a sphere (``polar``: the
    rotations about its polar axis) GEO513, a factor other than a geometric or permutation one
    GEO514."""
    remaining, broken = group, []
    for stmt in statements:
        part = _broken_part(stmt, group, remaining, env)
        to = _reduced_to(stmt, stmt.to, part, env, polar) if stmt.to is not None else None
        remaining = remaining.remainder(part, to)
        broken.append(Broken(part, tuple(n.id for n in stmt.by), to))
    return remaining, tuple(broken)


def _reduced_to(
    stmt: ast.Breaks,
    expr: ast.Expr,
    part: Geometric | Permutation,
    env: dict[str, object],
    polar: bool,
) -> Geometric:
    """`to SO(2)`: on a sphere, rotations of R^3 reduced to those about the polar axis."""
    to = _factor(expr, env)
    rotations = isinstance(part, Geometric) and part.rotations is not Rotations.NONE
    if polar and to == POLAR and rotations and isinstance(part, Geometric) and part.n == 3:
        return to
    raise GeoError(
        about_expr(
            "GEO513",
            expr,
            "names the subgroup that remains; the one reduction built is `SO(3) to SO(2)` on a "
            "`sphere` domain (the rotations about its polar axis)",
            label="not built",
            help="break the whole factor instead (`breaks SO(3) by lat`: no rotation remains), "
            "which the check then verifies",
        )
    )


def _broken_part(
    stmt: ast.Breaks, declared: Group, remaining: Group, env: dict[str, object]
) -> Geometric | Permutation:
    part = _factor(stmt.group, env)
    if isinstance(part, Geometric) and remaining.contains(part):
        return part
    if isinstance(part, Permutation) and part in remaining.factors:  # positions of a sequence
        return part
    geometric = isinstance(part, Geometric)
    if (geometric and declared.contains(part)) or (
        isinstance(part, Permutation) and part in declared.factors
    ):
        example = ": `breaks T(3) by x, y`" if geometric else ""
        raise GeoError(
            about_expr(
                "GEO213",
                stmt.group,
                f"is already broken by an earlier `breaks` (what remains is {remaining})",
                label="broken twice",
                help=f"declare each broken part once, naming every value that breaks it after "
                f"`by`{example}",
            )
        )
    if part is not None and part in declared.factors and not geometric:
        raise GeoError(
            about_expr(
                "GEO514",
                stmt.group,
                "is part of the symmetry, but breaking it is not built",
                label="not built",
                help="only the geometric factor (rotations, reflections, translations) and "
                "permutations (`S(tokens)`) can be declared broken; drop the factor from "
                "`symmetry` instead",
            )
        )
    geo = declared.geometric
    raise GeoError(
        about_expr(
            "GEO212",
            stmt.group,
            f"is not part of the declared symmetry {declared}",
            label="not in the symmetry",
            help=f"break a part of {geo}: "
            + ", ".join(f"`{p}`" for p in _parts(geo))
            + " (translations, or the rotations with them)"
            if geo
            else "a `breaks` names a part of the geometric factor of `symmetry`",
        )
    )


def _parts(geo: Geometric) -> list[str]:
    """The geometric groups contained in ``geo`` (what a `breaks` may name)."""
    group = Group((geo,))
    parts = [Geometric(geo.n, r, t) for r in Rotations for t in (False, True)]
    return [str(p) for p in parts if _acts(p) and group.contains(p)]


def _acts(part: Geometric) -> bool:
    return part.rotations is not Rotations.NONE or part.translations
