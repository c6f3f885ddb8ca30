"""O(3) non-linearities and normalisation that keep the type: e3nn's `gate`, `norm_act` and an
equivariant `layer_norm` (the rest of the family is in :mod:`geoc.ops.o3`)."""

from __future__ import annotations

from collections.abc import Sequence

from geoc.diagnostics import Diagnostic
from geoc.ops import AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import point_violation
from geoc.ops.euclidean import ACT
from geoc.ops.layers import ACTIVATIONS
from geoc.ops.o3 import IRREP_TRAITS, scalar_parity
from geoc.types import FeatureType, Term


def _point_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    fix = "apply it to differences of points (vectors) instead"
    return point_violation(ctx, types[0], 0, f"`{ctx.op}` of a point", fix)


#: O(3) operators act on each element's irreps: not on fields, coefficients or weight spaces.
# ---------------------------------------------------------------------------------------------
# gate, norm_act, layer_norm: non-linearities and normalisation that keep the type


def gated_terms(ftype: FeatureType) -> list[Term]:
    """The terms that `gate` multiplies by sigmoids of the even scalars (all but scalars)."""
    return [t for t in ftype.terms if scalar_parity(t.atom) is None]


def even_scalar_count(ftype: FeatureType) -> int:
    return sum(t.mul for t in ftype.terms if scalar_parity(t.atom) == 1)


_NONLINEAR = preset(IRREP_TRAITS, euclidean=ACT)
#: Divides copies by their Euclidean norms: only where the group preserves them (GEO420).
_NORMALISING = preset(_NONLINEAR, "learned", "bias", "euclidean_norm")
GATE = define(
    "gate",
    "o3",
    (tensor("x"),),
    _NONLINEAR,
    "same type: even scalars (`0e`) through `silu`, odd ones (`0o`) through `tanh`, copy `i` of "
    "every other term times `sigmoid` of the `i`-th even scalar (too few: `GEO300`); points: "
    "`GEO404`",
)


@typing_rule(GATE)
def _infer_gate(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: each gated copy is scaled by a sigmoid of an invariant (an even scalar), even
    scalars go through `silu` (invariant in, invariant out), odd ones through the odd `tanh`,
    which commutes with their sign flips. No norm is taken, so any linear action commutes."""
    (x,) = types
    gates = even_scalar_count(x)
    for term in gated_terms(x):
        if term.mul > gates:
            raise ctx.error(
                "GEO300",
                f"`gate` scales each copy of `{term.atom}` by a sigmoid of an even scalar: "
                f"one even scalar per copy, {term.mul} in all, but `x` has {gates}",
                arg=0,
                label=str(x),
                help=f"give `x` at least {term.mul} x 0e, e.g. "
                f"`linear(x, {term.mul}x0e + ...)` before the gate",
            )
    return (x,)


NORM_ACT = define(
    "norm_act",
    "o3",
    (tensor("x"), attr("act", AttrKind.SYMBOL, "silu")),
    _NORMALISING,
    "same type: even scalars through `act`; every other copy `v` becomes `v act(|v| + b) / |v|` "
    "(0 at `v = 0`), one learned `b` per copy; points: `GEO404`; Lorentz(n) / Sp(n) vectors: "
    "`GEO420`",
)
#: ``layer_norm(x, norm=...)``: each atom type by its own RMS, or EquiformerV2's separable
#: layer norm (all atom types but the even scalars by one degree-balanced RMS).
LAYER_NORMS = ("per_type", "separable")
LAYER_NORM = define(
    "layer_norm",
    "o3",
    (tensor("x"), attr("norm", AttrKind.SYMBOL, "per_type", LAYER_NORMS, written_only=True)),
    _NORMALISING,
    "same type: even scalars centred and divided by their RMS, each other atom type by the RMS "
    "of its copies' norms (`norm=separable`: all of them by one RMS, the mean over atom types "
    "of their mean squared component, EquiformerV2's separable layer norm), then a learned "
    "scale per copy and shift per even scalar; points: `GEO404`; Lorentz(n) / Sp(n) vectors: "
    "`GEO420`",
)
contract(GATE, NORM_ACT, LAYER_NORM)(_point_contract)


@typing_rule(LAYER_NORM)
def _infer_layer_norm(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: each atom type (``norm=separable``: all but the even scalars together) is
    divided by an RMS of its copies' Euclidean norms, invariant where the group is orthogonal
    on them (the ``euclidean_norm`` trait rejects Lorentz / Sp vectors, GEO420), and even
    scalars are centred by their (invariant) mean: every copy is scaled by an invariant."""
    return (types[0],)


@typing_rule(NORM_ACT)
def _infer_norm_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Same type: `v act(|v| + b) / |v|` is `v` times a function of `|v|`, which is invariant
    where the group is orthogonal on `v` (its ``euclidean_norm`` trait rejects Lorentz / Sp
    vectors, GEO420); even scalars are invariant, so `act` of them is too."""
    if attrs["act"] not in ACTIVATIONS:
        raise ctx.error(
            "GEO302",
            f"`{attrs['act']}` is not a known activation",
            label="unknown activation",
            help="activations: " + ", ".join(f"`{n}`" for n in ACTIVATIONS),
        )
    return (types[0],)


__all__ = ["LAYER_NORMS", "even_scalar_count", "gated_terms"]
