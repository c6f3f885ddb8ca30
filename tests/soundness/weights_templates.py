"""The weight-space family (docs/weightspace.md): `S(hidden)` on the weights of MLPs and CNNs
(with an MLP head through global pooling), with skips (`residual=`) and padded batches of
several widths; DWSNet / NF-layer operators plus the pointwise core. Risky on purpose:
`dws_flatten` where a layer is permuted (GEO430), a skip between layers of different widths
or onto an input / output layer (GEO441), a DWS operator on a global value (GEO344), a pool of
a weight-space value over `weights` (GEO342)."""

from __future__ import annotations

import math

import group_actions_weights as gw
import spec_templates as t
from hypothesis import strategies as st
from spec_grammar import Family, Gen, Ty, scalars
from spec_templates import Made

AXIS = "weights"
CORE = [t.linear, t.act, t.mlp, t.add, t.scale, t.negate, t.concat]


def _over_weights(gen: Gen) -> tuple[str, Ty] | None:
    return gen.pick(lambda ty: ty.axis == AXIS)


def _net(gen: Gen) -> gw.Net:
    return gen.family.info["net"]


def _fixed_entries(net: gw.Net) -> int:
    """F: per block, the product of its axes that are not permuted (a hidden layer of one
    neuron, or one tied to the input / output by a skip, is fixed)."""

    def fixed(j: int) -> bool:
        return not net.permuted(j) or net.sizes[j] == 1

    total = 0
    for j in range(1, net.layers + 1):
        taps = net.taps[j - 1] ** 2 if net.taps[j - 1] else 1
        total += (
            (net.sizes[j] if fixed(j) else 1) * (net.sizes[j - 1] if fixed(j - 1) else 1) * taps
        )
        total += net.sizes[j] if fixed(j) else 1
    return total


def dws_linear(gen: Gen) -> Made:
    x = _over_weights(gen)
    if gen.integer(0, 11) == 11:  # risky, rarely (integers shrink to 0): a global value, GEO344
        x = gen.pick(lambda ty: ty.axis is None) or x
        gen.tags.add("dws_global")
    if x is None:
        return None
    out = scalars(gen.integer(1, 3))
    bias = ", bias=false" if gen.coin(0.2) else ""
    return f"dws_linear({x[0]}, {out.text()}{bias})", out.on(AXIS)


def dws_pool(gen: Gen) -> Made:
    x = _over_weights(gen)
    if x is None:
        return None
    reduce = gen.choice(("mean", "sum", "max"))
    return f"dws_pool({x[0]}, reduce={reduce})", scalars(x[1].copies * _fixed_entries(_net(gen)))


def dws_flatten(gen: Gen) -> Made:
    """Risky where a layer is permuted (GEO430): the entries move."""
    x = _over_weights(gen)
    if x is None:
        return None
    net = _net(gen)
    if any(net.permuted(j) and net.sizes[j] > 1 for j in range(net.layers + 1)):
        gen.tags.add("dws_flatten_permuted")
    size = sum(math.prod(shape) for shape in net.shapes())
    return f"dws_flatten({x[0]})", scalars(x[1].copies * size)


def pool_weights(gen: Gen) -> Made:
    """Risky: a pool over `weights` (GEO342; invariant if accepted)."""
    x = _over_weights(gen)
    if x is None or gen.integer(0, 2) != 2:
        return None
    gen.tags.add("pool_weights")
    return f"{gen.choice(('sum', 'mean', 'max'))}({x[0]}, over={AXIS})", x[1].on(None)


# ---------------------------------------------------------------------------- the family


def _width(draw) -> int:
    """A hidden width: mostly 3 (hypothesis shrinks towards the first option)."""
    return draw(st.sampled_from((3, 2, 1, 4)))


def _mlp_net(draw) -> gw.Net:
    layers = draw(st.sampled_from((3, 2, 1)))
    sizes = [draw(st.integers(1, 3))] + [_width(draw) for _ in range(layers - 1)]
    return gw.Net(tuple([*sizes, draw(st.integers(1, 2))]), (0,) * layers)


def _cnn_net(draw) -> tuple[gw.Net, int, int]:
    convs = draw(st.sampled_from((2, 1)))
    kernel = draw(st.sampled_from((2, 1)))
    head = [_width(draw)] * draw(st.integers(0, 1)) + [draw(st.integers(1, 2))]
    sizes = [draw(st.integers(1, 2))] + [_width(draw) for _ in range(convs)]
    taps = (kernel,) * convs + (0,) * len(head)
    return gw.Net(tuple(sizes + head), taps), convs, kernel


def _skip(draw, net: gw.Net, tags: list[str]) -> gw.Net:
    """A skip at layer i (ties i - 1 and i), both hidden and of one width; rarely a bad one
    (GEO441: different widths, or the input / output layer)."""
    if draw(st.integers(0, 2)) != 2:
        return net
    sizes = list(net.sizes)
    good = list(range(2, net.layers))  # i - 1 >= 1 and i <= T - 1: both hidden
    if good and draw(st.integers(0, 5)) != 5:
        skips = [draw(st.sampled_from(good))]
        if skips[0] + 1 in good and draw(st.booleans()):  # a chain: three layers tied
            skips.append(skips[0] + 1)
        for i in skips:
            sizes[i] = sizes[i - 1]
    else:
        skips = [draw(st.integers(1, net.layers))]
        tags.append("residual_bad")
    return gw.Net(tuple(sizes), net.taps, tuple(skips), net.padded)


def _domain(net: gw.Net, cnn: tuple[int, int] | None) -> str:
    sizes = ", ".join(map(str, net.sizes))
    if cnn is None:
        text = f"mlp=[{sizes}]"
    else:
        convs, kernel = cnn
        conv = ", ".join(map(str, net.sizes[: convs + 1]))
        head = ", ".join(map(str, net.sizes[convs + 1 :]))
        text = f"cnn=[{conv}], kernel={kernel}, head=[{head}]"
    if net.residual:
        text += f", residual=[{', '.join(map(str, net.residual))}]"
    return f"weightspace({text}{', padded=true' if net.padded else ''})"


def weights(draw) -> Family:
    """S(hidden) on MLP / CNN weight spaces, maybe with a skip, maybe padded."""
    tags: list[str] = []
    if draw(st.booleans()):
        net, cnn = _mlp_net(draw), None
    else:
        net, convs, kernel = _cnn_net(draw)
        cnn = (convs, kernel)
        tags.append("cnn")
    net = gw.Net(net.sizes, net.taps, (), draw(st.integers(0, 2)) == 2)
    net = _skip(draw, net, tags)
    tags += ["padded"] * net.padded + ["residual"] * bool(net.residual)
    inputs = {"w": scalars(draw(st.integers(1, 2)), AXIS)}
    if draw(st.integers(0, 3)) == 0:
        inputs["u"] = scalars(1, AXIS)
    if draw(st.integers(0, 3)) == 0:
        inputs["g"] = scalars(draw(st.integers(1, 2)))
    templates = [*CORE, dws_linear, dws_linear, dws_linear, dws_pool, dws_pool]
    templates += [dws_flatten, pool_weights]
    return Family(
        "weights",
        "S(hidden)",
        _domain(net, cnn),
        0,
        AXIS,
        inputs,
        templates,
        info={"kind": "weights", "net": net, "tags": tuple(tags)},
    )
