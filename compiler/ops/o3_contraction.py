# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""MACE's symmetric contraction (Batatia et al., NeurIPS 2022): many-body features of one
value, per channel, with weights per species.

``symmetric_contraction(a, species, out=..., correlation=ν)`` takes ``a`` of type
``k x ir_1 + k x ir_2 + ...`` (every irrep with the same ``k`` channels) and gives, for each
term ``k x L`` of ``out``, ``Σ_{η} W[species, η, c] B_η(A_c)``: channel ``c`` of every irrep
of ``a`` is one vector ``A_c``, and ``B_η`` runs over a basis of the equivariant polynomials of
``A_c`` of degree 1..ν with irrep ``L`` (the coupling paths of :mod:`geoc.o3.coupling`).
``species`` selects the weights: labels ``index(n)`` pick row ``species`` of each table;
invariant scalars ``n x scalar`` (a one-hot row) mix the ``n`` rows. Definition, parameter
layout and cost: ``docs/symmetric_contraction.md``.

    >>> from geoc.types import FeatureType
    >>> from geoc.groups import Group
    >>> a = FeatureType.parse("8x0e + 8x1o + 8x2e")
    >>> [len(p) for p in contraction_paths(a, FeatureType.parse("8x0e + 8x1o"), 2,
    ...                                    Group.parse("O(3)"))]
    [4, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from geoc import budget
from geoc.diagnostics import Diagnostic
from geoc.groups import Group
from geoc.o3 import CouplingPath, symmetric_paths
from geoc.ops import AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, invariant_input_violation
from geoc.ops.euclidean import LAYER
from geoc.ops.o3 import IRREP_TRAITS, _check_out_axes, _irreps, _takes, kernel_irreps
from geoc.types import FeatureType

#: The largest correlation order: the paths of order ν number about (slots)^ν / ν!, and the
#: test of which are independent builds tensors of size (2 lmax + 1)^ν.
MAX_CORRELATION = 6

SYMMETRIC_CONTRACTION = define(
    "symmetric_contraction",
    "o3",
    (
        tensor("a"),
        tensor("species"),
        attr("out", AttrKind.TYPE),
        attr("correlation", AttrKind.INT, 3),
    ),
    preset(IRREP_TRAITS, "learned", euclidean=LAYER, labels=("species",)),
    "`out` on `a`'s axes: MACE's symmetric contraction, per channel the products of `a`'s "
    "irreps up to `correlation` factors coupled to each irrep of `out`, weighted per "
    "`species` (`index(n)` labels or `n x scalar`); `a` and `out` have one multiplicity "
    "(`GEO300`), a term of `out` no product reaches is `GEO403`",
)


@typing_rule(SYMMETRIC_CONTRACTION)
def _infer_symmetric_contraction(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Each feature is a chain of Clebsch–Gordan couplings of a's irreps, so it transforms as
    its irrep; weights are per channel and invariant (species), and every element on its own."""
    a, species = types
    out: FeatureType = attrs["out"]
    channels = _channels(ctx, a, 0, "a")
    _irreps(ctx, out, None)
    _check_out_axes(ctx, out, a.axes)
    if any(term.mul != channels for term in out.terms):
        raise ctx.error(
            "GEO300",
            f"`symmetric_contraction` keeps `a`'s {channels} channels, but `out` is `{out}`",
            label=str(out),
            help=f"give every term of `out` {channels} copies, e.g. `{channels}x0e`",
        )
    _check_species(ctx, a, species)
    correlation = attrs["correlation"]
    if not 1 <= correlation <= MAX_CORRELATION:
        raise ctx.error(
            "GEO302",
            f"`correlation` must be from 1 to {MAX_CORRELATION}, got {correlation}",
            label=str(correlation),
            help="MACE uses `correlation=3` (body order 4)",
        )
    products = math.comb(len(a.terms) + correlation, correlation) - 1  # multisets of 1..ν
    budget.require_dim(f"the products of {len(a.terms)} irreps up to order {correlation}", products)
    contraction_paths(a, out, correlation, ctx.group)  # the tensors it tests are sized here
    return (out.with_axes(a.axes),)


def _channels(ctx: OpContext, a: FeatureType, arg: int, name: str) -> int:
    """``k``: every irrep of ``a`` has ``k`` copies (GEO300 otherwise)."""
    _irreps(ctx, a, arg)
    muls = {term.mul for term in a.terms}
    if len(muls) != 1:
        fix = "give every irrep the same channels, e.g. `8x0e + 8x1o + 8x2e`"
        raise _takes(ctx, f"one multiplicity for every irrep of `{name}`", a, arg, fix)
    return muls.pop()


def _check_species(ctx: OpContext, a: FeatureType, species: FeatureType) -> None:
    """``species`` on ``a``'s axes, labels ``index(n)`` or features without labels."""
    if species.axes != a.axes:
        raise ctx.error(
            "GEO305",
            f"`symmetric_contraction` takes `species` over {axes_text(a.axes)} like `a`, not "
            f"over {axes_text(species.axes)}",
            arg=1,
            label=str(species),
            help="pass the species of the same elements, e.g. `z` over nodes",
        )
    if species.has_labels and species.classes is None:
        raise ctx.error(
            "GEO362",
            f"`species` is labels `index(n)` alone or invariant scalars, not `{species}`",
            arg=1,
            label=str(species),
            help="pass `z: index(n)` itself, or `embed(z, n x scalar)`",
        )


@contract(SYMMETRIC_CONTRACTION)
def _symmetric_contraction_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    a, species = types
    found = (
        []
        if species.classes is not None
        else invariant_input_violation(
            ctx, species, 1, "pass labels `index(n)`, or invariant scalars such as a one-hot row"
        )
    )
    paths = contraction_paths(a, attrs["out"], attrs["correlation"], ctx.group)
    for term, term_paths in zip(attrs["out"].terms, paths, strict=True):
        if not term_paths:
            found.append(
                ctx.diagnostic(
                    "GEO403",
                    f"`symmetric_contraction` cannot produce `{term}` from `{a.with_axes(())}` "
                    f"with up to {attrs['correlation']} factors under {ctx.group} (no symmetric "
                    "product has that irrep): it would be zero",
                    arg=0,
                    label=f"no product gives {term.atom}",
                    help=f"drop `{term}` from `out`, or raise `correlation`",
                )
            )
            break
    return found


def contraction_paths(
    a: FeatureType, out: FeatureType, correlation: int, group: Group
) -> tuple[tuple[CouplingPath, ...], ...]:
    """The coupling paths of each term of ``out``, in the weights' order (by order, then
    multiset of ``a``'s terms, then intermediate degrees)."""
    slots = tuple((l, p) for _, l, p in kernel_irreps(a, group))
    return tuple(
        symmetric_paths(slots, (l, p), correlation) for _, l, p in kernel_irreps(out, group)
    )


__all__ = ["MAX_CORRELATION", "contraction_paths"]
