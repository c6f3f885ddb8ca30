"""Every problem of a spec, in source order: elaboration goes on past a statement that does not
type, a name it would bind is poisoned (its uses fail silently, so one mistake is reported once),
and the equivariance proof also covers the statements that typed. Nothing with an error is ever
accepted."""

from __future__ import annotations

import pytest

from geoc.diagnostics import GeoError
from geoc.elaborate import elaborate, elaborate_all
from geoc.grammar.parser import parse
from geoc.pipeline import frontend
from geoc.program import load_program

HEADER = """model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
"""  # five lines: the statements under test start on line 6


def markers(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` without its ``@`` markers, and where each stood (1-based line, column)."""
    where = []
    while "@" in text:
        before = text[: text.index("@")]
        where.append((before.count("\n") + 1, len(before) - before.rfind("\n")))
        text = text.replace("@", "", 1)
    return text, where


def found(text: str, run=frontend) -> list[tuple[str, int, int]]:
    with pytest.raises(GeoError) as info:
        run(text)
    return [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics]


def expect(body: str, codes: list[str], run=frontend) -> GeoError:
    """``HEADER + body`` fails with exactly ``codes``, one at each ``@`` of ``body``, in order."""
    text, where = markers(HEADER + body)
    expected = [(code, line, col) for code, (line, col) in zip(codes, where, strict=True)]
    assert found(text, run) == expected


def elaborate_text(text: str):
    return elaborate(load_program(parse(text), text, None))


# --- independent problems: all of them, in source order


THREE = """    a = act(@v, relu)
    b = norm(v) + @nosuch
    c = linear(norm(v), 4 x scalar)
    d = c + @v
    output y: scalar over edges = norm(x[dst] - x[src])
}
"""


def test_three_independent_problems_are_all_reported_in_source_order() -> None:
    # line 6 breaks equivariance (the proof), line 7 names nothing, line 9 does not type
    expect(THREE, ["GEO402", "GEO200", "GEO307"])


def test_the_proof_covers_the_statements_that_typed() -> None:
    # elaboration alone finds only the typing problems; the pipeline adds the violation
    text, where = markers(HEADER + THREE)
    assert found(text, elaborate_text) == [("GEO200", *where[1]), ("GEO307", *where[2])]


def test_a_violation_before_a_typing_error_comes_first() -> None:
    expect(
        """    a = mlp(@v, [4])
    b = act(@v, relu)
    c = norm(v) + @v
    output y: scalar over edges = norm(x[dst] - x[src])
}
""",
        ["GEO401", "GEO402", "GEO307"],
    )


def test_a_spec_with_problems_is_never_a_graph() -> None:
    text, _ = markers(HEADER + THREE)
    elaboration = elaborate_all(load_program(parse(text), text, None))
    assert [d.code for d in elaboration.problems] == ["GEO200", "GEO307"]
    with pytest.raises(GeoError):
        elaboration.graph_or_error()


# --- no cascades


def test_a_failed_name_is_reported_once_not_at_each_use() -> None:
    expect(
        """    h = norm(v) + @v
    g = mlp(h, [4]) + h
    output y: 4 x scalar over nodes = g
    output z: scalar over nodes = norm(h)
}
""",
        ["GEO307"],
    )


def test_a_use_of_a_failed_name_hides_no_independent_problem() -> None:
    expect(
        """    h = norm(v) + @v
    output y: 4 x scalar over nodes = mlp(h, [4])
    output z: vector over nodes = @nosuch
}
""",
        ["GEO307", "GEO200"],
    )


def test_a_failed_input_poisons_its_uses_and_the_domain_does_not_miss_it() -> None:
    # `x` is the point cloud's positions: no "the domain needs positions" cascade either
    text, where = markers(
        """model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: @point(4) over nodes
    output y: scalar over edges = norm(x[dst] - x[src])
}
"""
    )
    assert found(text) == [("GEO309", *where[0])]


def test_a_block_whose_return_fails_fails_its_call_silently() -> None:
    text, where = markers(
        """block b(h: 4 x scalar over nodes, v: vector over nodes) -> 4 x scalar over nodes {
    return h + @v
}
model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    input h: 4 x scalar over nodes
    a = b(h, v)
    output y: 4 x scalar over nodes = b(a, v) + a
}
"""
    )
    assert found(text) == [("GEO307", *where[0])]


def test_two_names_of_a_failed_multi_assignment_are_both_poisoned() -> None:
    expect(
        """    a, b = @nosuch
    output y: vector over nodes = a
    output z: vector over nodes = b
}
""",
        ["GEO200"],
    )


# --- blocks and repeat: a failure repeated at every expansion is reported once


def test_a_failure_in_a_repeat_body_is_reported_once() -> None:
    expect(
        """    repeat 3 {
        junk = @nosuch + v
        v = v + v
    }
    w = v + @norm(v)
    output y: vector over nodes = w
}
""",
        ["GEO200", "GEO307"],
    )


def test_a_failure_carried_by_repeat_is_reported_once() -> None:
    expect(
        """    repeat 4 {
        v = v + @norm(v)
    }
    output y: vector over nodes = v
}
""",
        ["GEO307"],
    )


def test_a_failure_in_a_block_called_twice_is_reported_once() -> None:
    text, where = markers(
        """block b(h: 4 x scalar over nodes) -> 4 x scalar over nodes {
    junk = @nosuch
    return h
}
model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input h: 4 x scalar over nodes
    a = b(h)
    repeat 2 {
        a = b(a)
    }
    output y: 4 x scalar over nodes = b(h) + a
}
"""
    )
    assert found(text) == [("GEO200", *where[0])]


def test_a_violation_in_a_repeated_block_is_reported_once() -> None:
    text, where = markers(
        """block b(v: vector over nodes) -> vector over nodes {
    return v + linear(act(@v, relu), vector)
}
model M() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    repeat 3 {
        v = b(v)
    }
    output y: vector over nodes = v + @nosuch
}
"""
    )
    assert found(text) == [("GEO402", *where[0]), ("GEO200", *where[1])]


# --- what still stops early


def test_symmetry_and_domain_problems_are_both_reported_and_the_body_is_not_typed() -> None:
    text, where = markers(
        """model M() {
    symmetry @E(7, 3) x S(nodes)
    domain   pointcloud(nodes, dim=@-3, edges=full)
    input x: point(3) over nodes
    output y: vector over nodes = nosuch
}
"""
    )
    codes = [code for code, *_ in found(text)]
    assert [(line, col) for _, line, col in found(text)] == where
    assert len(codes) == 2 and "GEO200" not in codes


def test_a_parse_error_is_still_one_diagnostic() -> None:
    text = HEADER + "    a = (\n    b = nosuch\n    output y: vector over nodes = \n}\n"
    assert [code for code, *_ in found(text)] == ["GEO100"]


# --- the limit


def test_many_problems_are_all_kept_and_the_first_twenty_shown() -> None:
    body = "".join(f"    a{i} = v + missing{i}\n" for i in range(25))
    text = HEADER + body + "    output y: vector over nodes = v\n}\n"
    with pytest.raises(GeoError) as info:
        frontend(text)
    err = info.value
    assert [d.span.line for d in err.diagnostics] == list(range(6, 31))
    assert str(err).count("error[GEO200]") == 20
    assert str(err).endswith("... and 5 more errors (all are in `.diagnostics`)\n")
