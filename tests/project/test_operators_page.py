"""docs/operators.md is generated from the registry: the committed page is the generated one."""

from __future__ import annotations

import paths

from geoc.ops import REGISTRY, lookup
from geoc.ops.reference import render, written

DOCS = paths.DOCS


def test_the_operators_page_is_generated_from_the_registry() -> None:
    template = (DOCS / "operators.in.md").read_text(encoding="utf-8")
    committed = (DOCS / "operators.md").read_text(encoding="utf-8")
    assert committed == render(template), (
        "regenerate: python -m geoc.ops.reference docs/operators.in.md docs/operators.md"
    )


def test_every_operator_has_a_row() -> None:
    lookup("linear")
    page = (DOCS / "operators.md").read_text(encoding="utf-8")
    rows = {
        name: "| `{}` |".format(written(op).replace("|", "\\|")) for name, op in REGISTRY.items()
    }
    missing = [name for name, row in rows.items() if row not in page]
    assert not missing, f"operators without a row: {missing}"


def test_calls_are_written_as_in_the_language() -> None:
    lookup("linear")
    assert written(REGISTRY["linear"]) == (
        "linear(x, out, bias=true, init=uniform, bias_init=uniform)"
    )
    assert written(REGISTRY["sub"]) == "a - b"
    assert written(REGISTRY["neg"]) == "-a"
    assert written(REGISTRY["gather"]) == "x[src | dst | from]"
    assert written(REGISTRY["concat"]) == "concat(xs, ...)"
    assert written(REGISTRY["tensor_product"]).endswith("mode=full | channelwise)")
