"""docs/operators.md, generated: the prose of docs/operators.in.md with a table of every
operator (its call, from the signature, and its one-line ``OpDef.doc``) at each family's
marker ``<!-- operators: FAMILY -->``, and the activation names at ``<!-- activations -->``.

Regenerate after changing an operator (tests/project/test_operators_page.py checks the page)::

    python -m geoc.ops.reference docs/operators.in.md docs/operators.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from geoc.ops import REGISTRY, ArgKind, OpDef, Param, lookup

_MARKER = re.compile(r"<!-- operators: (\w+) -->")
_ACTIVATIONS = "<!-- activations -->"


def render(template: str) -> str:
    """The page: ``template`` with its markers replaced by the generated tables."""
    from geoc.ops.layers import ACTIVATIONS

    lookup("linear")  # loads every family
    page = _MARKER.sub(lambda m: family_table(m.group(1)), template)
    names = ", ".join(f"`{name}`" for name in ACTIVATIONS)
    odd = ", ".join(f"`{name}`" for name, fn in ACTIVATIONS.items() if fn.odd)
    text = f"Activations: {names}; the odd ones ({odd}) also act on sign representations."
    return page.replace(_ACTIVATIONS, text)


def family_table(family: str) -> str:
    ops = [op for op in REGISTRY.values() if op.family == family]
    assert ops, f"no operators in family {family}"
    rows = [f"| `{_escape(written(op))}` | {_escape(op.doc)} |" for op in ops]
    return "\n".join(["| call | result and checks |", "|---|---|", *rows])


def written(op: OpDef) -> str:
    """How a call is written: ``linear(x, out, bias=true)``, or its syntax (``a + b``)."""
    tensors = [p.name for p in op.tensor_params]
    attrs = op.attr_params
    if not op.syntax:
        args = [f"{p.name}, ..." if p.kind is ArgKind.TENSORS else p.name for p in op.tensor_params]
        return f"{op.name}({', '.join(args + [_attr(p) for p in attrs])})"
    if op.syntax == "[]":
        return f"{tensors[0]}[{' | '.join(attrs[0].choices)}]"
    if len(tensors) == 2:
        return f"{tensors[0]} {op.syntax} {tensors[1]}"
    if attrs:
        return f"{attrs[0].name} {op.syntax} {tensors[0]}"
    return f"{op.syntax}{tensors[0]}"


def _attr(param: Param) -> str:
    if param.required:
        return param.name
    if param.choices:
        ordered = [param.default, *(c for c in param.choices if c != param.default)]
        return f"{param.name}={' | '.join(ordered)}"
    default = param.default
    shown = str(default).lower() if isinstance(default, bool) else str(default)
    return f"{param.name}={shown}"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def main(argv: list[str]) -> None:
    template, page = map(Path, argv)
    page.write_text(render(template.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
