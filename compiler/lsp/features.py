"""The answers to hover, go-to-definition and formatting requests, from an :class:`Analysis`.

Hover on a callee shows the operator's call and one-line doc from its ``OpDef`` (as
docs/operators.md does) or the block's header; hover on a value shows the feature type the
elaborator gave it (:mod:`geoc.lsp.typed`). Definition jumps from a block call to the block,
from an import to the file it names, and from a name to the statement that last bound it
before the cursor. Formatting is ``geoc fmt``'s formatter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoc.catalog import builtin_spec
from geoc.diagnostics import GeoError, Span
from geoc.grammar import ast
from geoc.grammar.formatter import format_source, header_lines
from geoc.lsp.analysis import Analysis, Document, uri_of
from geoc.lsp.positions import Lines, contains
from geoc.lsp.typed import Types, value_types
from geoc.ops import OpDef, lookup, syntax_op
from geoc.ops.reference import written

Json = dict[str, Any]


def nodes_at(module: ast.Module, file: str, line: int, col: int) -> list[ast.Node]:
    """The nodes of ``module`` whose span holds ``line``:``col``, innermost first."""
    found = [n for n in ast.walk(module) if n.span.file == file and contains(n.span, line, col)]
    return sorted(found, key=lambda n: _size(n.span))


def _size(span: Span) -> tuple[int, int]:
    return span.end_line - span.line, span.end_col - span.col


# --- hover ----------------------------------------------------------------------------------


def hover(analysis: Analysis, doc: Document, position: Json, types: Types | None) -> Json | None:
    """Markdown for what the cursor is on: an operator, a block, or a typed value."""
    if analysis.module is None:
        return None
    lines = Lines.of(analysis.text)
    line, col = lines.to_geoc(position)
    found = nodes_at(analysis.module, doc.file, line, col)
    for node in found:
        callee = _callee_hover(analysis, node, line, col)
        if callee is not None:
            return _markdown(callee, lines, node.func.span)  # type: ignore[attr-defined]
        op = _syntax_operator(node, line, col)
        if op is not None:
            return _markdown(_operator_text(op), lines, None)
        shown = (types or {}).get(node.span)
        if shown:
            return _markdown(_type_text(node, shown), lines, node.span)
    return None


def hover_types(analysis: Analysis) -> Types | None:
    """The value types hover shows (None when the spec does not parse or load)."""
    return value_types(analysis.program) if analysis.program is not None else None


def _callee_hover(analysis: Analysis, node: ast.Node, line: int, col: int) -> str | None:
    if not isinstance(node, ast.Call) or not contains(node.func.span, line, col):
        return None
    name = node.func.id
    blocks = analysis.program.blocks if analysis.program is not None else {}
    if name in blocks:
        block = blocks[name]
        header = "\n".join(header_lines(block, "")).rstrip()
        return f"```geo\n{header}\n```\nblock defined at {block.name.span}"
    op = lookup(name)
    return _operator_text(op) if op is not None and op.surface else None


def _operator_text(op: OpDef) -> str:
    return f"```geo\n{written(op)}\n```\n{op.doc}\n\n*operator `{op.name}`, family `{op.family}`*"


def _type_text(node: ast.Node, types: list[Any]) -> str:
    name = f"{node.id}: " if isinstance(node, ast.Name) else ""
    body = "\n".join(f"{name}{t}" for t in types)
    note = "\n\n*one type per call of the block*" if len(types) > 1 else ""
    return f"```geo\n{body}\n```{note}"


def _syntax_operator(node: ast.Node, line: int, col: int) -> OpDef | None:
    """The operator a ``+``, ``-`` or ``*`` under the cursor writes (``x`` is multiplicity)."""
    if not isinstance(node, ast.BinOp) or node.op is ast.BinOpKind.TIMES:
        return None
    if contains(node.left.span, line, col) or contains(node.right.span, line, col):
        return None
    number = (ast.Int, ast.Float)
    scaled = node.op is ast.BinOpKind.MUL and (
        isinstance(node.left, number) or isinstance(node.right, number)
    )
    return syntax_op(node.op.value, tensors=1 if scaled else 2)


def _markdown(text: str, lines: Lines, span: Span | None) -> Json:
    result: Json = {"contents": {"kind": "markdown", "value": text}}
    if span is not None:
        result["range"] = lines.range(span)
    return result


# --- definition -----------------------------------------------------------------------------


def definition(analysis: Analysis, doc: Document, position: Json) -> Json | None:
    """The location of the block, imported file or binding the cursor names."""
    if analysis.module is None:
        return None
    line, col = Lines.of(analysis.text).to_geoc(position)
    found = nodes_at(analysis.module, doc.file, line, col)
    for node in found:
        if isinstance(node, ast.Import) and contains(node.path.span, line, col):
            return _import_target(doc, node.path.value)
        if isinstance(node, ast.Call) and contains(node.func.span, line, col):
            return _block_target(analysis, node.func.id)
    names = [n for n in found if isinstance(n, ast.Name)]
    items = [n for n in found if isinstance(n, (ast.Block, ast.Model))]
    if names and items:
        return _binding(analysis, doc, items[0], names[0], line, col)
    return None


def _location(analysis: Analysis, span: Span) -> Json | None:
    uri = uri_of(span.file)
    text = analysis.sources.get(span.file)
    if uri is None or text is None:
        return None
    return {"uri": uri, "range": Lines.of(text).range(span)}


def _block_target(analysis: Analysis, name: str) -> Json | None:
    blocks = analysis.program.blocks if analysis.program is not None else {}
    return _location(analysis, blocks[name].name.span) if name in blocks else None


def _import_target(doc: Document, name: str) -> Json | None:
    """The file an import names, found as geoc finds it (program.py): beside the importing
    file, else a built-in spec."""
    folder = doc.path.absolute().parent if doc.path is not None else Path.cwd()
    target = folder / name
    if not target.is_file():
        spec = builtin_spec(name) if "/" not in name else None
        target = Path(spec.path) if spec is not None else target
    if not target.is_file():
        return None
    start = {"line": 0, "character": 0}
    return {"uri": target.resolve().as_uri(), "range": {"start": start, "end": start}}


def _binding(
    analysis: Analysis, doc: Document, item: ast.Node, name: ast.Name, line: int, col: int
) -> Json | None:
    """The binder of ``name`` in ``item`` (a parameter, an input, an assignment target) whose
    statement last ended before the cursor: ``h = f(h)`` reads the ``h`` bound before it. On a
    binder itself, that binder."""
    params = [p.name for p in getattr(item, "params", ())]
    binders: list[tuple[ast.Name, tuple[int, int]]] = [(p, (0, 0)) for p in params]
    for node in ast.walk(item):
        targets = (node.name,) if isinstance(node, ast.Input) else ()
        targets = node.targets if isinstance(node, ast.Assign) else targets
        end = (node.span.end_line, node.span.end_col)
        binders.extend((target, end) for target in targets)
    if any(b is name for b, _ in binders):
        return _here(analysis, doc, name.span)
    before = [(end, b) for b, end in binders if b.id == name.id and end <= (line, col)]
    if not before:
        return None
    return _here(analysis, doc, max(before, key=lambda pair: pair[0])[1].span)


def _here(analysis: Analysis, doc: Document, span: Span) -> Json:
    return {"uri": doc.uri, "range": Lines.of(analysis.text).range(span)}


# --- formatting -----------------------------------------------------------------------------


def formatting(text: str, doc: Document) -> list[Json]:
    """``geoc fmt``'s layout as one edit over the whole document; none when it is already
    formatted or does not parse (its diagnostics say why)."""
    try:
        formatted = format_source(text, doc.file)
    except GeoError:
        return []
    if formatted == text:
        return []
    lines = Lines.of(text)
    whole = {"start": {"line": 0, "character": 0}, "end": lines.end()}
    return [{"range": whole, "newText": formatted}]
