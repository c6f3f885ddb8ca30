"""Initialiser attributes: ``init=xavier(gain=0.001)`` read as a value, never as a call.

An initialiser is written as a name (``zeros``) or a call-like form with keyword arguments
(``normal(std=0.02)``); a per-layer attribute also takes a list of them. Names are looked up
in ``geoc.initialisers.RULES`` only, so no operator or block of that name is ever called.
"""

from __future__ import annotations

import difflib
import math

from geoc.diagnostics import Diagnostic, GeoError
from geoc.elaborate.constants import const_value, is_number
from geoc.grammar import ast
from geoc.initialisers import RULES, Initialiser
from geoc.ops import AttrKind, Param

Init = Initialiser | tuple[Initialiser, ...]


def initialiser_attr(expr: ast.Expr, param: Param, consts: dict[str, object]) -> Init:
    """The initialiser (or, for a per-layer attribute, the list of them) ``expr`` writes."""
    if isinstance(expr, ast.List) and param.per_layer and expr.items:
        return tuple(_one(item, param, consts) for item in expr.items)
    bound = consts.get(expr.id) if isinstance(expr, ast.Name) else None
    if isinstance(bound, tuple) and param.per_layer and bound:  # a block's parameter's list
        return tuple(_bound(value, param, expr) for value in bound)
    return _one(expr, param, consts)


def _bound(value: object, param: Param, expr: ast.Expr) -> Initialiser:
    """An entry of a list a block's parameter was given: an initialiser, or its name."""
    if isinstance(value, str) and value in RULES:
        value = Initialiser(value)
    if not isinstance(value, Initialiser):
        raise _error(f"`{param.name}` takes initialisers, got {value!r}", expr, "not one")
    return _checked(value, param, expr)


def initialiser_call(expr: ast.Call, consts: dict[str, object]) -> Initialiser | None:
    """``xavier(gain=0.001)`` as a compile-time value (a block's argument, say), or None when
    the call names no initialiser."""
    if expr.func.id not in RULES:
        return None
    return Initialiser(expr.func.id, _arguments(expr, expr.func.id, consts))


def _one(expr: ast.Expr, param: Param, consts: dict[str, object]) -> Initialiser:
    bound = consts.get(expr.id) if isinstance(expr, ast.Name) else None
    if isinstance(bound, Initialiser):  # a block's parameter given an initialiser
        return _checked(bound, param, expr)
    if isinstance(expr, ast.Name):  # a name, or a block's parameter given one (`zeros`)
        name, call = bound if isinstance(bound, str) else expr.id, None
    elif isinstance(expr, ast.Call):
        name, call = expr.func.id, expr
    else:
        raise _error(f"`{param.name}` takes an initialiser", expr, "not an initialiser")
    rule = RULES.get(name)
    if rule is None:
        close = difflib.get_close_matches(name, RULES, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        raise _error(f"`{name}` is not an initialiser", expr, "unknown initialiser", hint)
    return _checked(Initialiser(name, _arguments(call, name, consts) if call else ()), param, expr)


def _checked(init: Initialiser, param: Param, expr: ast.Expr) -> Initialiser:
    if param.attr is AttrKind.BIAS_INIT and not RULES[init.name].for_bias:
        biases = ", ".join(f"`{n}`" for n, r in RULES.items() if r.for_bias)
        raise _error(
            f"`{init.name}` initialises weights, not a bias",
            expr,
            "weights only",
            f"a bias takes {biases}; ",
        )
    return init


def _arguments(call: ast.Call, name: str, consts: dict[str, object]) -> tuple:
    allowed = dict(RULES[name].args)
    if call.args:
        raise _error(
            f"`{name}` takes its arguments by keyword", call.args[0], "positional", _usage(name)
        )
    args = []
    for kw in call.kwargs:
        if kw.name.id not in allowed:
            raise _error(
                f"`{name}` has no argument `{kw.name.id}`", kw.name, "unknown", _usage(name)
            )
        value = const_value(kw.value, consts)
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise _error(
                f"`{kw.name.id}` of `{name}` must be a non-negative number, got {value!r}",
                kw.value,
                "not a non-negative number",
                _usage(name),
            )
        args.append((kw.name.id, float(value)))
    return tuple(args)


def _usage(name: str) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in RULES[name].args)
    return f"e.g. `{name}({args})`; " if args else f"write `{name}` alone; "


def _error(message: str, expr: ast.Node, label: str, hint: str = "") -> GeoError:
    names = ", ".join(f"`{n}`" for n in RULES)
    return GeoError(
        Diagnostic("GEO370", message, expr.span, label=label, help=f"{hint}initialisers: {names}")
    )
