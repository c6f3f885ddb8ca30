"""The TextMate grammar of .geo (``editors/vscode/syntaxes/geo.tmLanguage.json``), generated.

The keywords come from ``geo.lark`` itself and the type atoms, scalar parameter types and
domain kinds from the compiler's own tables, so the highlighter cannot drift from the language:
``tests/editors/test_textmate.py`` regenerates the file and compares. Regenerate with

    python -m geoc.grammar.textmate editors/vscode/syntaxes/geo.tmLanguage.json

Keywords are contextual in .geo (the lexer reads `x`, `over`, `input`... as names wherever a
keyword cannot stand), so the patterns below are contextual too: a statement keyword only
starts a statement, `x` is the multiplicity operator only between two operands, `over` only
before an axis, and a keyword followed by `=` inside a call is a keyword argument.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

SCOPE = "source.geo"

#: Each keyword of the grammar, by the role that gives its scope. A keyword the grammar gains
#: must be placed here (:func:`lark_keywords` vs this table is checked on generation).
KEYWORD_ROLES: dict[str, str] = {
    "import": "declaration",
    "block": "declaration",
    "model": "declaration",
    "symmetry": "statement",
    "breaks": "statement",
    "domain": "statement",
    "input": "statement",
    "output": "statement",
    "canonical": "statement",
    "repeat": "control",
    "return": "control",
    "by": "modifier",
    "to": "modifier",
    "over": "modifier",
    "true": "constant",
    "false": "constant",
    "x": "multiplicity",
}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STATEMENT_START = r"(?:^|(?<=[;{]))\s*"  # a statement starts a line or follows `;` / `{`


def lark_keywords(grammar: str | None = None) -> set[str]:
    """Every word the grammar spells literally (named keyword terminals and inline words
    such as ``"over"``), comments left out."""
    text = grammar if grammar is not None else _lark_text()
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', code))


def _lark_text() -> str:
    return resources.files("geoc.grammar").joinpath("geo.lark").read_text(encoding="utf-8")


def _words(role: str) -> str:
    return "|".join(sorted(k for k, r in KEYWORD_ROLES.items() if r == role))


def _vocabulary() -> dict[str, list[str]]:
    """The names the compiler gives meaning to: atoms, parameter types, domain kinds."""
    from geoc.domains.base import KINDS
    from geoc.elaborate.signatures import SCALAR_PARAM_TYPES
    from geoc.types import CALL_ATOMS, CURVED_ATOMS, NAMED_ATOMS

    return {
        "atoms": sorted([*NAMED_ATOMS, *CALL_ATOMS, *CURVED_ATOMS]),
        "param_types": sorted(SCALAR_PARAM_TYPES),
        "domains": sorted(kind.value for kind in KINDS),
    }


def _rule(match: str, name: str) -> dict[str, Any]:
    return {"match": match, "name": f"{name}.geo"}


def _captures(*names: str) -> dict[str, dict[str, str]]:
    return {str(i): {"name": f"{n}.geo"} for i, n in enumerate(names, 1) if n}


def _repository(vocab: dict[str, list[str]]) -> dict[str, Any]:
    atoms, params = "|".join(vocab["atoms"]), "|".join(vocab["param_types"])
    domains = "|".join(vocab["domains"])
    return {
        "comment": _rule(r"#.*$", "comment.line.number-sign"),
        "string": {
            "begin": '"',
            "end": '"|$',
            "name": "string.quoted.double.geo",
            "patterns": [_rule(r"\\.", "constant.character.escape")],
        },
        "import": {
            "match": rf"{_STATEMENT_START}\b(import)\b",
            "captures": _captures("keyword.other.import"),
        },
        "header": {
            "begin": rf"{_STATEMENT_START}\b(model|block)\s+({_NAME})\s*(\()",
            "beginCaptures": _captures(
                "storage.type.declaration",
                "entity.name.function.declaration",
                "punctuation.section.parens.begin",
            ),
            "end": r"\)",
            "endCaptures": {"0": {"name": "punctuation.section.parens.end.geo"}},
            "patterns": [
                {"include": "#comment"},
                {
                    "match": rf"(?:^|(?<=[(,]))\s*({_NAME})(?=\s*(?::|=(?!=)))",
                    "captures": _captures("variable.parameter"),
                },
                {"include": "#expression"},
            ],
        },
        "statement": {
            "match": rf"{_STATEMENT_START}\b({_words('statement')})\b(?!\s*=(?!=))",
            "captures": _captures("keyword.other.statement"),
        },
        "control": {
            "match": rf"{_STATEMENT_START}\b({_words('control')})\b(?!\s*=(?!=))",
            "captures": _captures("keyword.control"),
        },
        "symmetry": {  # group factors of `symmetry` / `breaks` are calls or bare group names
            "begin": rf"{_STATEMENT_START}\b(symmetry|breaks)\b",
            "beginCaptures": _captures("keyword.other.statement"),
            "end": r"(?=$|;|#|\})",
            "patterns": [
                _rule(r"\b(by|to)\b", "keyword.other.modifier"),
                {"include": "#multiplicity"},
                {
                    "match": rf"\b({_NAME})(\+)?(?=\s*\()",
                    "captures": _captures("support.type.group", "support.type.group"),
                },
                {"include": "#expression"},
            ],
        },
        "expression": {
            "patterns": [
                {"include": "#comment"},
                {"include": "#string"},
                {"include": "#parens"},
                {"include": "#brackets"},
                _rule(r"\b[0-9]+x[0-9]+[eo](?![A-Za-z0-9_.])", "support.type.irreps"),
                _rule(r"\b[0-9]+[eo](?![A-Za-z0-9_.])", "support.type.irreps"),
                _rule(
                    r"(?:\b[0-9]+\.[0-9]*|\B\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![A-Za-z0-9_.])"
                    r"|\b[0-9]+[eE][+-]?[0-9]+(?![A-Za-z0-9_.])",
                    "constant.numeric.float",
                ),
                _rule(r"\b[0-9]+\b", "constant.numeric.integer"),
                _rule(rf"\b({_words('constant')})\b", "constant.language"),
                {"include": "#multiplicity"},
                _rule(r"\bover\b(?=\s*[A-Za-z_(])", "keyword.other.modifier"),
                _rule(rf"\b({atoms})\b", "support.type.atom"),
                _rule(rf"\b({params})\b", "support.type.primitive"),
                _rule(rf"\b({domains})\b(?=\s*\()", "support.type.domain"),
                _rule(rf"\b{_NAME}(?=\s*\()", "entity.name.function.call"),
                _rule(_NAME, "variable.other"),
                _rule(r"->", "keyword.operator.arrow"),
                _rule(r"[-+*]", "keyword.operator.arithmetic"),
                _rule(r"=", "keyword.operator.assignment"),
                _rule(r":", "punctuation.separator.type"),
                _rule(r",", "punctuation.separator.comma"),
                _rule(r";", "punctuation.terminator.statement"),
                _rule(r"[{}]", "punctuation.section.block"),
                _rule(r"\S", "invalid.illegal.character"),
            ]
        },
        "multiplicity": {  # `16 x scalar`, `E(3) x S(nodes)`: `x` between two operands
            "match": r"(?<=[A-Za-z0-9_)\]])\s+(x)(?=\s+[A-Za-z0-9_(\[\"])",
            "captures": _captures("keyword.operator.multiplicity"),
        },
        "parens": _bracketed(r"\(", r"\)", "parens"),
        "brackets": _bracketed(r"\[", r"\]", "brackets"),
    }


def _bracketed(begin: str, end: str, kind: str) -> dict[str, Any]:
    """A bracket pair; inside it, `name=` is a keyword argument (`sum(m, over=edges)`)."""
    return {
        "begin": begin,
        "end": end,
        "beginCaptures": {"0": {"name": f"punctuation.section.{kind}.begin.geo"}},
        "endCaptures": {"0": {"name": f"punctuation.section.{kind}.end.geo"}},
        "patterns": [
            {
                "match": rf"\b({_NAME})\s*(=)(?!=)",
                "captures": _captures("variable.parameter", "keyword.operator.assignment"),
            },
            {"include": "#expression"},
        ],
    }


def grammar() -> dict[str, Any]:
    """The TextMate grammar as a JSON-ready dict."""
    missing = lark_keywords() - set(KEYWORD_ROLES)
    if missing:
        raise ValueError(f"geo.lark keywords without a scope in KEYWORD_ROLES: {sorted(missing)}")
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "geo",
        "scopeName": SCOPE,
        "fileTypes": ["geo"],
        "comment": "Generated by `python -m geoc.grammar.textmate` (grammar/textmate.py).",
        "patterns": [
            {"include": "#comment"},
            {"include": "#import"},
            {"include": "#header"},
            {"include": "#symmetry"},
            {"include": "#statement"},
            {"include": "#control"},
            {"include": "#expression"},
        ],
        "repository": _repository(_vocabulary()),
    }


def render() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m geoc.grammar.textmate OUT.tmLanguage.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
