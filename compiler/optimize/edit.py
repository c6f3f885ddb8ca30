"""Editing the IR: rebuild a graph with some nodes replaced, and re-type and re-check it.

Nodes are frozen and a graph's insertion order is its evaluation order, so a rewrite never
patches a graph in place: it names the nodes to replace (by the list of nodes that stands for
each, in order) and the values whose readers must read another value, and :func:`rebuild`
copies the graph once with those changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from geoc.ir import Graph, Node, Port, ValueRef
from geoc.ops import OpContext, check_call, infer_call, lookup


def rebuild(
    graph: Graph,
    replace: Mapping[str, Iterable[Node]] | None = None,
    redirect: Mapping[ValueRef, ValueRef] | None = None,
) -> Graph:
    """A copy of ``graph`` where each node named in ``replace`` becomes its list of nodes (at
    its place, read as written: a rewrite builds them against the new graph) and every other
    node's input, and every output, reading a value in ``redirect`` reads its target instead.
    Nodes nothing reads any more stay: :func:`geoc.pipeline.eliminate_dead_code` drops them."""
    replace, redirect = replace or {}, redirect or {}
    out = Graph(graph.name, graph.group, graph.domain, graph.params, graph.positions, graph.span)
    out.more, out.more_positions = graph.more, dict(graph.more_positions)
    out.declared, out.broken = graph.declared, graph.broken
    out.unbroken = graph.unbroken - set(replace)
    for node in graph.nodes:
        if node.id in replace:
            for new in replace[node.id]:
                out.add(new)
                _inherit_unbroken(graph, out, node, new)
            continue
        inputs = tuple(_follow(redirect, ref) for ref in node.inputs)
        out.add(node if inputs == node.inputs else node.model_copy(update={"inputs": inputs}))
    out.inputs = dict(graph.inputs)
    out.outputs = {name: _port(port, redirect) for name, port in graph.outputs.items()}
    return out


def _inherit_unbroken(graph: Graph, out: Graph, old: Node, new: Node) -> None:
    """A rewrite of a node typed under the declared group, reading only unbroken values, is
    typed under it too (the rewrite was chosen under that group); any other new node under
    what remains (elaborate/breaking.py)."""
    if old.id in graph.unbroken and all(ref.node in out.unbroken for ref in new.inputs):
        out.unbroken.add(new.id)


def _follow(redirect: Mapping[ValueRef, ValueRef], ref: ValueRef) -> ValueRef:
    seen = set()
    while ref in redirect:
        assert ref not in seen, f"redirect cycle at {ref}"
        seen.add(ref)
        ref = redirect[ref]
    return ref


def _port(port: Port, redirect: Mapping[ValueRef, ValueRef]) -> Port:
    value = _follow(redirect, port.value)
    return port if value == port.value else port.model_copy(update={"value": value})


def fresh_id(graph: Graph, base: str) -> str:
    """A node id not in ``graph``: ``base``, else ``base_2``, ``base_3``, ..."""
    if base not in graph.g:
        return base
    count = 2
    while f"{base}_{count}" in graph.g:
        count += 1
    return f"{base}_{count}"


def context(graph: Graph, node: Node) -> OpContext:
    group = graph.group_of(node.id)
    return OpContext(node.op, group, graph.domain, node.span, node.arg_spans, domains=graph.domains)


def retype(graph: Graph) -> list[str]:
    """Every node typed again by its operator's rule and checked against its contract: the
    problems found (an empty list for a graph that types as it says and is equivariant)."""
    problems = []
    for node in graph.nodes:
        op = lookup(node.op)
        if op is None:
            continue  # inputs
        ctx = context(graph, node)
        types = [graph.type_of(ref) for ref in node.inputs]
        try:
            typed = infer_call(ctx, op, types, node.attrs)
        except Exception as err:  # any failure to type is a problem to report
            problems.append(f"{node.id} ({node.op}) no longer types: {err}")
            continue
        if tuple(typed) != node.out_types:
            shown = ", ".join(map(str, typed))
            problems.append(f"{node.id} ({node.op}) types as {shown}, not as written")
        problems += [f"{node.id}: {d.message}" for d in check_call(ctx, op, types, node.attrs)]
    return problems
