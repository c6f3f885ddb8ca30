"""``sequence(tokens, causal=false)``: an ordered axis of tokens (docs/language.md, "Sequences
and causality").

Several sequences share one call as a set's graphs do (a ``batch`` input, the sequence of each
token); within a sequence, the rows' order is the tokens' order. Without positional operators
and with ``causal=false`` a sequence is a set and ``S(tokens)`` may permute it. Positions
(``rotary``, ``position_embedding``) break that permutation (their contract, ``GEO488``), and a
causal model is not permutation-equivariant either (``GEO216``): such a model declares no
permuting factor, ``symmetry trivial``.

**Causality.** In a causal sequence every value carries one property: it *reads only the past*
(each token's row depends only on the tokens at or before it; a global value on no token at
all). The property follows from each operator's traits, never from its name: an operator
acting on each token alone (``commutes_gather``) or marked ``causal`` (attention, lowered with
the causal mask; a positional operator, which reads its own token's position) keeps it; any
other operator over the axis, and any reduction of the tokens into a global value, loses it.
A value over the tokens or an output that does not read only the past is ``GEO489``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import base
from geoc.domains.base import DomainKind, DomainRules, Env, axis_argument, bad, no_kwargs
from geoc.grammar import ast

if TYPE_CHECKING:
    from geoc.groups import Group
    from geoc.ir import Graph, Node
    from geoc.ops.traits import Traits


def parse(expr: ast.Call, env: Env) -> base.Domain:
    axis = axis_argument(expr)
    no_kwargs(expr, {"causal"})
    written = next((k.value for k in expr.kwargs if k.name.id == "causal"), None)
    causal = base.constant(written, env, False)
    if not isinstance(causal, bool):
        raise GeoError(bad(written or expr, "`causal` is `true` or `false`"))
    return base.Domain(DomainKind.SEQUENCE, axis, causal=causal)


def describe(domain: base.Domain) -> str:
    causal = ", causal=true" if domain.causal else ""
    return f"sequence({domain.axis}{causal})"


def check_symmetry(group: Group, domain: base.Domain, span: Span | None) -> None:
    """GEO216 for ``S(tokens)`` on a causal sequence: token i reads tokens j <= i, an order no
    permutation keeps."""
    if domain.causal and domain.axis in group.permuted_axes:
        why = (
            f"`S({domain.axis})` on a causal sequence: each token reads the tokens before it, "
            "an order no permutation keeps"
        )
        fix = f"drop `S({domain.axis})` (`symmetry trivial`), or declare `causal=false`"
        raise GeoError(Diagnostic("GEO216", why, span, label="symmetry", help=fix))


def reads_only_the_past(traits: Traits, node: Node, axis: str, reads_tokens: bool) -> bool:
    """Whether ``node``'s value reads only tokens at or before its own row, given that its inputs
    do (``reads_tokens``: some input lies over ``axis``)."""
    out_axes = node.out_types[0].axes if node.out_types else ()
    if not reads_tokens:
        return True
    if axis not in out_axes:  # a reduction of the tokens: one value from every token
        return False
    return traits.commutes_gather or traits.causal


def check_causality(graph: Graph) -> list[Diagnostic]:
    """GEO489 for each operator whose value reads later tokens and reaches a value over the
    tokens or an output; the diagnostic points at that operator (the origin), once."""
    from geoc.ops import lookup

    domain = graph.domain
    if not domain.causal or domain.axis is None:
        return []
    axis = domain.axis
    origin: dict[str, Node | None] = {}  # per node: the operator that first read the future
    found: dict[str, Diagnostic] = {}
    for node in graph.nodes:
        op = lookup(node.op)
        inherited = next((origin[r.node] for r in node.inputs if origin[r.node]), None)
        reads = any(axis in graph.type_of(r).axes for r in node.inputs)
        causal = op is None or reads_only_the_past(op.traits, node, axis, reads)
        origin[node.id] = inherited or (None if causal else node)
        culprit = origin[node.id]
        if culprit is not None and axis in node.out_types[0].axes and culprit.id not in found:
            found[culprit.id] = _future(culprit, node, axis)
    for port in graph.outputs.values():
        culprit = origin[port.value.node]
        if culprit is not None and culprit.id not in found:
            found[culprit.id] = _future(culprit, None, axis, port.name)
    return list(found.values())


def _future(culprit: Node, user: Node | None, axis: str, output: str = "") -> Diagnostic:
    where = f"the output `{output}`" if output else f"`{user.id if user else ''}` over `{axis}`"
    if culprit is user:
        why = f"`{culprit.op}` mixes the tokens of `{axis}` in both directions"
    else:
        why = f"`{culprit.op}` reads every token of `{axis}`, and its value reaches {where}"
    return Diagnostic(
        "GEO489",
        f"{why}: in a causal sequence a token may read only the tokens at or before it",
        culprit.span,
        label="reads later tokens",
        help="act token by token, or use `attention(q, k, v, over="
        f"{axis})` (causal in a causal sequence); for a model that reads the whole sequence "
        "declare `causal=false`",
    )


base.register(
    DomainRules(
        DomainKind.SEQUENCE,
        describe=describe,
        axes=lambda d: (d.axis,),
        parse=parse,
        ordered=True,
        check_symmetry=check_symmetry,
        check_graph=check_causality,
    )
)
