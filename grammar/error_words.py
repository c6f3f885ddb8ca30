"""The words of syntax errors: how terminals read, which tokens start what, and the help text of
each construct. A data table; the logic that uses it is in ``failure.py`` and ``error_rules.py``.
"""

from __future__ import annotations

import enum

# How a terminal reads in a message ("expected `)`", "found end of line").
TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "IRREP": "an irrep such as `1o`",
    "MUL_IRREP": "irreps such as `16x0e`",
    "STRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "SEMICOLON": "`;`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "ARROW": "`->`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "X": "`x`",
    "OVER": "`over`",
}
KEYWORDS = {
    "IMPORT", "BLOCK", "MODEL", "SYMMETRY", "DOMAIN", "INPUT", "OUTPUT", "REPEAT", "RETURN",
    "CANONICAL",
    "TRUE", "FALSE", "OVER", "X", "BREAKS", "BY", "TO",
}  # fmt: skip
TERMINAL_WORDS.update({k: f"`{k.lower()}`" for k in KEYWORDS - TERMINAL_WORDS.keys()})
HARD_KEYWORDS = KEYWORDS - {"X", "OVER", "TRUE", "FALSE", "BY", "TO"}
# Tokens that can start a value; LPAR and MINUS also continue one, so they are not listed.
EXPR_START = {"NAME", "INT", "FLOAT", "IRREP", "MUL_IRREP", "STRING", "TRUE", "FALSE", "LSQB"}
# Of those, the ones that can only start a value: where they may come, a value was due.
VALUE_ONLY_START = EXPR_START - {"NAME", "LSQB"}
STMT_START = {"SYMMETRY", "BREAKS", "DOMAIN", "INPUT", "OUTPUT", "REPEAT", "CANONICAL", "RETURN"}
ITEM_START = {"IMPORT", "BLOCK", "MODEL"}
ITEM_WORDS = ("import", "block", "model")
OPERATORS = {"PLUS": "+", "MINUS": "-", "STAR": "*"}
# Punctuation worth naming in "expected ..." lists, in the order it is named.
PUNCTUATION = ("COMMA", "RPAR", "RSQB", "RBRACE", "EQUAL", "COLON", "LPAR", "LBRACE", "ARROW")
CLOSERS = {"RPAR", "RSQB", "RBRACE"}
CONTINUATIONS = {"PLUS", "MINUS", "STAR", "X", "OVER", "LSQB"}  # what may follow a value
OPENERS = {"LPAR", "LSQB", "LBRACE"}


class Construct(enum.Enum):
    """What the user was writing when the parser stopped."""

    TOP = "top level"
    IMPORT = "`import`"
    HEADER = "header"
    PARAMS = "parameter list"
    BODY = "body"
    TYPE = "type"
    RETURNS = "return type"
    VALUE = "value"
    ARGS = "argument list"
    GROUP = "parentheses"
    LIST = "list"
    INDEX = "index"
    AXES = "axes"
    REPEAT = "`repeat`"
    CANONICAL = "`canonical`"
    SYMMETRY = "`symmetry`"
    BREAKS = "`breaks`"
    DOMAIN = "`domain`"
    INPUT = "`input`"
    OUTPUT = "`output`"
    RETURN = "`return`"


# The token on the parser's stack that opens each construct (failure.py refines `(` and `[`).
OPENED_BY = {
    "IMPORT": Construct.IMPORT,
    "MODEL": Construct.HEADER,
    "BLOCK": Construct.HEADER,
    "LBRACE": Construct.BODY,
    "COLON": Construct.TYPE,
    "ARROW": Construct.RETURNS,
    "EQUAL": Construct.VALUE,
    "REPEAT": Construct.REPEAT,
    "CANONICAL": Construct.CANONICAL,
    "SYMMETRY": Construct.SYMMETRY,
    "BREAKS": Construct.BREAKS,
    "DOMAIN": Construct.DOMAIN,
    "INPUT": Construct.INPUT,
    "OUTPUT": Construct.OUTPUT,
    "RETURN": Construct.RETURN,
    "OVER": Construct.AXES,
    "LPAR": Construct.GROUP,
    "LSQB": Construct.LIST,
}

