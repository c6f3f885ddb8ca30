"""Common subexpressions and folded scales.

Common subexpressions: two nodes of the same operator with the same attributes reading the same
values compute the same value, unless the operator has parameters (two `linear` calls on one
input are two maps). The later one is dropped and its readers read the earlier one: edge
geometry, spherical harmonics and radial bases written per layer, or a node value gathered
twice at the same end, are computed once.

Folded scales: ``scale(scale(x, a), b)`` is ``scale(x, a·b)`` and ``-(-x)`` is ``x``.
"""

from __future__ import annotations

import json

from geoc.ir import Graph, Node, ValueRef, encode_attr
from geoc.ops import lookup
from geoc.optimize import Fired
from geoc.optimize.edit import rebuild


def _key(node: Node, redirect: dict[ValueRef, ValueRef]) -> str:
    inputs = [str(redirect.get(ref, ref)) for ref in node.inputs]
    attrs = {k: encode_attr(v) for k, v in node.attrs.items()}
    return json.dumps([node.op, inputs, attrs], sort_keys=True, default=str)


def run(graph: Graph) -> tuple[Graph, list[Fired]]:
    """Drop every parameter-free node that repeats an earlier one."""
    first: dict[str, Node] = {}
    redirect: dict[ValueRef, ValueRef] = {}
    fired = []
    for node in graph.nodes:
        op = lookup(node.op)
        if op is None or op.traits.learned:
            continue  # inputs are distinct values; learned operators own their parameters
        key = _key(node, redirect)
        if key not in first:
            first[key] = node
            continue
        kept = first[key]
        for index in range(len(node.out_types)):
            redirect[ValueRef(node=node.id, index=index)] = ValueRef(node=kept.id, index=index)
        saving = "computed once" if node.out_types[0].axes else "computed once (global)"
        fired.append(Fired("common subexpression", node.id, node.span, f"= `{kept.id}`", saving))
    return (rebuild(graph, redirect=redirect), fired) if fired else (graph, [])


def fold_scales(graph: Graph) -> tuple[Graph, list[Fired]]:
    """``scale(scale(x, a), b)`` -> ``scale(x, a·b)``; ``neg(neg(x))`` -> ``x``."""
    replace: dict[str, list[Node]] = {}
    redirect: dict[ValueRef, ValueRef] = {}
    fired = []
    for node in graph.nodes:
        if node.op not in ("scale", "neg") or not node.inputs:
            continue
        inner = graph.node(node.inputs[0].node)
        inner = replace.get(inner.id, [inner])[-1]
        if node.op == "neg" and inner.op == "neg":
            redirect[ValueRef(node=node.id)] = inner.inputs[0]
            fired.append(Fired("folded scales", node.id, node.span, "-(-x) = x", "2 passes fewer"))
        elif node.op == "scale" and inner.op == "scale":
            factor = inner.attrs["factor"] * node.attrs["factor"]
            folded = node.model_copy(update={"inputs": inner.inputs, "attrs": {"factor": factor}})
            replace[node.id] = [folded]
            detail = f"one scale by {factor:g}"
            fired.append(Fired("folded scales", node.id, node.span, detail, "1 pass fewer"))
    if not fired:
        return graph, []
    return rebuild(graph, replace, redirect), fired
