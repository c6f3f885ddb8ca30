"""Error recovery at statement granularity: a statement that fails has its diagnostics recorded
and the names it would bind poisoned, and elaboration goes on with the next statement, so every
independent problem of a spec is reported, each once.

A poisoned graph is never a result: :class:`Problems` is non-empty whenever a name was poisoned,
and the pipeline raises on any problem before proving or lowering anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast


class Problems:
    """The diagnostics found so far in the order found, each once (a block called twice or a
    ``repeat`` body fails the same way at every expansion), and the sources they cite."""

    def __init__(self) -> None:
        self._found: dict[Diagnostic, None] = {}
        self.sources: dict[str, str] = {}

    def record(self, err: GeoError) -> None:
        self._found.update(dict.fromkeys(err.diagnostics))
        self.sources.update(err.sources)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return tuple(self._found)

    def __bool__(self) -> bool:
        return bool(self._found)

    def attempt(self, make: Callable[[], T]) -> T | None:
        """``make()``, or None with its diagnostics recorded."""
        try:
            return make()
        except GeoError as err:
            self.record(err)
            return None

    def error(self, sources: dict[str, str]) -> GeoError:
        """Every problem found, citing ``sources`` and the sources they brought."""
        return GeoError(self.diagnostics, {**sources, **self.sources})


T = TypeVar("T")


def bound_names(stmt: ast.Stmt) -> Iterator[str]:
    """The names ``stmt`` binds in its scope: those a failure of it poisons (a ``repeat`` body
    binds into the enclosing scope)."""
    if isinstance(stmt, ast.Input):
        yield stmt.name.id
    elif isinstance(stmt, ast.Assign):
        yield from (target.id for target in stmt.targets)
    elif isinstance(stmt, (ast.Repeat, ast.Canonical)):
        for inner in stmt.body:
            yield from bound_names(inner)
