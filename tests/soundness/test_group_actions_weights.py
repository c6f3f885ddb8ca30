"""The harness's own actions on weight spaces and Cartesian tensors are right: permuting the
hidden neurons of a real MLP / CNN (tied across a skip, true neurons only under padding) keeps
the function it computes, a block that should move does, and g ⊗ g ⊗ g is the action of
`tensor(3)` written with einsum."""

from __future__ import annotations

import group_actions_cartesian as gc
import group_actions_weights as gw
import numpy as np
import pytest
import torch
import torch.nn.functional as F


def _forward(
    net: gw.Net, blocks: list[torch.Tensor], x: torch.Tensor, b: int, widths
) -> torch.Tensor:
    """Network ``b`` of the batch (channel 0), truncated to its true widths, on inputs ``x``
    (an image ``[n, c0, 5, 5]`` for a CNN, ``[n, d0]`` for an MLP)."""
    h = x
    for j in range(1, net.layers + 1):
        rows = widths[b, j - 1] if net.hidden(j) else net.sizes[j]
        cols = widths[b, j - 2] if net.hidden(j - 1) else net.sizes[j - 1]
        weight, bias = blocks[2 * j - 2][b, :rows, :cols, ..., 0], blocks[2 * j - 1][b, :rows, 0]
        if net.taps[j - 1]:
            out = F.conv2d(h, weight, bias, padding="same")
        else:
            if h.ndim == 4:  # global average pooling before the head
                h = h.mean(dim=(-2, -1))
            out = h @ weight.T + bias
        out = torch.tanh(out) if j < net.layers else out
        h = out + h if j in net.residual else out
    return h


NETS = [
    gw.Net((2, 3, 4, 1), (0, 0, 0)),
    gw.Net((2, 3, 3, 3, 2), (0, 0, 0, 0), residual=(2, 3)),
    gw.Net((2, 4, 3, 2), (2, 2, 0), padded=True),
    gw.Net((1, 3, 3, 3, 2), (2, 2, 0, 0), residual=(2, 3), padded=True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("net", NETS, ids=str)
def test_hidden_permutations_keep_the_function(net: gw.Net) -> None:
    rng = np.random.default_rng(1)
    widths = gw.draw_widths(net, rng, 3)
    blocks = gw.draw_input(net, 1, rng, widths)
    perms = gw.draw_perms(net, rng, widths)
    moved = gw.refill_padding(net, gw.move_blocks(net, blocks, perms), widths, rng)
    image = net.taps[0] > 0
    x = torch.as_tensor(rng.normal(size=(4, net.sizes[0], 5, 5) if image else (4, net.sizes[0])))
    for b in range(3):
        before, after = (_forward(net, v, x, b, widths) for v in (blocks, moved))
        assert torch.allclose(before, after, atol=1e-12)
    flat = gw.flatten(net, blocks, widths)
    assert not torch.allclose(flat, gw.flatten(net, moved, widths))  # something moved
    back = gw.move_flat(net, flat, perms, widths)
    assert torch.allclose(back, gw.flatten(net, moved, widths))


def test_an_untied_permutation_changes_a_residual_network() -> None:
    """Moving one layer of a skip alone is no symmetry: the harness must tie them."""
    net = gw.Net((2, 3, 3, 1), (0, 0, 0), residual=(2,))
    untied = gw.Net(net.sizes, net.taps)
    rng = np.random.default_rng(2)
    widths = gw.draw_widths(net, rng, 1)
    blocks = gw.draw_input(net, 1, rng, widths)
    perms = gw.draw_perms(untied, np.random.default_rng(5), widths)
    assert not np.array_equal(perms[0][1], perms[0][2])
    x = torch.as_tensor(rng.normal(size=(4, 2)))
    moved = gw.move_blocks(net, blocks, perms)
    assert not torch.allclose(
        _forward(net, blocks, x, 0, widths), _forward(net, moved, x, 0, widths)
    )


def test_rank_three_tensors_move_by_three_factors() -> None:
    rng = np.random.default_rng(3)
    g = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    t = rng.normal(size=(3, 3, 3))
    expected = np.einsum("ia,jb,kc,abc->ijk", g, g, g, t).reshape(-1)
    assert np.allclose(gc.tensor_matrix(g, 3) @ t.reshape(-1), expected, atol=1e-12)
    assert np.allclose(gc.tensor_matrix(g, 2) @ t[0].reshape(-1), (g @ t[0] @ g.T).reshape(-1))


@pytest.mark.parametrize("padded", [False, True])
def test_the_harness_catches_a_map_that_reads_positions(padded: bool) -> None:
    """`dws_flatten` compiled under `trivial` (accepted there) is no invariant of S(hidden):
    run under the weight-space family's action it must fail, and `dws_pool` must pass."""
    from soundness_run import run
    from spec_grammar import Family, Spec, Ty, scalars

    net = gw.Net((2, 3, 3, 1), (0, 0, 0), padded=padded)
    domain = "weightspace(mlp=[2, 3, 3, 1]" + (", padded=true)" if padded else ")")
    inputs = {"w": Ty(((1, "scalar"),), "weights")}
    family = Family(
        "weights", "trivial", domain, 0, "weights", inputs, [], info={"kind": "weights", "net": net}
    )
    outcomes = {}
    for group, op, size in (("trivial", "dws_flatten(w)", 25), ("S(hidden)", "dws_pool(w)", 7)):
        text = (
            f"model M() {{\n    symmetry {group}\n    domain {domain}\n"
            f"    input w: scalar over weights\n    output o: {size} x scalar = {op}\n}}\n"
        )
        spec = Spec(text, family, inputs, {"o": scalars(size)}, frozenset())
        outcomes[op] = run(spec, seed=0)
    assert outcomes["dws_pool(w)"].verdict == "accepted" and outcomes["dws_pool(w)"].harness_ok
    assert outcomes["dws_flatten(w)"].verdict == "accepted"
    assert not outcomes["dws_flatten(w)"].harness_ok
