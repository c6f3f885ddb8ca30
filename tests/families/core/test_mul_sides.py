"""`*` picks the scaling side by the operands' types alone, the same in the typing rule and the
lowering (`geoc.ops.core.scale_side`), and scales each copy of a wide atom (a `regular` block)
by its own scalar whatever the layout of fields (issue 12, found by the soundness fuzzer).
References are plain torch written here; parameters are random, in float64."""

from __future__ import annotations

import torch
from helpers import randomised

from geoc.backends.torch_fx.verify import check_module

SET = """model M() {{
    symmetry S(set)
    domain set(set)
    input a: 3 x scalar over set
    s = linear(a, 1 x scalar)
    output y: 3 x scalar over set = {}
}}
"""

REGULAR = """model M() {
    symmetry C(4)
    domain torus(3, 3)
    input a: 1 x scalar over torus
    r = lift_conv(a, 2 x regular, kernel=1)
    output y: 2 x regular over torus = r * group_pool(r, reduce=max)
    output r: 2 x regular over torus = r
}
"""


def test_a_single_scalar_scales_several_from_either_side() -> None:
    """`a * s` was GEO300 ('one scalar per copy (1)... got 3') while `s * a` was accepted."""
    a = torch.randn(5, 3, dtype=torch.float64)
    left, right = randomised(SET.format("a * s")), randomised(SET.format("s * a"))
    s = a @ left.s.weight.T + left.s.bias  # `linear` of invariant scalars: an affine map
    torch.testing.assert_close(left(a=a)["y"], a * s)
    assert torch.equal(left(a=a)["y"], right(a=a)["y"])
    perm = torch.randperm(5)
    torch.testing.assert_close(left(a=a[perm])["y"], left(a=a)["y"][perm])
    assert check_module(left, trials=3).passed


def test_a_regular_field_scaled_per_copy_runs_and_is_equivariant() -> None:
    """Accepted, then crashed: 2 scalars per pixel met the 8 channels of `2 x regular` in the
    channel-first field layout. Each block of |C(4)| = 4 channels takes its own scalar."""
    module = randomised(REGULAR)
    a = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    out = module(a=a)
    r = out["r"]
    pooled = r.reshape(2, 2, 4, 3, 3).amax(dim=2)
    torch.testing.assert_close(out["y"], r * pooled.repeat_interleave(4, dim=1))
    assert check_module(module, trials=3).passed
