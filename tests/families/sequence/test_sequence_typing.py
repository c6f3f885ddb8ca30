"""``sequence(tokens, causal=...)``: the domain, the positional operators' typing and every
diagnostic (code and caret), and the static causality proof (GEO489) of a causal sequence."""

from __future__ import annotations

import pytest
from helpers import assert_fails_at, elaborated

from geoc.domains import Domain, DomainKind
from geoc.pipeline import frontend

#: A causal decoder: rotary queries and keys, a learned position table, causal attention.
CAUSAL = """
model Tiny(dim: int = 8, heads: int = 2) {
    symmetry trivial
    domain sequence(tokens, causal=true)
    input x: dim x scalar over tokens
    q = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    k = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    v = linear(x, dim x scalar)
    a = attention(q, k, v, over=tokens, heads=heads)
    h = position_embedding(x, over=tokens, max_len=64) + a
    output y: dim x scalar over tokens = mlp(h, [dim, dim])
}
"""


def _with(line: str, text: str = CAUSAL) -> str:
    return text.replace("    output y:", f"{line}\n    output y:")


def test_the_domain_round_trips() -> None:
    domain = Domain.parse("sequence(tokens, causal=true)")
    assert (domain.kind, domain.axis, domain.causal) == (DomainKind.SEQUENCE, "tokens", True)
    assert str(domain) == "sequence(tokens, causal=true)"
    assert str(Domain.parse("sequence(tokens)")) == "sequence(tokens)"


def test_a_causal_decoder_types() -> None:
    from geoc.ir import Graph

    graph = frontend(CAUSAL)
    assert str(graph.outputs["y"].type) == "8 x scalar over tokens"
    assert str(graph.group) == "trivial"
    assert Graph.from_json(graph.to_json()).domain.causal  # the IR keeps `causal=true`


def test_a_sequence_without_positions_is_a_set() -> None:
    """Not causal and no positions: `S(tokens)` holds, attention is all to all."""
    text = CAUSAL.replace("causal=true", "causal=false").replace("trivial", "S(tokens)")
    text = text.replace(
        "rotary(linear(x, dim x scalar), over=tokens, heads=heads)", "linear(x, dim x scalar)"
    )
    text = text.replace("position_embedding(x, over=tokens, max_len=64)", "x")
    assert str(frontend(text).group) == "S(tokens)"


def test_a_causal_sequence_is_not_permutation_equivariant() -> None:
    text = CAUSAL.replace("symmetry trivial", "@symmetry S(tokens)")
    error = assert_fails_at(text, "GEO216")
    assert "symmetry trivial" in error.diagnostics[0].help


def test_positions_under_a_permutation_are_rejected() -> None:
    """A positional operator under `S(tokens)` (not causal) is GEO488 at the call."""
    text = CAUSAL.replace("causal=true", "causal=false").replace("trivial", "S(tokens)")
    text = text.replace("    q = rotary(", "    q = @rotary(")
    error = assert_fails_at(text, "GEO488")
    assert "symmetry trivial" in error.diagnostics[0].help
    text = CAUSAL.replace("causal=true", "causal=false").replace("trivial", "S(tokens)")
    text = text.replace(
        "rotary(linear(x, dim x scalar), over=tokens, heads=heads)", "linear(x, dim x scalar)"
    )
    text = text.replace("h = position_embedding(", "h = @position_embedding(")
    assert_fails_at(text, "GEO488")


SET_ROTARY = """
model S() {
    symmetry trivial
    domain set(set)
    input x: 4 x scalar over set
    output y: 4 x scalar over set = rotary(x, over=@set)
}
"""

VECTORS = """
model V() {
    symmetry O(3)
    domain sequence(tokens)
    input v: 2 x vector over tokens
    output y: 2 x vector over tokens = rotary(@v, over=tokens)
}
"""

ERRORS = [
    (_with("    z = @rotary(x, over=tokens, heads=3)"), "GEO389"),  # 8 channels, 3 heads
    (_with("    z = @rotary(x, over=tokens, heads=0)"), "GEO389"),
    (_with("    z = position_embedding(x, over=tokens, max_len=@0)"), "GEO389"),
    (_with("    z = rotary(x, over=@set)"), "GEO388"),  # not the sequence's axis
    (_with("    z = rotary(@mean(x, over=tokens), over=tokens)"), "GEO388"),  # a global value
    (SET_ROTARY, "GEO388"),  # a set has no positions
    (VECTORS, "GEO490"),  # rotating vector components as numbers
]


