"""The compiler's middle-end as a flat, commented list of passes.

    spec text ──parse──► AST ──load imports──► Program ──elaborate──► typed IR
        ──check equivariance──► proven IR ──optimise──► IR for the backend

Each pass is a plain function; :func:`frontend` runs them in order and ``ir.lint()`` after
each when ``verify`` is on (the tests turn it on).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoc import catalog
from geoc.budget import Budget, using
from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar.parser import parse
from geoc.ir import Graph
from geoc.ops import OpContext, check_call, lookup
from geoc.program import Program, load_program


@dataclass(frozen=True)
class Source:
    """A spec to compile: its text, the name diagnostics show, and its path if it has one."""

    text: str
    file: str
    path: Path | None = None


def resolve_source(spec: str | Path) -> Source:
    """A path to a .geo file, a built-in spec name (``egnn``), or the spec text itself."""
    text = str(spec)
    if isinstance(spec, Path) or ("\n" not in text and "{" not in text):
        display, source = catalog.resolve_spec(text)
        return Source(source, display, Path(text) if os.path.lexists(text) else None)
    return Source(text, "<string>")


def check_equivariance(graph: Graph) -> list[Diagnostic]:
    """Every node's equivariance contract, for the group it was typed under (the declared one
    where it reads no broken value), on its typed inputs."""
    from geoc.elaborate.breaking import breaks_fix

    found: list[Diagnostic] = []
    for node in graph.nodes:
        op = lookup(node.op)
        if op is None:
            continue  # inputs
        group = graph.group_of(node.id)
        spans = node.span, node.arg_spans
        ctx = OpContext(node.op, group, graph.domain, *spans, domains=graph.domains)
        types = [graph.type_of(r) for r in node.inputs]
        violations = check_call(ctx, op, types, node.attrs)
        if violations and group is not graph.group:  # the help names what `by` could name
            ctx = dataclasses.replace(ctx, breaks_fix=breaks_fix(graph, node.inputs))
            violations = check_call(ctx, op, types, node.attrs)
        found.extend(violations)
    return list(dict.fromkeys(found))  # a block or `repeat` body repeats its violations


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop nodes no output depends on (inputs stay: they are the calling convention)."""
    live = {p.value.node for p in graph.outputs.values()}
    for node in reversed(graph.nodes):
        if node.id in live or node.op == "input":
            live.update(r.node for r in node.inputs)
        else:
            graph.remove(node.id)
    return graph


def frontend(
    spec: str | Path,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    verify: bool = False,
    budget: Budget | None = None,
) -> Graph:
    """Parse, elaborate, prove equivariance and optimise: the typed IR of one model.
    ``budget`` replaces the active resource budget (GEO520 for a basis over it)."""
    source = resolve_source(spec)
    module = parse(source.text, source.file)  # 1. parse
    program = load_program(module, source.text, source.path)  # 2. imports and blocks
    with using(budget):
        return middle_end(program, params, model, verify)


def middle_end(
    program: Program,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    verify: bool = False,
) -> Graph:
    """From a loaded program (parsed, or made by :class:`geoc.builder.Builder`) to proven IR.

    Every problem is reported together, in source order: elaboration goes on past a statement
    that does not type, and the proof also covers the statements that did. A graph with any
    problem is never optimised, returned or lowered."""
    from geoc.elaborate import elaborate_all

    elaboration = elaborate_all(program, model, params)  # 3. bind params, expand, infer types
    graph = elaboration.graph
    if not elaboration.problems:
        _lint(graph, verify)
    problems = [*elaboration.problems, *check_equivariance(graph)]  # 4. the static proof
    if not problems:  # and what the domain asks of the whole graph (causality)
        problems = graph.domain.rules.check_graph(graph)
    if problems:
        raise GeoError(problems, elaboration.sources)
    graph = eliminate_dead_code(graph)  # 5. optimise
    _lint(graph, verify)
    return graph


def _lint(graph: Graph, verify: bool) -> None:
    if verify:
        graph.lint()
