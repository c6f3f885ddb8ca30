"""``weightspace(mlp=[d0, d1, ..., dL])``: the weights and biases of an MLP (Navon et al.,
ICML 2023; docs/weightspace.md). Values live over ``weights``; ``S(hidden)`` permutes the
neurons of every hidden layer and is the only group that acts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import base
from geoc.domains.base import HIDDEN_AXIS, WEIGHTS_AXIS, Domain, DomainKind, DomainRules
from geoc.grammar import ast
from geoc.groups import Group, Permutation
from geoc.types import AtomKind, FeatureType

if TYPE_CHECKING:
    from geoc.ops import OpContext, OpDef


def parse(expr: ast.Call, env: base.Env) -> Domain:
    """``mlp`` lists the layer sizes, or names a list parameter."""
    base.no_kwargs(expr, {"mlp"})
    given = next((kw.value for kw in expr.kwargs if kw.name.id == "mlp"), None)
    usage = "write `weightspace(mlp=[d0, d1, ..., dL])`: at least two positive layer sizes"
    if expr.args or given is None:
        raise GeoError(base.bad(expr, usage))
    items = given.items if isinstance(given, ast.List) else None
    value = env.get(given.id) if isinstance(given, ast.Name) else None
    sizes = [base.constant(i, env, None) for i in items] if items is not None else value
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise GeoError(base.bad(given, usage))
    for size, item in zip(sizes, items or [given] * len(sizes), strict=True):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 65536:
            raise GeoError(base.bad(item, "a layer size is an integer between 1 and 65536"))
    return Domain(DomainKind.WEIGHTSPACE, layers=tuple(sizes))


def is_weight_value(ftype: FeatureType) -> bool:
    return ftype.axes == (WEIGHTS_AXIS,)


def check_weightspace_type(ctx: OpContext, ftype: FeatureType) -> None:
    """GEO341 for a value over `hidden` (or `weights` and more); GEO340 unless scalar."""
    axes = ftype.axes
    if HIDDEN_AXIS in axes or (WEIGHTS_AXIS in axes and len(axes) > 1):
        raise ctx.error(
            "GEO341",
            f"a weight-space value lives over `{WEIGHTS_AXIS}` alone, not `{', '.join(axes)}`",
            label=str(ftype),
            help=f"write `... over {WEIGHTS_AXIS}`; `{HIDDEN_AXIS}` names the neurons that "
            f"`S({HIDDEN_AXIS})` permutes, not an axis of values",
        )
    check_scalar_channels(ctx, ftype)


def check_scalar_channels(ctx: OpContext, ftype: FeatureType, arg: int | None = None) -> None:
    if WEIGHTS_AXIS not in ftype.axes:
        return
    where = f"a value over `{WEIGHTS_AXIS}`"
    help_text = (
        "write the channels as `k x scalar`: `S(hidden)` moves the weights, not the channels"
    )
    base.check_channels(ctx, ftype, {AtomKind.SCALAR}, "GEO340", where, help_text, arg)


#: How an operator may not take weight-space values, in the order checked: (code, the argument
#: that breaks the rule, the message from the operator's name and that argument's type, help).
_WEIGHT_USES: tuple[tuple[str, Callable[[OpDef, FeatureType], bool], str, str], ...] = (
    (
        "GEO342",
        lambda op, ftype: is_weight_value(ftype) and not op.traits.weights,
        "`{op}` does not act on weight-space values: `{ftype}`",
        "weight-space values take `dws_linear`, `dws_pool`, `dws_flatten` and the "
        "pointwise `linear`, `mlp`, `act`, `+`, `-`, `*`, `concat`",
    ),
    # Several values combine all over `weights` or none (a value here is over `weights`).
    (
        "GEO343",
        lambda op, ftype: not ftype.axes,
        f"`{{op}}` combines a value over `{WEIGHTS_AXIS}` with a global value",
        "a global value does not broadcast over the weights; combine global values "
        "after `dws_pool`, or map the weights with `dws_linear`",
    ),
)


def check_weightspace_use(ctx: OpContext, op: OpDef, types: Sequence[FeatureType]) -> None:
    """GEO342 for an operator not defined on weight-space values; GEO343 for one that mixes
    them with global values."""
    if not any(is_weight_value(t) for t in types):
        return
    for code, breaks, message, help_text in _WEIGHT_USES:
        index = next((i for i, t in enumerate(types) if breaks(op, t)), None)
        if index is not None:
            ftype = types[index]
            raise ctx.error(
                code,
                message.format(op=ctx.op, ftype=ftype),
                arg=index,
                label=str(ftype),
                help=help_text,
            )


def check_weightspace_symmetry(group: Group, domain: Domain, span: Span | None) -> None:
    """GEO431 unless every factor of the group is ``S(hidden)``."""
    for factor in group.factors:
        if isinstance(factor, Permutation) and factor.axis == HIDDEN_AXIS:
            continue
        raise GeoError(
            Diagnostic(
                "GEO431",
                f"`{factor}` does not act on the weight space `{domain}`",
                span,
                label="no action on the weights",
                help=f"a weight space carries `S({HIDDEN_AXIS})`, the permutations of each "
                f"hidden layer's neurons; declare `symmetry S({HIDDEN_AXIS})` (or `trivial`)",
            )
        )


base.register(
    DomainRules(
        DomainKind.WEIGHTSPACE,
        describe=lambda d: f"weightspace(mlp=[{', '.join(map(str, d.layers))}])",
        axes=lambda d: (WEIGHTS_AXIS, HIDDEN_AXIS),
        parse=parse,
        check_symmetry=check_weightspace_symmetry,
        check_type=check_weightspace_type,
        check_use=check_weightspace_use,
    )
)
