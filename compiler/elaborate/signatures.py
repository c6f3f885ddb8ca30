"""Signatures: calls matched to parameters (Python's rules), block and model parameters, and
attribute values checked against their kind."""

from __future__ import annotations

import difflib
from typing import Any, Protocol, TypeVar

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.elaborate.constants import const_value, is_number
from geoc.grammar import ast
from geoc.groups import Group
from geoc.initialisers import Initialiser
from geoc.ops import REQUIRED, ArgKind, AttrKind, Param
from geoc.types import FeatureType, type_from_ast


class Typed(Protocol):
    """A value while elaborating: anything with a feature type."""

    type: FeatureType


SCALAR_PARAM_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def match_arguments(params: tuple[Param, ...], call: ast.Call) -> dict[str, list[ast.Expr]]:
    """Python's rules: positionals fill parameters in order (a variadic one takes the rest),
    then keywords by name; each parameter at most once; required ones must be given."""
    given: dict[str, list[ast.Expr]] = {}
    positional = list(call.args)
    for param in params:
        if not positional:
            break
        if param.kind is ArgKind.TENSORS:
            given[param.name], positional = positional, []
        else:
            given[param.name] = [positional.pop(0)]
    if positional:
        count = f"{len(given)} positional argument{'s' if len(given) != 1 else ''}"
        raise GeoError(
            _arity(
                call,
                f"`{call.func.id}` takes at most {count}",
                positional[0].span,
                [p.name for p in params],
            )
        )
    names = {p.name for p in params}
    for kw in call.kwargs:
        if kw.name.id not in names:
            raise GeoError(
                _arity(
                    call,
                    f"`{call.func.id}` has no argument `{kw.name.id}`",
                    kw.name.span,
                    sorted(names),
                )
            )
        if kw.name.id in given:
            raise GeoError(_arity(call, f"`{kw.name.id}` is given twice", kw.name.span))
        given[kw.name.id] = [kw.value]
    for param in params:
        if param.required and param.name not in given and param.kind is not ArgKind.TENSORS:
            raise GeoError(
                _arity(
                    call,
                    f"`{call.func.id}` needs its argument `{param.name}`",
                    call.span,
                    [p.name for p in params],
                )
            )
    return given


def _arity(call: ast.Call, message: str, span: Span, names: list[str] | None = None) -> Diagnostic:
    signature = f"`{call.func.id}({', '.join(names)})`" if names else ""
    return Diagnostic(
        "GEO304",
        message,
        span,
        label="here",
        help=f"the signature is {signature}" if signature else "",
    )


def block_param(spec: ast.Param) -> Param:
    """Block parameters typed `int`/`float`/`bool`/`str` (or untyped) are attributes;
    parameters with a feature type are tensors."""
    type_expr = spec.type
    if type_expr is None or (
        isinstance(type_expr, ast.Name) and type_expr.id in SCALAR_PARAM_TYPES
    ):
        kind = AttrKind(type_expr.id) if type_expr is not None else AttrKind.ANY
        default = REQUIRED if spec.default is None else spec.default
        return Param(spec.name.id, ArgKind.ATTR, kind, default)
    return Param(spec.name.id, ArgKind.TENSOR)


def bind_params(
    specs: tuple[ast.Param, ...], overrides: dict[str, Any], span: Span
) -> dict[str, Any]:
    """A model's compile-time parameters: defaults, then overrides, each type-checked."""
    known = {p.name.id for p in specs}
    for name in overrides:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise GeoError(
                Diagnostic(
                    "GEO208",
                    f"the model has no parameter `{name}`",
                    span,
                    help=f"did you mean `{close[0]}`?"
                    if close
                    else f"parameters: {', '.join(sorted(known)) or 'none'}",
                )
            )
    values: dict[str, Any] = {}
    for spec in specs:
        param = block_param(spec)
        if spec.name.id in overrides:
            value = overrides[spec.name.id]
        elif spec.default is not None:
            value = const_value(spec.default, values, symbols=True)
        else:
            raise GeoError(
                Diagnostic(
                    "GEO302",
                    f"parameter `{spec.name.id}` has no default and no value",
                    spec.span,
                    help=f"pass `-p {spec.name.id}=...`",
                )
            )
        values[spec.name.id] = (
            check_attr(value, param, spec.span) if param.kind is ArgKind.ATTR else value
        )
    return values


