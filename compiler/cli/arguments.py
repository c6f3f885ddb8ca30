"""Values of command-line arguments: numbers in range, tolerances, ``-p NAME=VALUE``
overrides (each malformed one a GEO190 diagnostic)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable

from geoc.diagnostics import Diagnostic, GeoError


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def count(text: str) -> int:
    if (value := whole_number(text)) < 0:
        raise argparse.ArgumentTypeError(f"needs 0 or more, got {value}")
    return value


def in_range(name: str, low: int, high: int | None) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (None: no upper bound)."""

    def parse(text: str) -> int:
        value = whole_number(text)
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"`{name}` must be {bound}, got {value}")
        return value

    return parse


def tolerance(text: str) -> float:
    """A positive finite float: an infinite tolerance would pass every output."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"`--atol` must be positive and finite, got {text}")
    return value


_PARAM_RE = re.compile(r"(?P<name>[^=]*)=(?P<value>.*)\Z", re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``-p NAME=VALUE`` options as a dict; every malformed one is a GEO190 diagnostic."""
    overrides: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for item in items:
        problem = _override_problem(item, overrides)
        if problem:
            problems.append(Diagnostic("GEO190", problem, help=_OVERRIDE_HELP))
            continue
        name, value = item.split("=", 1)
        overrides[name.strip()] = value.strip()
    if problems:
        raise GeoError(problems)
    return overrides


_OVERRIDE_HELP = "write `-p NAME=VALUE`, e.g. `-p hidden=128` or `-p cutoff=4.5`"


def _override_problem(item: str, seen: dict[str, str]) -> str | None:
    match = _PARAM_RE.match(item)
    if match is None:
        return f"`-p {item}` has no `=`"
    name, value = match["name"].strip(), match["value"].strip()
    if not _NAME_RE.match(name):
        return f"`-p {item}`: `{name}` is not a parameter name"
    if not value or "\n" in value:
        return f"`-p {item}`: `{name}` needs a value on one line"
    if name in seen:
        return f"`-p {item}`: `{name}` is given more than once"
    return None


def param_values(items: Iterable[str]) -> dict[str, object]:
    """``-p`` overrides with their values read as .geo constants (``128``, ``4.5``, ``silu``)."""
    from geoc.elaborate import const_value
    from geoc.grammar.parser import parse_expr

    return {
        name: const_value(parse_expr(text, f"-p {name}"), {}, symbols=True)
        for name, text in parse_overrides(items).items()
    }
