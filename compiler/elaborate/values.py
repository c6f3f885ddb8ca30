"""The values of elaboration: tensors (:class:`Value`), compile-time values (:class:`Const`),
names whose statement failed (:class:`Poison`), and the scopes that bind names to them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from geoc.ir import ValueRef
from geoc.types import FeatureType


@dataclass(frozen=True)
class Value:
    """A tensor value while elaborating: where it comes from, its type, and whether it is
    broken (named after `by`, or computed from a broken value: elaborate/breaking.py)."""

    ref: ValueRef
    type: FeatureType
    broken: bool = False


@dataclass(frozen=True)
class Const:
    """A compile-time value: int, float, bool, str, tuple, FeatureType or symbol (str)."""

    value: Any


@dataclass(frozen=True)
class Poison:
    """A name whose statement failed. Its diagnostic is recorded once; a statement that uses
    the name fails silently (:class:`Poisoned`), so one mistake is not reported at each use."""


class Poisoned(Exception):
    """A statement used a poisoned name: it fails with no diagnostic of its own."""


Binding = Value | Const | Poison


@dataclass(frozen=True)
class Nested:
    """Naming hint for a value computed inside another: its id becomes ``parent.op``."""

    parent: str


Hint = str | Nested


class Scope:
    """Names visible in a model or block body, and the prefix of the node ids made there."""

    def __init__(self, prefix: str, env: dict[str, Binding]) -> None:
        self.prefix = prefix
        self.env = env
        self.counters: dict[str, int] = defaultdict(int)

    def consts(self) -> dict[str, object]:
        return {k: v.value for k, v in self.env.items() if isinstance(v, Const)}

    def child_prefix(self, base: str) -> str:
        """``base`` the first time, then ``base_1``, ``base_2``... within this scope."""
        count = self.counters[base]
        self.counters[base] += 1
        return f"{self.prefix}{base if count == 0 else f'{base}_{count}'}."
