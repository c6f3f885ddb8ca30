"""Operator traits: the properties that checks and passes read, declared on each operator.

Every field is required, so an operator states each property and none is forgotten; a family
writes a few presets with :func:`preset`, naming the flags each turns on.

    >>> from geoc.ops import lookup
    >>> lookup("act").traits.elementwise, lookup("act").traits.learned
    (True, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geoc.types import AtomKind

if TYPE_CHECKING:
    from geoc.groups import Group
    from geoc.types import FeatureType

#: Whether a call of an operator maps the last axis, given the group, input and output types.
CallPredicate = Callable[["Group", Sequence["FeatureType"], "FeatureType"], bool]


@dataclass(frozen=True)
class EuclideanOnly:
    """The operator computes in the coordinates of R^n: Lorentz, Poincaré and SPD values are
    rejected with ``code``; the help line names the manifold operation to use instead."""

    code: str
    fixes: tuple[tuple[AtomKind, str], ...]  # the help line per manifold kind
    other: str  # the help line for any other manifold kind

    def fix(self, kind: AtomKind) -> str:
        return dict(self.fixes).get(kind, self.other)


@dataclass(frozen=True)
class Traits:
    """What the drivers need to know about an operator (no field has a default)."""

    #: Acts channel by channel: fields may stay channel-first when every operand is a field.
    elementwise: bool
    #: Accepts fields: values over a torus or sphere grid (``GEO311`` otherwise).
    fields: bool
    #: Accepts spherical-harmonic coefficients, the values over ``spectrum`` (``GEO311``).
    spectra: bool
    #: Accepts weight-space values, over ``weights`` (``GEO342`` otherwise).
    weights: bool
    #: Rejects Lorentz, Poincaré and SPD inputs (with its code and help); None: no guard.
    euclidean: EuclideanOnly | None
    #: Reads ``unit(n)`` inputs as their coordinates in R^n, so its result is Euclidean.
    ambient: bool
    #: Its typing rule may type a result as a manifold point (``unit(n)``, Lorentz, SPD): it
    #: keeps values on their manifold. Any other operator's ``unit(n)`` results are typed as
    #: their coordinates in R^n, and its other manifold results are ``GEO411``.
    keeps_manifold: bool
    #: Measures each copy of its tensor inputs by the Euclidean inner product (a norm, a dot
    #: product, a normalisation by |x|): invariant only where the group preserves that product,
    #: so Lorentz(n) and Sp(n) vectors and tensors are ``GEO420``.
    euclidean_norm: bool
    #: Its lowering takes fields as they come, ``[batch, channels, *grid]`` (channel-first).
    channel_first: bool
    #: When this holds for a call, that lowering maps the last axis after all (None: never).
    channel_last_when: CallPredicate | None
    #: Has trainable parameters.
    learned: bool
    #: The tensor inputs it is linear in, each with the others fixed.
    linear_in: tuple[str, ...]
    #: Acts on each element alone: ``f(x)[src] == f(x[src])``, so it may move past a gather.
    commutes_gather: bool
    #: Along a causal sequence, each output token reads only the tokens at or before it
    #: (attention lowers with the causal mask; a positional operator reads its own position).
    causal: bool
    #: Linear on each element: it commutes with a sum over edges into nodes (up to its bias).
    commutes_scatter: bool
    #: May add a learned bias (its ``bias=`` attribute), the constant part of a linear map.
    bias: bool
    #: The tensor inputs that read integer labels (``index(n)`` values): every other input
    #: of every operator refuses them (``GEO360``), since a label is a class, not a number.
    labels: tuple[str, ...]


#: The yes-or-no traits (the ``bool`` fields); a preset names the ones it turns on.
FLAGS = tuple(f.name for f in dataclasses.fields(Traits) if f.type == "bool")


def preset(base: Traits, *on: str, **values: Any) -> Traits:
    """``base`` with the flags ``on`` turned on and the other fields in ``values`` set:
    ``preset(PLAIN, "learned", linear_in=("x",))``."""
    return dataclasses.replace(base, **dict.fromkeys(on, True), **values)


#: What the family presets start from: a map of each element on its own, of plain values only
#: (no fields, coefficients or weight spaces), without parameters.
PLAIN = preset(
    Traits(
        **dict.fromkeys(FLAGS, False),
        euclidean=None,
        channel_last_when=None,
        linear_in=(),
        labels=(),
    ),
    "commutes_gather",
)

__all__ = ["FLAGS", "PLAIN", "CallPredicate", "EuclideanOnly", "Traits", "preset"]
