"""The types hover shows are the elaborator's: on every built-in spec, every input and output
name carries exactly its port's type in the proven IR, and every name a model (or a block it
calls) binds has a type (outside `repeat` bodies: some run 0 times under the default
parameters, and a statement never elaborated has no type to show)."""

from __future__ import annotations

import pytest

from geoc import catalog
from geoc.grammar import ast
from geoc.grammar.parser import parse
from geoc.lsp.analysis import Document, analyse
from geoc.lsp.features import hover, hover_types
from geoc.lsp.typed import value_types
from geoc.ops import syntax_op
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


TWICE = """\
block double(v: n x scalar over nodes, n: int) -> n x scalar over nodes {
    w = v + v
    return w
}

model M() {
    symmetry S(nodes)
    domain set(nodes)
    input h: 8 x scalar over nodes
    a = double(linear(h, 4 x scalar), n=4)
    b = double(h, n=8)
    output y: 4 x scalar over nodes = a
    output z: 8 x scalar over nodes = b
}
"""


def _hover_at(text: str, needle: str, offset: int = 0) -> str | None:
    doc = Document.of("untitled:twice")
    result = analyse(doc, text)
    assert result.diagnostics == []
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    position = {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}
    found = hover(result, doc, position, hover_types(result))
    return None if found is None else found["contents"]["value"]


def test_a_block_typed_at_two_calls_shows_both_types() -> None:
    shown = _hover_at(TWICE, "w = v")
    assert shown is not None
    assert "w: 4 x scalar over nodes" in shown and "w: 8 x scalar over nodes" in shown


def test_hover_on_a_syntax_operator_and_on_nothing() -> None:
    shown = _hover_at(TWICE, "+ v")
    assert shown is not None and syntax_op("+", tensors=2).doc in shown
    assert _hover_at(TWICE, "symmetry") is None  # a keyword: nothing to show
