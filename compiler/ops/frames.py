# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""Frames as values: canonicalisation (Kaba et al. 2023, "Equivariance with learned
canonicalization functions", arXiv:2211.06489).

A ``frame(n)`` is an orthonormal n x n matrix whose columns transform as vectors, F -> R F
(stored column by column). ``frame(v1, ..., vn)`` builds one by Gram-Schmidt from equivariant
vectors; ``to_frame(x, F)`` gives the coordinates of ``x`` in it (invariant scalars) and
``from_frame(y, F, T)`` turns coordinates back into a value of type ``T``. Together with a
``canonical { ... }`` body (compiler/elaborate/canonical.py), an unconstrained network run on
frame coordinates is equivariant. docs/language.md, "Frames and canonicalisation".

    >>> from geoc.groups import Group
    >>> from geoc.types import FeatureType
    >>> frame_terms(FeatureType.parse("scalar + 2 x vector + 1x2e"), Group.parse("E(3)"))
    ((1, 0, 1), (2, 1, 1), (1, 2, -1))
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.groups import Group, Rotations
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    contract,
    define,
    preset,
    tensor,
    tensors,
    typing_rule,
)
from geoc.ops.core import joint_axes
from geoc.types import VECTOR, Atom, AtomKind, FeatureType, Term, scalars

#: Degrees of the named atoms: `scalar`/`pseudoscalar` are degree 0, vectors degree 1.
_NAMED_DEGREES = {
    AtomKind.SCALAR: 0,
    AtomKind.PSEUDOSCALAR: 0,
    AtomKind.VECTOR: 1,
    AtomKind.PSEUDOVECTOR: 1,
}
#: Frame operators read frames (a manifold atom) and keep them where they build one.
_FRAME_TRAITS = preset(PLAIN, "keeps_manifold", "euclidean_norm")
_MOVE_TRAITS = preset(PLAIN, "euclidean_norm", linear_in=("x",))
#: One term as the kernels see it: (copies, degree l, sign) with sign -1 where a det -1 frame
#: also multiplies by its determinant (pseudo atoms, irreps of parity != (-1)^l).
FrameTerm = tuple[int, int, int]


def frame_atom(n: int) -> Atom:
    return Atom(AtomKind.FRAME, (n,))


def frame_dim(ctx: OpContext, arg: int | None = None) -> int:
    """The n of R^n the group acts on; GEO380 without one."""
    n = ctx.group.space_dim
    if n is None:
        raise ctx.error(
            "GEO380",
            f"`{ctx.op}` needs a group acting on R^n",
            arg=arg,
            help="declare a geometric symmetry such as `E(3)`, or a `pointcloud` domain",
        )
    return n


def frame_terms(ftype: FeatureType, group: Group) -> tuple[FrameTerm, ...] | None:
    """``(copies, l, sign)`` per term of a value that has coordinates in a frame, or None."""
    out = []
    for term in ftype.terms:
        atom = term.atom
        if atom.kind is AtomKind.IRREP:
            if group.space_dim != 3:
                return None
            l = atom.args[0]
        elif atom.kind in _NAMED_DEGREES:
            l = _NAMED_DEGREES[atom.kind]
        else:
            return None
        out.append((term.mul, l, atom.sign))
    return tuple(out)


def _movable(
    ctx: OpContext, ftype: FeatureType, code: str, arg: int | None = None, attr: str | None = None
) -> tuple[FrameTerm, ...]:
    """The kernels' terms of a value moved into or out of a frame; ``code`` for other atoms."""
    terms = frame_terms(ftype, ctx.group)
    if terms is not None:
        return terms
    point = ftype.has_points
    raise ctx.error(
        code,
        f"`{ctx.op}` moves scalars, vectors and O(3) irreps, not `{ftype.with_axes(())}`",
        arg=arg,
        attr=attr,
        label=str(ftype),
        help="a point needs an origin: `to_frame(x - o, F)` with `o` an equivariant point such "
        "as `mean(x, over=points)`"
        if point
        else "map the value to vectors or irreps first (`linear(x, T)`)",
    )


def _frame_arg(ctx: OpContext, ftype: FeatureType, arg: int) -> int:
    """The n of a `frame(n)` argument; GEO383 for anything else."""
    n = frame_dim(ctx, arg)
    want = frame_atom(n)
    if ftype.terms != (Term(1, want),):
        raise ctx.error(
            "GEO383",
            f"`{ctx.op}` needs a frame `{want}` here, not `{ftype.with_axes(())}`",
            arg=arg,
            label=str(ftype),
            help="build one with `frame(v1, v2, v3)`",
        )
    return n


def _check_frame_axes(ctx: OpContext, value: FeatureType, frame: FeatureType) -> tuple[str, ...]:
    """One frame per element of the value, or one per graph (global): never a frame over axes
    the value does not have (it would be a frame per element of another axis)."""
    if frame.axes and frame.axes != value.axes:
        raise ctx.error(
            "GEO383",
            f"the frame is over {', '.join(frame.axes)} but the value over "
            f"{', '.join(value.axes) or 'no axis'}",
            arg=1,
            label=str(frame),
            help="use one frame per graph (pooled), or one per element of the value's axis",
        )
    return joint_axes(ctx, [value, frame])


