"""``canonicalise(x, s)``: an image turned into its canonical orientation (Kaba et al. 2023,
"Equivariance with learned canonicalization functions", arXiv:2211.06489), the `to_frame` of
the rotation group of a square torus.

``s`` is one `regular` score per image (a lifting / group convolution pooled over the grid:
``s(g·x)[g k] = s(x)[k]``); ``a`` is its argmax, ties broken by the lexicographic order of the
turned images (backends/torch_fx/gcnn/canon_kernels.py, which states the guarantee), and the
result is ``g_a⁻¹·x``. Under ``g`` the argmax becomes ``g a``, so ``(g a)⁻¹·(g·x) = a⁻¹·x``:
the turned image is the same, and lives over its own axis, ``torus_canon``, whose points the
group does not move. A plain `conv` (scalars to scalars) commutes with the trivial action
there, and a mean over it is invariant. Under ``T(2) x C(4)`` the turned image would move by a
shift that depends on the input (not a representation): GEO529.

    >>> from geoc.pipeline import frontend
    >>> text = '''model M() {
    ...     symmetry C(4)
    ...     domain torus(8, 8)
    ...     input x: 2 x scalar over torus
    ...     s = linear(mean(lift_conv(x, 2 x regular), over=torus), regular)
    ...     output y: 2 x scalar over torus_canon = canonicalise(x, s)
    ... }'''
    >>> str(frontend(text).outputs["y"].type)
    '2 x scalar over torus_canon'
"""

from __future__ import annotations

from collections.abc import Sequence

from geoc.domains import DomainKind
from geoc.domains.grid import CANONICAL_TORUS, TORUS, rotates_grid
from geoc.domains.torus import symmetry_error
from geoc.ops import PLAIN, OpContext, define, preset, tensor, typing_rule
from geoc.types import SCALAR, AtomKind, FeatureType

CANONICALISE = define(
    "canonicalise",
    "gcnn",
    (tensor("x"), tensor("s")),
    preset(PLAIN, "fields", "channel_first", commutes_gather=False),  # the tie-break reads x
    "the image `k x scalar over torus` turned by the inverse of the argmax of one global "
    "`regular` score (ties: the lexicographically largest turned image), over `torus_canon`, "
    "which the rotations do not move; `C(4)` / `D(4)` on a square torus only (`GEO529` with "
    "`T(2)`), arguments `GEO419`",
)


def _rotations_only(ctx: OpContext) -> None:
    """GEO529 unless the model's group is C(n) / D(n) of a square torus, without shifts."""
    fits = (
        ctx.domain.kind is DomainKind.TORUS
        and rotates_grid(ctx.group)
        and not ctx.group.translations
        and symmetry_error(ctx.group, ctx.domain) is None
    )
    if not fits:
        raise ctx.error(
            "GEO529",
            f"`canonicalise` under `symmetry {ctx.group}` on `{ctx.domain}` is not built: it "
            "turns images by the rotations of a square torus only",
            label="canonicalise",
            help="declare `symmetry C(4)` or `D(4)` on `domain torus(n, n)`; with `T(2)` the "
            "turned image moves by a shift that depends on the input",
        )


def _arguments(ctx: OpContext, x: FeatureType, s: FeatureType) -> None:
    """GEO419 unless ``x`` is an image of scalars over the torus and ``s`` one global
    `regular` (one score per group element)."""
    if x.axes != (TORUS,) or any(a != SCALAR for a in x.atoms):
        raise ctx.error(
            "GEO419",
            f"`canonicalise` turns an image `k x scalar over torus`, not `{x}`",
            arg=0,
            label=str(x),
            help="pass the input image (channels as `k x scalar`)",
        )
    one = len(s.terms) == 1 and s.terms[0].mul == 1 and s.atoms[0].kind is AtomKind.REGULAR
    if not one or s.axes:
        raise ctx.error(
            "GEO419",
            f"`canonicalise` reads one score per group element, a global `regular`, not `{s}`",
            arg=1,
            label=str(s),
            help="pool a lifting convolution: `linear(mean(lift_conv(x, k x regular), "
            "over=torus), regular)`",
        )


@typing_rule(CANONICALISE)
def _infer_canonicalise(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """The argmax of an equivariant score moves with the input and the tie-break compares the
    same set of turned images, so ``canonicalise(g·x, g·s) = canonicalise(x, s)``: an image
    over ``torus_canon``, whose points the group does not move (scalar channels: invariant)."""
    x, s = types
    _rotations_only(ctx)
    _arguments(ctx, x, s)
    return (x.with_axes((CANONICAL_TORUS,)),)


__all__ = ["CANONICALISE"]
