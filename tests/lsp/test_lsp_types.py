"""The types hover shows are the elaborator's: on every built-in spec, every input and output
name carries exactly its port's type in the proven IR, and every name a model (or a block it
calls) binds has a type (outside `repeat` bodies: some run 0 times under the default
parameters, and a statement never elaborated has no type to show)."""

from __future__ import annotations

import pytest

from geoc import catalog
from geoc.grammar import ast
from geoc.grammar.parser import parse
from geoc.lsp.typed import value_types
from geoc.pipeline import middle_end
from geoc.program import load_program

SPECS = [spec.name for spec in catalog.builtin_specs()]


def _called_blocks(module: ast.Module) -> set[str]:
    return {n.func.id for n in ast.walk(module) if isinstance(n, ast.Call)}


@pytest.mark.parametrize("name", SPECS)
def test_every_bound_name_has_the_elaborators_type(name: str) -> None:
    spec = catalog.builtin_spec(name)
    assert spec is not None
    text = spec.read_text()
    module = parse(text, spec.display)
    program = load_program(module, text, None)
    types = value_types(program)
    for model in module.models:
        graph = middle_end(program, None, model.name.id)
        for node in ast.walk(model):
            if isinstance(node, ast.Input):
                assert types[node.name.span] == [graph.inputs[node.name.id].type]
            elif isinstance(node, ast.Output):
                assert types[node.name.span] == [graph.outputs[node.name.id].type]
    called = _called_blocks(module)
    bodies = [m for m in module.models] + [b for b in module.blocks if b.name.id in called]
    for item in bodies:
        for node in _outside_repeats(item):
            for target in node.targets if isinstance(node, ast.Assign) else ():
                assert types.get(target.span), f"`{target.id}` at {target.span} has no type"


def _outside_repeats(item: ast.Node) -> list[ast.Node]:
    found, stack = [], [item]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(c for c in node.children() if not isinstance(c, ast.Repeat))
    return found
