"""The optimiser: algebraic rewrites of the proven IR, each exact and re-checked.

    proven IR ──rewrites (in order, each to a fixed point)──► re-typed, re-checked IR

Every rewrite is a small pass with a precondition, in its own module: it returns the graph
rewritten and what it did (:class:`Fired`, with the estimated saving). A rewrite replaces a
composition by an equal one, so the result computes the same function up to rounding
(``tests/backend/test_rewrites_exact.py`` compares every built-in spec rewritten and not at
1e-12 in float64); rewritten nodes keep the ids, so the parameters keep their names and a
saved model loads into either form. After the rewrites the whole graph is typed again by the
operators' own rules and checked against their contracts (:func:`edit.retype`): a rewrite
that would change a type or break equivariance is a compiler bug, reported as such, and the
graph as written is used instead.

    >>> from geoc.pipeline import frontend
    >>> result = optimise(frontend("egnn", {"depth": 1}))
    >>> [f.rewrite for f in result.fired]
    ['linear before gather']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from geoc.diagnostics import Span
from geoc.ir import Graph


@dataclass(frozen=True)
class Fired:
    """One application of a rewrite: where, what it did, and the multiply-adds it saves."""

    rewrite: str
    node: str
    span: Span | None
    detail: str
    saving: str

    def __str__(self) -> str:
        where = f"{self.span.file}:{self.span.line}" if self.span else "<generated>"
        return f"{where}: {self.rewrite} at `{self.node}`: {self.detail} ({self.saving})"


#: Sweeps of one rewrite at most (each sweep rewrites what the previous one uncovered).
_MAX_SWEEPS = 8

Pass = Callable[[Graph], tuple[Graph, list[Fired]]]


@dataclass(frozen=True)
class Rewrite:
    name: str
    run: Pass


@dataclass
class Optimised:
    graph: Graph
    fired: list[Fired]

    def explain(self) -> str:
        return explain(self.fired)


def explain(fired: Sequence[Fired]) -> str:
    """What ``geoc compile --explain-opt`` prints: one line per rewrite that fired."""
    if not fired:
        return "no rewrite fired\n"
    return "".join(f"{f}\n" for f in fired)


class RewriteBroke(AssertionError):
    """A rewritten graph no longer types as written or is no longer proven: a compiler bug."""


def rewrites() -> list[Rewrite]:
    """The rewrites in the order they run (each module defines its own)."""
    from geoc.optimize import cse, gather, products, scatter

    return [
        Rewrite("common subexpressions", cse.run),
        Rewrite("folded scales", cse.fold_scales),
        Rewrite("linear before gather", gather.run),
        Rewrite("linear across scatter", scatter.run),
        Rewrite("products over edges", products.run),
    ]


def optimise(graph: Graph, *, strict: bool = False, only: Sequence[str] | None = None) -> Optimised:
    """``graph`` rewritten (a new graph; ``graph`` is not changed). ``strict``: a rewrite that
    breaks typing raises :class:`RewriteBroke` (the tests) instead of warning and returning
    the graph as written (users). ``only``: the names of the rewrites to run (all by default).
    """
    from geoc.optimize.edit import retype
    from geoc.pipeline import eliminate_dead_code

    current, fired = graph, []
    chosen = [r for r in rewrites() if only is None or r.name in only]
    assert only is None or len(chosen) == len(set(only)), f"unknown rewrite in {only}"
    for rewrite in chosen:
        for _ in range(_MAX_SWEEPS):  # to a fixed point: one rewrite may enable another
            current, done = rewrite.run(current)
            if not done:
                break
            fired += done  # a rewritten graph is a new one: the input graph is never changed
            current = eliminate_dead_code(current)
    if not fired:
        return Optimised(graph, [])
    current.lint()
    problems = retype(current)
    if not problems:
        return Optimised(current, fired)
    if strict:
        raise RewriteBroke("; ".join(problems))
    warnings.warn(f"geoc: rewrites skipped (compiler bug: {problems[0]})", stacklevel=2)
    return Optimised(graph, [])
