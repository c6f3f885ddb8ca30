"""``weightspace(mlp=[d0, d1, ..., dL])`` and ``weightspace(cnn=[c0, ..., cL], kernel=k,
head=[n_out])``: the weights and biases of an MLP or a CNN (Navon et al., ICML 2023; Zhou et
al. 2023; docs/weightspace.md), with ``residual=`` skips and ``padded=true`` batches of several
widths. Values live over ``weights``; ``S(hidden)`` permutes the neurons of every hidden layer
(tied across skips) and is the only group that acts. The layout: ``weightspace_layout``."""

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


_USAGE = (
    "write `weightspace(mlp=[d0, d1, ..., dL])` or `weightspace(cnn=[c0, c1, ..., cL], "
    "kernel=k, head=[n_out])`, optionally with `residual=[i, ...]` and `padded=true`"
)


def parse(expr: ast.Call, env: base.Env) -> Domain:
    """``mlp`` lists the layer sizes (or names a list parameter); ``cnn``, ``kernel`` and
    ``head`` a CNN with a linear head; ``residual`` the layers that add their input back;
    ``padded`` whether the sizes are maxima (docs/weightspace.md)."""
    base.no_kwargs(expr, {"mlp", "cnn", "kernel", "head", "residual", "padded"})
    given = {kw.name.id: kw.value for kw in expr.kwargs}
    if expr.args or ("mlp" in given) == ("cnn" in given):
        raise GeoError(base.bad(expr, _USAGE))
    if "mlp" in given:
        for key in ("kernel", "head"):
            if key in given:
                raise GeoError(base.bad(given[key], f"`{key}` belongs to `cnn=`: {_USAGE}"))
        sizes, conv, kernel = _sizes(given["mlp"], env, 2), 0, 0
    else:
        if "kernel" not in given or "head" not in given:
            raise GeoError(
                base.bad(expr, f"a CNN weight space needs `kernel` and `head`: {_USAGE}")
            )
        convs = _sizes(given["cnn"], env, 2)
        sizes, conv = convs + _sizes(given["head"], env, 1), len(convs) - 1
        kernel = base.constant(given["kernel"], env, None)
        if isinstance(kernel, bool) or not isinstance(kernel, int) or not 1 <= kernel <= 15:
            raise GeoError(base.bad(given["kernel"], "a kernel size is an integer from 1 to 15"))
    skips = _skips(given.get("residual"), env, sizes)
    padded = base.constant(given.get("padded"), env, False)
    if not isinstance(padded, bool):
        raise GeoError(base.bad(given["padded"], "`padded` is `true` or `false`"))
    return Domain(
        DomainKind.WEIGHTSPACE, layers=sizes, conv=conv, kernel=kernel, skips=skips, padded=padded
    )


def _sizes(given: ast.Expr, env: base.Env, least: int) -> tuple[int, ...]:
    """A list of at least ``least`` layer sizes, written out or a list parameter's name."""
    items = given.items if isinstance(given, ast.List) else None
    value = env.get(given.id) if isinstance(given, ast.Name) else None
    sizes = [base.constant(i, env, None) for i in items] if items is not None else value
    if not isinstance(sizes, (list, tuple)) or len(sizes) < least:
        raise GeoError(base.bad(given, f"{_USAGE}: at least {least} positive layer sizes"))
    for size, item in zip(sizes, items or [given] * len(sizes), strict=True):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 65536:
            raise GeoError(base.bad(item, "a layer size is an integer between 1 and 65536"))
    return tuple(sizes)


def _skips(given: ast.Expr | None, env: base.Env, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """``residual=[i, ...]``: layer ``i`` adds its input ``h_(i-1)`` to its output, so both
    must be hidden (their permutations are tied; input and output neurons never move) and of
    one width (GEO441)."""
    if given is None:
        return ()
    items = given.items if isinstance(given, ast.List) else None
    if items is None:
        raise GeoError(base.bad(given, "write `residual=[i, ...]`: the layers with a skip"))
    out = []
    for item in items:
        i = base.constant(item, env, None)
        if isinstance(i, bool) or not isinstance(i, int) or not 2 <= i <= len(sizes) - 2:
            why = f"a skip joins two hidden layers: `i` from 2 to {len(sizes) - 2}, not {i}"
            raise GeoError(_skip_error(item, why))
        if sizes[i] != sizes[i - 1]:
            why = f"a skip adds layer {i - 1} ({sizes[i - 1]} wide) to layer {i} ({sizes[i]})"
            raise GeoError(_skip_error(item, why))
        out.append(i)
    return tuple(sorted(set(out)))


def _skip_error(item: ast.Expr, why: str) -> Diagnostic:
    return Diagnostic(
        "GEO441",
        why,
        item.span,
        label="residual layer",
        help="`residual=[i]` means h_i = act(W_i h_(i-1) + b_i) + h_(i-1): layers i - 1 and "
        "i both hidden, of one width",
    )


def describe(domain: Domain) -> str:
    """The domain as written, so that ``Domain.parse(str(d)) == d``."""
    sizes = list(domain.layers)
    if domain.conv:
        cut = domain.conv + 1
        text = f"cnn={sizes[:cut]}, kernel={domain.kernel}, head={sizes[cut:]}"
    else:
        text = f"mlp={sizes}"
    if domain.skips:
        text += f", residual={list(domain.skips)}"
    if domain.padded:
        text += ", padded=true"
    return f"weightspace({text})"


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
        describe=describe,
        axes=lambda d: (WEIGHTS_AXIS, HIDDEN_AXIS),
        parse=parse,
        check_symmetry=check_weightspace_symmetry,
        check_type=check_weightspace_type,
        check_use=check_weightspace_use,
    )
)