# ---------------------------------------------------------------------------------------------
# frame(v1, ..., vn)

FRAME = define(
    "frame",
    "frames",
    (tensors("vs"),),
    _FRAME_TRAITS,
    "orthonormal frame `frame(n)` by Gram-Schmidt from n vectors (O(n)); from n-1 vectors in "
    "2-D/3-D the last column is their cross product (SO(n) only: `GEO460`)",
)


@typing_rule(FRAME)
def _infer_frame(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Gram-Schmidt commutes with every orthogonal map (it uses only inner products and linear
    combinations), so columns built from vectors transform as vectors: F -> R F."""
    n = frame_dim(ctx)
    if len(types) != n and not (len(types) == n - 1 and n in (2, 3)):
        counts = f"{n} vectors" + (f" (or {n - 1}, with a cross product)" if n in (2, 3) else "")
        raise ctx.error(
            "GEO380",
            f"`frame` in R^{n} takes {counts}, not {len(types)}",
            label=f"{len(types)} values",
            help=f"e.g. `frame({', '.join(f'v{i + 1}' for i in range(n))})`",
        )
    for index, ftype in enumerate(types):
        one = len(ftype.terms) == 1 and ftype.terms[0].mul == 1
        if not (one and ctx.group.same_atom(ftype.atoms[0], VECTOR)) or ftype.has_points:
            raise ctx.error(
                "GEO380",
                f"`frame` takes one `vector` per argument, not `{ftype.with_axes(())}`",
                arg=index,
                label=str(ftype),
                help="subtract an equivariant origin from a point (`x - mean(x, over=points)`), "
                "or take one copy with `linear(h, vector)`",
            )
    return (FeatureType((Term(1, frame_atom(n)),), joint_axes(ctx, types)),)


@contract(FRAME)
def _frame_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    """The cross product of vectors is a pseudovector: under reflections the completed frame
    would move by det(R) on its last column."""
    n = ctx.group.space_dim
    if ctx.group.rotations is Rotations.O and n is not None and len(types) == n - 1:
        return [
            ctx.diagnostic(
                "GEO460",
                f"`frame` of {n - 1} vectors completes the frame with a cross product, a "
                f"pseudovector: not equivariant under {ctx.group}, which has reflections",
                label="cross-product frame",
                help=f"give a {'third' if n == 3 else 'second'} vector, or declare SO({n})/SE({n})",
            )
        ]
    return []


# ---------------------------------------------------------------------------------------------
# to_frame(x, F), from_frame(y, F, T)

TO_FRAME = define(
    "to_frame",
    "frames",
    (tensor("x"), tensor("F")),
    _MOVE_TRAITS,
    "coordinates in the frame, `c x scalar` (`F^T x` for vectors, `D(F)^T x` for irreps); of a "
    "point: `GEO381` (write `to_frame(x - o, F)`)",
)


@typing_rule(TO_FRAME)
def _infer_to_frame(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """D(gF)^T D(g) x = D(F)^T x for every g in O(n) (D a representation, orthogonal), so the
    coordinates are invariant scalars."""
    x, frame = types
    _frame_arg(ctx, frame, 1)
    _movable(ctx, x, "GEO381", arg=0)
    axes = _check_frame_axes(ctx, x, frame)
    return (scalars(ctx.group.type_dim(x), axes),)


FROM_FRAME = define(
    "from_frame",
    "frames",
    (tensor("y"), tensor("F"), attr("out", AttrKind.TYPE)),
    preset(PLAIN, linear_in=("y",)),
    "frame coordinates back to a value of type `out` (`F y` for vectors, `D(F) y` for irreps)",
)


@typing_rule(FROM_FRAME)
def _infer_from_frame(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """D(gF) y = D(g) D(F) y for invariant y, so the result transforms as ``out``."""
    y, frame = types
    out: FeatureType = attrs["out"]
    _frame_arg(ctx, frame, 1)
    _movable(ctx, out.with_axes(()), "GEO382", attr="out")
    size = ctx.group.type_dim(out)
    invariant = all(ctx.group.is_invariant(a) for a in y.atoms)
    if not invariant or ctx.group.type_dim(y) != size:
        raise ctx.error(
            "GEO382",
            f"`from_frame` to `{out.with_axes(())}` reads {size} invariant scalars, not "
            f"`{y.with_axes(())}`",
            arg=0,
            label=str(y),
            help=f"give the frame coordinates, `{size} x scalar` (e.g. from `to_frame`)",
        )
    axes = _check_frame_axes(ctx, y, frame)
    return (FeatureType(out.terms, axes),)


__all__ = ["FRAME", "FROM_FRAME", "TO_FRAME", "FrameTerm", "frame_atom", "frame_terms"]