HELP: dict[Construct, str] = {
    Construct.TOP: (
        'a file holds `import "file.geo"`, `block name(...) -> T { ... }` and '
        "`model Name(...) { ... }`"
    ),
    Construct.IMPORT: 'write the path in double quotes: `import "stdlib/egnn.geo"`',
    Construct.HEADER: (
        "e.g. `model EGNN(hidden: int = 64) { ... }` or `block layer(h: T) -> T { ... }`"
    ),
    Construct.PARAMS: (
        "parameters read `name: type = default`, separated by commas: "
        "`(hidden: int = 64, depth: int = 4)`"
    ),
    Construct.BODY: "one statement per line: `name = ...`, `repeat N { ... }`, declarations",
    Construct.TYPE: "a feature type reads like `16 x scalar over nodes` or `8 x vector + 4 x 0e`",
    Construct.RETURNS: "e.g. `-> 16 x scalar over nodes`, or `-> (T1, T2)` for several results",
    Construct.VALUE: "e.g. `h = linear(x, 16 x scalar)`",
    Construct.ARGS: "separate arguments with commas: `f(a, b, key=value)`",
    Construct.GROUP: "parentheses group one expression: `(a + b) * c`",
    Construct.LIST: "separate list items with commas: `[64, 64, 1]`",
    Construct.INDEX: "index with one name: `x[src]` or `x[dst]`",
    Construct.AXES: "name the axes after `over`: `over nodes` or `over (nodes, edges)`",
    Construct.REPEAT: "write `repeat N { ... }`, e.g. `repeat depth { h = layer(h) }`",
    Construct.CANONICAL: "write `canonical { ... }`, e.g. `canonical { h = mlp(y, [64]) }`",
    Construct.SYMMETRY: "combine groups with `x`: `symmetry E(3) x S(nodes)`",
    Construct.BREAKS: "e.g. `breaks T(3) by x`: the values after `by` break that part of the group",
    Construct.DOMAIN: "e.g. `domain pointcloud(nodes, dim=3, edges=full)`",
    Construct.INPUT: "e.g. `input h: 16 x scalar over nodes`",
    Construct.OUTPUT: "e.g. `output energy: scalar = sum(h, over=nodes)`",
    Construct.RETURN: "e.g. `return h, x`",
}
BODY_HELP: dict[str, str] = {
    "model": (
        "a model body holds `symmetry`, `breaks`, `domain`, `input`, `output`, `name = ...` and "
        "`repeat N { ... }`, one per line"
    ),
    "block": "a block body holds `name = ...` lines and `repeat N { ... }`, then `return ...`",
    "repeat": "the body of `repeat N { ... }` holds `name = ...` lines, one per line",
    "canonical": "the body of `canonical { ... }` holds `name = ...` lines, one per line",
}
STATEMENT_END_HELP = "put one statement per line (or separate statements with `;`)"

# Wording of the header and statement rules (error_rules.py).
NAME_FOR = {
    Construct.HEADER: "a name for the {owner}",
    Construct.PARAMS: "a parameter name",
    Construct.INPUT: "the input's name",
    Construct.OUTPUT: "the output's name",
    Construct.AXES: "an axis name",
}
BLOCK_HEADER_HELP = (
    "e.g. `block layer(h: 16 x scalar over nodes) -> 16 x scalar over nodes { ... }`"
)
HEADER_PURPOSE = {
    ("model", "LPAR"): "after the model's name",
    ("block", "LPAR"): "after the block's name",
    ("model", "LBRACE"): "to open the model's body",
    ("block", "LBRACE"): "to open the block's body",
    ("repeat", "LBRACE"): "to open the body of `repeat`",
    ("canonical", "LBRACE"): "to open the body of `canonical`",
}
MODEL_HEADER_HELP = "e.g. `model EGNN(hidden: int = 64) { ... }`"
STATEMENT_WORDS = (
    "symmetry",
    "breaks",
    "domain",
    "input",
    "output",
    "repeat",
    "canonical",
    "return",
)
