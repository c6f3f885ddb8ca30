"""Parse .geo text into the AST, turning every failure into a coded diagnostic.

>>> module = parse("model M() { symmetry trivial }")
>>> module.models[0].name.id
'M'
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.parser_frontends import PostLexConnector

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.grammar import ast
from geoc.grammar.errors import syntax_diagnostic
from geoc.grammar.structure import check_structure

MAX_SOURCE_BYTES = 8 * 1024 * 1024
MAX_NESTING = 64  # brackets inside brackets
MAX_EXPR_DEPTH = 256  # operators inside operators (keeps every tree walk far from the stack limit)

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_BRACKET_TEXT = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}


def token_span(file: str, tok: Token) -> Span:
    line, col = tok.line or 1, tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + max(len(tok), 1)
    return Span(file, line, col, end_line, end_col)


class _BracketPostLex:
    """Drops newlines inside ( ) and [ ], keeps comments aside, checks brackets and nesting.

    One instance per parse: it remembers the open brackets and the last tokens read, which
    the error reporter uses to describe what went wrong in the user's terms.
    """

    always_accept = ("_NL", "COMMENT")

    def __init__(self, file: str) -> None:
        self.file = file
        self.stack: list[Token] = []
        self.recent: list[Token] = []
        self.comments: list[ast.Comment] = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        # No look-ahead here: the contextual lexer reads each token in the parser's state.
        for tok in stream:
            if tok.type == "COMMENT":
                self.comments.append(ast.Comment(str(tok), tok.line or 1, tok.column or 1))
                continue
            if tok.type == "_NL" and self.stack and self.stack[-1].type != "LBRACE":
                continue
            self._track_brackets(tok)
            self.recent = [*self.recent[-1:], tok]
            yield tok
        if self.stack:
            raise GeoError(self._unclosed(self.stack[-1]))

    def _track_brackets(self, tok: Token) -> None:
        if tok.type in _OPENERS:
            self.stack.append(tok)
            if len(self.stack) > MAX_NESTING:
                raise GeoError(
                    Diagnostic(
                        "GEO108",
                        f"brackets nested more than {MAX_NESTING} deep",
                        token_span(self.file, tok),
                        label="too deep",
                        help="bind inner expressions to names with `name = ...`",
                    )
                )
        elif tok.type in _CLOSERS:
            opener = _CLOSERS[tok.type]
            if not self.stack or self.stack[-1].type != opener:
                raise GeoError(self._unmatched(tok))
            self.stack.pop()

    def _unclosed(self, opener: Token) -> Diagnostic:
        text = _BRACKET_TEXT[opener.type]
        close = _BRACKET_TEXT[_OPENERS[opener.type]]
        return Diagnostic(
            "GEO103",
            f"`{text}` is never closed",
            token_span(self.file, opener),
            label="opened here",
            help=f"add the matching `{close}`",
        )

    def _unmatched(self, closer: Token) -> Diagnostic:
        text = _BRACKET_TEXT[closer.type]
        if not self.stack:
            return Diagnostic(
                "GEO104",
                f"`{text}` closes nothing",
                token_span(self.file, closer),
                label="unmatched",
                help=f"remove it, or add the opening `{_BRACKET_TEXT[_CLOSERS[closer.type]]}`",
            )
        open_tok = self.stack[-1]
        expected = _BRACKET_TEXT[_OPENERS[open_tok.type]]
        return Diagnostic(
            "GEO104",
            f"`{text}` does not match the `{_BRACKET_TEXT[open_tok.type]}` opened at "
            f"{open_tok.line}:{open_tok.column}",
            token_span(self.file, closer),
            label=f"expected `{expected}`",
            help=f"close the `{_BRACKET_TEXT[open_tok.type]}` with `{expected}` first",
        )


@functools.lru_cache(maxsize=1)
def _grammar_text() -> str:
    return resources.files("geoc.grammar").joinpath("geo.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _template() -> Lark:
    """The LALR tables, built once per process; each parse plugs in its own post-lexer."""
    return Lark(
        _grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_BracketPostLex("<template>"),
    )


def _parse_tree(text: str, postlex: _BracketPostLex) -> Tree:
    frontend = copy.copy(_template().parser)
    frontend.lexer = PostLexConnector(_template().parser.lexer.lexer, postlex)
    return frontend.parse(text)


def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse .geo source text; raises :class:`GeoError` with coded diagnostics."""
    text = _check_text(text, file)
    postlex = _BracketPostLex(file)
    try:
        tree = _parse_tree(text, postlex)
    except GeoError as err:
        raise GeoError(err.diagnostics, {file: text}) from None
    except UnexpectedInput as err:
        raise GeoError(syntax_diagnostic(err, text, file, postlex), {file: text}) from None
    try:
        module = _AstBuilder(file, text).transform(tree)
    except VisitError as err:  # a diagnostic raised while building the AST
        if isinstance(err.orig_exc, GeoError):
            raise err.orig_exc from None
        raise
    check_structure(module, text)
    if not module.items:
        raise GeoError(_empty(file), {file: text})
    return ast.Module(items=module.items, span=module.span, comments=tuple(postlex.comments))