@pytest.mark.parametrize(("text", "code"), ERRORS)
def test_misuses_of_positions(text: str, code: str) -> None:
    assert_fails_at(text, code)


# --- causality, statically -------------------------------------------------------------------

NON_CAUSAL = [
    # a sum over the tokens feeding an output over the tokens: the error is at the sum
    ("    output y: dim x scalar over tokens = h + @sum(h, over=tokens)", "sum"),
    ("    output y: dim x scalar over tokens = h * @mean(mlp(h, [dim]), over=tokens)", "mean"),
    ("    output y: dim x scalar over tokens = @softmax(h, over=tokens)", "softmax"),
    ("    g = @max(h, over=tokens)\n    output y: dim x scalar over tokens = h - g", "max"),
    ("    output y: dim x scalar = @attention_pool(h, h, over=tokens)", "attention_pool"),
    ("    output y: dim x scalar = @sum(h, over=tokens)", "sum"),  # a global output
]


@pytest.mark.parametrize(("line", "op"), NON_CAUSAL)
def test_a_causal_sequence_rejects_what_reads_later_tokens(line: str, op: str) -> None:
    text = CAUSAL.replace("    output y: dim x scalar over tokens = mlp(h, [dim, dim])", line)
    error = assert_fails_at(text, "GEO489")
    first = error.diagnostics[0]
    assert f"`{op}`" in first.message and "causal=false" in first.help


def test_the_same_ops_are_fine_without_causality() -> None:
    text = CAUSAL.replace("causal=true", "causal=false")
    text = text.replace("mlp(h, [dim, dim])", "softmax(h, over=tokens) + sum(h, over=tokens)")
    assert "softmax" in {n.op for n in frontend(text).nodes}


def test_token_by_token_ops_and_global_inputs_keep_causality() -> None:
    """A global input reads no token: broadcasting it is causal (a per-sequence bias)."""
    text = CAUSAL.replace(
        "    input x: dim x scalar over tokens",
        "    input x: dim x scalar over tokens\n    input c: dim x scalar",
    ).replace("mlp(h, [dim, dim])", "layer_norm(act(h * c, silu) + linear(c, dim x scalar))")
    assert frontend(text).outputs["y"]
    assert elaborated(text).domain.causal


# --- positions as a declared break ---------------------------------------------------------

ENCODER = """
model Enc(dim: int = 8, heads: int = 2) {
    symmetry S(tokens)
    breaks S(tokens) by q, k
    domain sequence(tokens)
    input x: dim x scalar over tokens
    q = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    k = rotary(linear(x, dim x scalar), over=tokens, heads=heads)
    v = linear(x, dim x scalar)
    output y: dim x scalar over tokens = attention(q, k, v, over=tokens, heads=heads)
    output s: dim x scalar = sum(mlp(x, [dim, dim]), over=tokens)
}
"""


def test_positions_declared_through_breaks() -> None:
    """`breaks S(tokens) by q, k`: what reads them is typed without S(tokens), the rest (the
    pooled `s`) still under it; the IR keeps the declaration through JSON."""
    from geoc.ir import Graph

    graph = frontend(ENCODER)
    assert (str(graph.group), str(graph.declared)) == ("trivial", "S(tokens)")
    assert str(graph.outputs["s"].value.node) in graph.unbroken
    again = Graph.from_json(graph.to_json())
    assert [str(b) for b in again.broken] == ["S(tokens) broken by `q`, `k`"]


def test_an_undeclared_positional_value_is_still_rejected() -> None:
    text = ENCODER.replace("by q, k", "by q").replace("    k = rotary(", "    k = @rotary(")
    error = assert_fails_at(text, "GEO488")
    assert "breaks S(tokens) by" in error.diagnostics[0].help


def test_breaking_permutations_needs_positions_and_no_causality() -> None:
    on_a_set = ENCODER.replace("sequence(tokens)", "set(tokens)").replace(
        "breaks S(tokens)", "breaks @S(tokens)"
    )
    assert_fails_at(on_a_set, "GEO514")
    causal = ENCODER.replace("sequence(tokens)", "sequence(tokens, causal=true)")
    assert_fails_at(causal.replace("symmetry S(tokens)", "@symmetry S(tokens)"), "GEO216")