def check_attr(value: Any, param: Param, span: Span | None) -> Any:
    """Check (and normalise) an attribute against its declared kind."""
    kind = param.attr
    ok = {
        AttrKind.INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        AttrKind.FLOAT: is_number,
        AttrKind.BOOL: lambda v: isinstance(v, bool),
        AttrKind.STR: lambda v: isinstance(v, str),
        AttrKind.SYMBOL: lambda v: isinstance(v, str) or v is None,
        AttrKind.TYPE: lambda v: isinstance(v, FeatureType),
        AttrKind.INT_LIST: lambda v: (
            isinstance(v, tuple) and all(is_number(x) and isinstance(x, int) for x in v)
        ),
        AttrKind.INIT: lambda v: isinstance(v, Initialiser),
        AttrKind.BIAS_INIT: lambda v: isinstance(v, Initialiser),
        AttrKind.ANY: lambda v: True,
        None: lambda v: True,
    }[kind]
    values = value if param.per_layer and isinstance(value, tuple) and value else (value,)
    if not all(ok(v) for v in values):
        kind_text = kind.value if kind else "a value"
        if param.per_layer:
            kind_text += " or a list of them, one per layer"
        raise GeoError(
            Diagnostic(
                "GEO302",
                f"`{param.name}` must be {kind_text}, got {value!r}",
                span,
                label=repr(value),
            )
        )
    if param.choices and value not in param.choices:
        raise GeoError(
            Diagnostic(
                "GEO302",
                f"`{param.name}` must be one of {', '.join(param.choices)}, got {value!r}",
                span,
            )
        )
    return float(value) if kind is AttrKind.FLOAT else value


def check_arg_type(
    group: Group, call: ast.Call, name: str, declared: FeatureType, actual: FeatureType, span: Span
) -> None:
    if group.same_rep(declared, actual) and declared.axes == actual.axes:
        return
    raise GeoError(
        Diagnostic(
            "GEO300",
            f"`{call.func.id}` expects `{name}: {declared}`, but the argument is `{actual}`",
            span,
            label=str(actual),
            help=f"pass a value of type `{declared}`",
        )
    )


V = TypeVar("V", bound=Typed)


def check_returns(
    group: Group, block: ast.Block, results: list[V], consts: dict[str, object], call: ast.Call
) -> V | tuple[V, ...]:
    """A block's results checked against the types it declares (GEO306, GEO304)."""
    declared = [type_from_ast(t, consts) for t in block.returns or ()]
    if block.returns is not None and len(declared) != len(results):
        raise GeoError(
            Diagnostic(
                "GEO306",
                f"block `{block.name.id}` declares {len(declared)} return values but "
                f"returns {len(results)}",
                block.name.span,
            )
        )
    for want, got in zip(declared, results, strict=False):
        if not (group.same_rep(want, got.type) and want.axes == got.type.axes):
            raise GeoError(
                Diagnostic(
                    "GEO306",
                    f"block `{block.name.id}` declares it returns `{want}`, but the "
                    f"value is `{got.type}`",
                    block.name.span,
                    label="declared here",
                    notes=(f"called at {call.span}",),
                )
            )
    if not results:
        raise GeoError(
            Diagnostic(
                "GEO304",
                f"block `{block.name.id}` returns nothing",
                call.span,
                help="end the block with `return ...`",
            )
        )
    return results[0] if len(results) == 1 else tuple(results)