def parse_file(path: str | Path) -> ast.Module:
    """Read and parse a spec file (see :func:`read_source` for the checks on the bytes)."""
    return parse(read_source(path), str(path))


def read_source(path: str | Path) -> str:
    """Read a spec as UTF-8 text, with diagnostics for unreadable, huge or binary files."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise GeoError(
            Diagnostic(
                "GEO113",
                f"cannot read `{name}`: {reason}",
                help="give a path to a .geo file, or a built-in spec name from `geoc specs`",
            )
        ) from None
    return decode_source(data, name)


def decode_source(data: bytes, file: str) -> str:
    """Decode UTF-8 bytes, pointing at the first invalid byte if there is one."""
    if len(data) > MAX_SOURCE_BYTES:
        raise GeoError(
            Diagnostic(
                "GEO112",
                f"`{file}` is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB",
                help="split the spec into several files joined by `import`",
            )
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data[: err.start].decode("utf-8", errors="replace")
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        shown = data.decode("utf-8", errors="replace")
        raise GeoError(
            Diagnostic(
                "GEO110",
                f"`{file}` is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
                Span.point(file, line, col),
                label="not UTF-8",
                help="save the file as UTF-8 text",
            ),
            {file: shown},
        ) from None


def _check_text(text: str, file: str) -> str:
    if len(text) > MAX_SOURCE_BYTES:
        raise GeoError(
            Diagnostic("GEO112", f"`{file}` is larger than {MAX_SOURCE_BYTES} characters")
        )
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark: harmless, as in Python
        text = text[1:]
    if not text.strip():
        raise GeoError(_empty(file), {file: text})
    return text


def _empty(file: str) -> Diagnostic:
    return Diagnostic(
        "GEO111",
        f"`{file}` contains no `import`, `block` or `model`",
        help="a spec needs at least one `model NAME() { ... }`",
    )


# ---------------------------------------------------------------------------------------------
# Parse tree -> AST


_BINOPS = {
    "add": ast.BinOpKind.ADD,
    "sub": ast.BinOpKind.SUB,
    "mul": ast.BinOpKind.MUL,
    "times": ast.BinOpKind.TIMES,
}


@v_args(meta=True)
class _AstBuilder(Transformer_NonRecursive):
    """Builds AST nodes bottom-up without recursion, and bounds expression depth."""

    def __init__(self, file: str, text: str) -> None:
        super().__init__()
        self.file = file
        self.text = text
        self.depth: dict[int, int] = {}

    # --- helpers ---

    def _span(self, meta: object) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, tok: Token) -> Span:
        return token_span(self.file, tok)

    def _name(self, tok: Token) -> ast.Name:
        return ast.Name(id=str(tok), span=self._tok(tok))

    def _expr(self, node: ast.Node, *children: object) -> ast.Node:
        depth = 1 + max((self.depth.get(id(c), 0) for c in children), default=0)
        if depth > MAX_EXPR_DEPTH:
            raise GeoError(
                Diagnostic(
                    "GEO108",
                    f"expression nested more than {MAX_EXPR_DEPTH} operators deep",
                    node.span,
                    label="too deep",
                    help="bind parts of the expression to names with `name = ...`",
                ),
                {self.file: self.text},
            )
        self.depth[id(node)] = depth
        return node

    # --- top level ---

    def start(self, meta, items):
        span = Span(self.file, 1, 1, *_end(self.text))
        return ast.Module(items=tuple(items), span=span)

    def import_stmt(self, meta, children):
        (tok,) = children
        return ast.Import(path=_string(tok, self._tok(tok)), span=self._span(meta))

    def block(self, meta, children):
        name, params, _arrow, returns, body = children
        return ast.Block(
            name=self._name(name),
            params=params or (),
            returns=returns,
            body=body,
            span=self._span(meta),
        )

    def model(self, meta, children):
        name, params, body = children
        return ast.Model(
            name=self._name(name), params=params or (), body=body, span=self._span(meta)
        )

    def params(self, meta, children):
        return tuple(children)

    def param(self, meta, children):
        name, type_, default = children
        return ast.Param(name=self._name(name), type=type_, default=default, span=self._span(meta))

    def returns(self, meta, children):
        return tuple(children)

    def return_single(self, meta, children):
        return tuple(children)

    def body(self, meta, children):
        return tuple(children)

    # --- statements ---

    def symmetry(self, meta, children):
        return ast.Symmetry(factors=tuple(children), span=self._span(meta))

    def domain(self, meta, children):
        return ast.Domain(value=children[0], span=self._span(meta))

    def input_decl(self, meta, children):
        name, type_ = children
        return ast.Input(name=self._name(name), type=type_, span=self._span(meta))

    def output_decl(self, meta, children):
        name, type_, value = children
        return ast.Output(name=self._name(name), type=type_, value=value, span=self._span(meta))

    def assign(self, meta, children):
        *targets, value = children
        names = tuple(self._name(t) for t in targets)
        return ast.Assign(targets=names, value=value, span=self._span(meta))

    def repeat(self, meta, children):
        count, body = children
        return ast.Repeat(count=count, body=body, span=self._span(meta))

    def return_stmt(self, meta, children):
        return ast.Return(values=tuple(children), span=self._span(meta))

    # --- expressions ---

    def over(self, meta, children):
        value, axes = children
        return self._expr(ast.Over(value=value, axes=axes, span=self._span(meta)), value)

    def axes(self, meta, children):
        return tuple(self._name(t) for t in children)

    def _binop(self, kind: str, meta, children):
        left, right = children
        node = ast.BinOp(op=_BINOPS[kind], left=left, right=right, span=self._span(meta))
        return self._expr(node, left, right)

    def add(self, meta, children):
        return self._binop("add", meta, children)

    def sub(self, meta, children):
        return self._binop("sub", meta, children)

    def mul(self, meta, children):
        return self._binop("mul", meta, children)

    def times(self, meta, children):
        return self._binop("times", meta, children)

    def neg(self, meta, children):
        (operand,) = children
        return self._expr(ast.Neg(operand=operand, span=self._span(meta)), operand)

    def index(self, meta, children):
        value, index = children
        node = ast.Index(value=value, index=index, span=self._span(meta))
        return self._expr(node, value, index)

    def name(self, meta, children):
        return self._name(children[0])

    def call(self, meta, children):
        func, args = children
        positional = tuple(a for a in args or () if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in args or () if isinstance(a, ast.Keyword))
        node = ast.Call(
            func=self._name(func), args=positional, kwargs=keywords, span=self._span(meta)
        )
        self._check_call(node, args or ())
        return self._expr(node, *positional, *(k.value for k in keywords))

    def _check_call(self, node: ast.Call, args: tuple) -> None:
        from geoc.grammar.errors import call_argument_order

        problem = call_argument_order(args)
        if problem is not None:
            raise GeoError(problem, {self.file: self.text})

    def args(self, meta, children):
        return tuple(children)

    def kwarg(self, meta, children):
        name, value = children
        return ast.Keyword(name=self._name(name), value=value, span=self._span(meta))

    def list(self, meta, children):
        items = tuple(c for c in children if c is not None)
        return self._expr(ast.List(items=items, span=self._span(meta)), *items)

    def int(self, meta, children):
        return ast.Int(value=int(children[0]), span=self._span(meta))

    def float(self, meta, children):
        return ast.Float(value=float(children[0]), span=self._span(meta))

    def irrep(self, meta, children):
        text = str(children[0])
        return ast.Irrep(l=int(text[:-1]), parity=text[-1], span=self._span(meta))

    def mul_irrep(self, meta, children):
        tok = children[0]
        mul, irrep = str(tok).split("x")
        span = self._span(meta)
        left_span = Span(self.file, tok.line, tok.column, tok.line, tok.column + len(mul))
        right_span = Span(self.file, tok.line, left_span.end_col + 1, span.end_line, span.end_col)
        return ast.BinOp(
            op=ast.BinOpKind.TIMES,
            left=ast.Int(value=int(mul), span=left_span),
            right=ast.Irrep(l=int(irrep[:-1]), parity=irrep[-1], span=right_span),
            span=span,
        )

    def string(self, meta, children):
        tok = children[0]
        return _string(tok, self._tok(tok))

    def true(self, meta, children):
        return ast.Bool(value=True, span=self._span(meta))

    def false(self, meta, children):
        return ast.Bool(value=False, span=self._span(meta))


def _string(tok: Token, span: Span) -> ast.Str:
    body = str(tok)[1:-1]
    return ast.Str(value=_unescape(body), span=span)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def _end(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


__all__ = ["decode_source", "parse", "parse_file", "read_source"]
