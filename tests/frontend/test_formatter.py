"""The canonical formatter: one test per layout rule, then the properties that make it safe
(idempotent, program-preserving, comment-preserving) on the specs and on random programs."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import paths
import pytest
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoc.diagnostics import GeoError
from geoc.grammar import ast
from geoc.grammar.formatter import format_expr, format_float, format_module, format_source
from geoc.grammar.parser import parse

SPECS = sorted(paths.SPECS.glob("*.geo"))
RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fmt(source: str) -> str:
    return format_source(textwrap.dedent(source).lstrip("\n"))


def expr(text: str) -> str:
    """``text`` as an expression, parsed and printed back."""
    assign = parse(f"model M() {{ v = {text} }}").models[0].body[0]
    assert isinstance(assign, ast.Assign)
    return format_expr(assign.value)


def comment_texts(text: str) -> Counter[str]:
    return Counter(c.text.rstrip() for c in parse(text).comments)


def model(*body: str) -> str:
    """A model whose body is ``body``, one statement per line, canonically indented."""
    return "model M() {\n" + "".join(f"    {line}\n" if line else "\n" for line in body) + "}\n"


# --- expressions ----------------------------------------------------------------------------


# One layout rule per entry: (source, canonical text) of single expressions.
EXPRESSION_LAYOUT = {
    "spacing": [
        ("a+b*c-d", "a + b * c - d"),
        ("16 x scalar+4 x vector", "16 x scalar + 4 x vector"),
        ("16 x 0e + 8x1o + n x 2e", "16x0e + 8x1o + n x 2e"),
        ("(16 x 0e)[i]", "16x0e[i]"),
        ("-16x0e", "-16x0e"),
        ("a * (16x0e)", "a * 16x0e"),
        ("f( a , k = 1 , )", "f(a, k=1)"),
        ("[ 1 , 2 , ]", "[1, 2]"),
        ("[]", "[]"),
        ("g()", "g()"),
        ("x[dst]-x[src]", "x[dst] - x[src]"),
        ("true", "true"),
        ("false", "false"),
    ],
    "parentheses_only_where_precedence_needs_them": [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a - (b + c)", "a - (b + c)"),
        ("(a x b) x c", "a x b x c"),
        ("a x (b x c)", "a x (b x c)"),
        ("(a + b) x c", "(a + b) x c"),
        ("a x (b * c)", "a x b * c"),
        ("-(a + b)", "-(a + b)"),
        ("-(a * b)", "-(a * b)"),
        ("(-a) * b", "-a * b"),
        ("-(-a)", "--a"),
        ("((a))", "a"),
        ("(a + b)[i]", "(a + b)[i]"),
        ("(a)[i]", "a[i]"),
        ("(T over n) * 2", "(T over n) * 2"),
        ("-(T over n)", "-(T over n)"),
        ("(T over n)[i]", "(T over n)[i]"),
        ("(T over n) over m", "(T over n) over m"),
        ("f((T over n))", "f(T over n)"),
        ("[(T over n)]", "[T over n]"),
        ("(a + b over n)", "a + b over n"),
        ("a[(b + c)]", "a[b + c]"),
    ],
    "over_axes": [
        ("T over nodes", "T over nodes"),
        ("T over (nodes)", "T over nodes"),
        ("T over (nodes,)", "T over nodes"),
        ("T over (a,b,)", "T over (a, b)"),
    ],
    "numbers": [
        ("1.", "1.0"),
        ("5.0", "5.0"),
        (".001", "0.001"),
        ("0.0001", "0.0001"),
        ("1e-05", "1e-5"),
        ("1E-5", "1e-5"),
        ("1e5", "100000.0"),
        ("2.5e+16", "2.5e16"),
        ("1.5e300", "1.5e300"),
        ("0.1", "0.1"),
        ("1e999", "1e999"),  # the lexer reads it as infinity; this reads back the same
        ("007", "7"),
    ],
    "strings_reescape": [
        (r'"plain"', r'"plain"'),
        (r'"a\"b"', r'"a\"b"'),
        (r'"back\\slash"', r'"back\\slash"'),
        (r'"line\nbreak\ttab"', r'"line\nbreak\ttab"'),
        (r'"\q"', r'"\\q"'),  # an unknown escape is a backslash and a letter
    ],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(source, expected, id=f"{rule}-{source}")
        for rule, cases in EXPRESSION_LAYOUT.items()
        for source, expected in cases
    ],
)
def test_expression_layout(source: str, expected: str) -> None:
    assert expr(source) == expected


@RANDOM
@given(st.floats(min_value=0, allow_nan=False))
def test_floats_read_back_exactly(value: float) -> None:
    text = expr(format_float(value))
    assert "e+" not in text and "e-0" not in text
    assert parse(f"model M() {{ v = {text} }}").models[0].body[0].value.value == value


def test_format_expr_keeps_deep_expressions_off_the_recursion_limit() -> None:
    source = "model M() { v = " + " + ".join(["a"] * 250) + " }"
    value = parse(source).models[0].body[0].value
    assert format_expr(value) == " + ".join(["a"] * 250)
    nested = "model M() { v = " + "-" * 250 + "a }"
    assert format_source(nested) == model("v = " + "-" * 250 + "a")


# --- statements and items -------------------------------------------------------------------


def test_statements() -> None:
    source = """
        model M(a:int=3,b=2,c:T) {
          symmetry E(3)x S(nodes)
          domain   pointcloud(nodes,dim=3,edges=radius(5.0))
          input  h:16 x scalar over nodes
          output y:scalar=sum(h,over=nodes)
          a,b=f(h)
        }
    """
    assert fmt(source) == textwrap.dedent("""\
        model M(a: int = 3, b = 2, c: T) {
            symmetry E(3) x S(nodes)
            domain pointcloud(nodes, dim=3, edges=radius(5.0))
            input h: 16 x scalar over nodes
            output y: scalar = sum(h, over=nodes)
            a, b = f(h)
        }
    """)


def test_semicolons_become_lines_and_repeat_opens_a_block() -> None:
    source = "model M() { a = 1; b = 2; repeat 3 { z = f(z); z = g(z) } }"
    assert format_source(source) == model(
        "a = 1", "b = 2", "repeat 3 {", "    z = f(z)", "    z = g(z)", "}"
    )


def test_block_returns() -> None:
    one = "block f(a: T) -> (T) { return a }"
    assert format_source(one) == "block f(a: T) -> T {\n    return a\n}\n"
    two = "block f()\n    -> (A, B over n,)\n{\n    return a, b\n}"
    assert format_source(two) == "block f() -> (A, B over n) {\n    return a, b\n}\n"
    over = "block f() -> T over n { return a }"
    assert format_source(over) == "block f() -> T over n {\n    return a\n}\n"


def test_import() -> None:
    assert format_source('import   "lib/a.geo"\nmodel M() {}') == (
        'import "lib/a.geo"\n\nmodel M() {}\n'
    )


def test_blank_lines_in_bodies_collapse_and_never_touch_braces() -> None:
    source = "model M() {\n\n\n    a = 1\n\n\n\n    b = 2\n    c = 3\n\n}\n"
    assert format_source(source) == model("a = 1", "", "b = 2", "c = 3")


def test_output_ends_with_one_newline_and_no_trailing_whitespace() -> None:
    out = format_source("model M() {   \n a = 1    \n}\n\n\n\n")
    assert out == model("a = 1")


def test_crlf_and_byte_order_mark_become_plain_newlines() -> None:
    source = "\ufeffmodel M() {\r\n    a = 1  # c\r\n\r\n\r\n    b = 2\r\n}\r\n"
    assert format_source(source) == model("a = 1  # c", "", "b = 2")


# Whole sources and their layout, keyed by the rule they show.
SOURCE_LAYOUT = {
    "empty_bodies": (
        "model M() {\n\n}\nblock f() {\n    repeat n {\n    }\n}",
        "model M() {}\n\nblock f() {\n    repeat n {}\n}\n",
    ),
    "items_are_one_blank_line_apart": (
        "model A() {}\n\n\n\nmodel B() {}\nmodel C() {}",
        "model A() {}\n\nmodel B() {}\n\nmodel C() {}\n",
    ),
    "comment_after_the_opening_brace_of_a_broken_header_opens_the_body": (
        "model M(\n    a,\n) {  # c\n    b = 1\n}",
        "model M(a) {\n    # c\n    b = 1\n}\n",
    ),
    "comments_inside_a_header_move_before_the_item": (
        "block f(\n    a,  # first\n    # own\n    b,  # last\n) {}",
        "# first\n# own\nblock f(a, b) {}  # last\n",
    ),
}


@pytest.mark.parametrize(("source", "expected"), SOURCE_LAYOUT.values(), ids=SOURCE_LAYOUT.keys())
def test_source_layout(source: str, expected: str) -> None:
    assert format_source(source) == expected


# --- long lines -----------------------------------------------------------------------------


def test_long_header_breaks_one_parameter_per_line() -> None:
    params = ", ".join(f"parameter_{i}: int = {i}" for i in range(5))
    source = f"block layer({params}) -> (A, B) {{ return a, b }}"
    expected = (
        "block layer(\n"
        + "".join(f"    parameter_{i}: int = {i},\n" for i in range(5))
        + ") -> (A, B) {\n    return a, b\n}\n"
    )
    assert format_source(source) == expected
    model_source = f"model Wide({params}) {{}}"
    assert format_source(model_source).endswith("    parameter_4: int = 4,\n) {}\n")


def test_header_at_the_limit_stays_on_one_line() -> None:
    name = "m" * (100 - len("model (a) {}"))
    source = f"model {name}(a) {{\n}}"
    assert format_source(source) == f"model {name}(a) {{}}\n"
    assert len(format_source(source).split("\n")[0]) == 100
    assert format_source(f"model {name}x(a) {{}}").startswith(f"model {name}x(\n    a,\n)")


def test_long_call_statement_breaks_outermost_call() -> None:
    args = ", ".join(f"argument_number_{i}" for i in range(5))
    source = f"model M() {{ h = outer(inner({args}), {args}, key=value) }}"
    expected = model(
        "h = outer(",
        f"    inner({args}),",
        *(f"    argument_number_{i}," for i in range(5)),
        "    key=value,",
        ")",
    )
    assert format_source(source) == expected


def test_long_output_and_domain_break_their_call() -> None:
    args = ", ".join(f"keyword_{i}=value_{i}" for i in range(6))
    source = f"model M() {{ domain sphere({args})\n output y: T = f({args}) }}"
    keywords = [f"    keyword_{i}=value_{i}," for i in range(6)]
    assert format_source(source) == model(
        "domain sphere(", *keywords, ")", "output y: T = f(", *keywords, ")"
    )


def test_long_lines_without_an_outer_call_stay_whole() -> None:
    value = " + ".join(f"f(argument_{i})" for i in range(10))
    assert format_source(f"model M() {{ h = {value} }}") == model(f"h = {value}")
    symmetry = " x ".join(f"Group{i}(axis_{i})" for i in range(8))
    assert format_source(f"model M() {{ symmetry {symmetry} }}") == model(f"symmetry {symmetry}")


def test_broken_layout_of_a_short_statement_is_joined() -> None:
    source = "model M() {\n    h = f(\n        a,\n        b,\n    )\n}\n"
    assert format_source(source) == model("h = f(a, b)")


# --- comments -------------------------------------------------------------------------------


def test_comment_on_its_own_line_stays_before_its_statement() -> None:
    source = "model M() {\n  a = 1\n# about b\n        b = 2\n}"
    assert format_source(source) == model("a = 1", "# about b", "b = 2")


def test_trailing_comment_is_two_spaces_after_the_statement() -> None:
    source = "model M() {\n    r  = x[dst] - x[src]        # vector over edges\n}"
    assert format_source(source) == model("r = x[dst] - x[src]  # vector over edges")


def test_comments_inside_a_multiline_statement_move_before_it() -> None:
    source = """
        model M() {
            h = f(a,  # first line
                  # own line inside
                  b,  # middle
                  c)  # last line
        }
    """
    assert fmt(source) == model(
        "# own line inside", "# middle", "# last line", "h = f(a, b, c)  # first line"
    )


def test_comment_after_a_multiline_statement_trails_it() -> None:
    source = "model M() {\n    h = f(a,\n          b)  # done\n}"
    assert format_source(source) == model("h = f(a, b)  # done")


def test_trailing_comment_stays_on_the_first_line_of_a_broken_call() -> None:
    args = ", ".join(f"argument_number_{i}" for i in range(6))
    source = f"model M() {{\n    h = f({args})  # note\n}}"
    out = format_source(source)
    assert out.split("\n")[1] == "    h = f(  # note"
    assert format_source(out) == out


def test_comments_at_the_end_of_a_body_stay_inside_it() -> None:
    source = "model M() {\n    a = 1\n\n    # last words\n    # really\n\n}\n"
    assert format_source(source) == model("a = 1", "", "# last words", "# really")


def test_comments_in_an_otherwise_empty_body() -> None:
    assert format_source("model M() {\n# todo\n}") == "model M() {\n    # todo\n}\n"
    assert format_source("model M() { # todo\n}") == "model M() {}  # todo\n"
    assert format_source("model M() {} # todo") == "model M() {}  # todo\n"
    both = "model M() { # one\n} # two"
    assert format_source(both) == "model M() {  # one\n}  # two\n"


def test_comments_on_headers_and_closing_braces() -> None:
    source = """
        model M(a: int) {  # the header
            repeat 3 {  # the loop
                z = f(z)
                # end of loop
            }  # after the loop
        }  # after the model
    """
    assert fmt(source) == textwrap.dedent(source).lstrip("\n")


def test_nested_comment_indentation() -> None:
    source = "model M() {\nrepeat 2 {\n# deep\nrepeat 3 {\n# deeper\nz = 1\n}\n}\n}"
    assert format_source(source) == model(
        "repeat 2 {",
        "    # deep",
        "    repeat 3 {",
        "        # deeper",
        "        z = 1",
        "    }",
        "}",
    )


def test_file_header_keeps_its_blank_line() -> None:
    with_blank = "# Title.\n# More.\n\n\n# About M.\nmodel M() {}\n"
    assert format_source(with_blank) == "# Title.\n# More.\n\n# About M.\nmodel M() {}\n"
    without = "# Title.\nmodel M() {}\n"
    assert format_source(without) == without


def test_comments_between_and_after_items() -> None:
    source = "model A() {}\n# about B\nmodel B() {}\n# the end\n\n\n# really"
    assert format_source(source) == (
        "model A() {}\n\n# about B\nmodel B() {}\n\n# the end\n\n# really\n"
    )


def test_comment_trailing_whitespace_is_dropped() -> None:
    assert format_source("model M() {}  # note  \t") == "model M() {}  # note\n"


def test_one_line_source_with_every_kind_of_comment() -> None:
    source = "# top\nmodel M() { repeat 3 { z = f(z) } } # end\n"
    assert (
        format_source(source)
        == "# top\n" + model("repeat 3 {", "    z = f(z)", "}")[:-1] + "  # end\n"
    )


# --- entry points ---------------------------------------------------------------------------


def test_format_module_matches_format_source() -> None:
    source = "model M() { a = 1 }  # c"
    assert format_module(parse(source)) == format_source(source)


def test_syntax_errors_propagate_as_geo_errors() -> None:
    with pytest.raises(GeoError) as err:
        format_source("model M() { a = }", "bad.geo")
    assert err.value.diagnostics[0].span.file == "bad.geo"


# --- properties on the built-in specs -------------------------------------------------------


def test_there_are_specs() -> None:
    assert len(SPECS) >= 5


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_is_canonical(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    assert format_source(text, str(spec)) == text


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_round_trip_from_a_squashed_layout(spec: Path) -> None:
    """Re-laid out every which way, a spec formats back to itself."""
    text = spec.read_text(encoding="utf-8")
    squashed = "\n".join(_squash(line) for line in text.split("\n")).replace("\n\n", "\n\n\n")
    assert parse(squashed) == parse(text)
    assert format_source(squashed) == text
    assert comment_texts(squashed) == comment_texts(text)


def _squash(line: str) -> str:
    code, hash_, comment = line.partition("#")  # the specs have no `#` inside strings
    code = code.replace("    ", "\t ").replace(", ", " ,  ").replace(": ", " :").replace("(", "( ")
    return code + hash_ + comment + ";" * (not hash_ and code.endswith(")"))


# --- properties on random programs ----------------------------------------------------------


@RANDOM
@given(strategies.modules())
def test_random_module_round_trips(module: ast.Module) -> None:
    text = format_module(module)
    assert parse(text) == module
    assert format_source(text) == text


@RANDOM
@given(strategies.sources())
def test_random_messy_source_formats_stably(case: tuple[ast.Module, str]) -> None:
    module, messy = case
    assert parse(messy) == module
    out = format_source(messy)
    assert parse(out) == module
    assert format_source(out) == out
    assert comment_texts(out) == comment_texts(messy)
    assert all(line == line.rstrip() for line in out.split("\n"))
    assert out.endswith("\n") and not out.endswith("\n\n")
