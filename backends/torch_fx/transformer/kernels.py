"""nGPT's pieces (Loshchilov et al. 2024). Torch only (copied next to exported modules)."""

from __future__ import annotations

from torch import Tensor

from geoc.backends.torch_fx.common.kernels import unit_vector


def channel_scale(x: Tensor, p: Tensor, ratio: float, power: int = 1) -> Tensor:
    """``x * s^power``, nGPT's ``s = s_a · s_init / s_scale`` with ``ratio = init / base``;
    in ``x``'s dtype (under autocast the parameter stays float32, the activations do not)."""
    s = p * ratio
    return x * (s if power == 1 else s * s).to(x.dtype)


def head_normalize(x: Tensor, heads: int) -> Tensor:
    """Each head's channels over their norm (0 stays 0, derivatives finite: ``unit_vector``)."""
    return unit_vector(x.unflatten(-1, (heads, -1))).flatten(-2)
