"""Draw a parameter as its initialiser (``geoc.initialisers``) says.

Every parameter of a compiled module is drawn from the one ``torch.Generator`` of the lowering,
seeded with ``seed`` (``torch.Generator().manual_seed(seed)``), in the order the parameters are
created (the order of the IR's nodes, then of each node's layers: weight, then bias). So the
same spec and seed give the same weights, and a parameter drawn first equals the matching
``torch.nn.init`` call on a generator seeded alike. An initialiser that draws a different
count of numbers (``zeros`` draws none, ``orthogonal`` a square block) shifts the draws of the
parameters created after it, never those before.

Each rule sees the parameter's block as a matrix: ``fan_in`` the inputs of one output (for an
equivariant block, the copies of its input irrep, or the basis coefficients, that feed one
output copy), ``fan_out`` the outputs one input feeds; ``orthogonal`` flattens trailing
dimensions as ``torch.nn.init.orthogonal_`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from geoc.initialisers import Initialiser

Draw = Callable[[torch.Tensor, Initialiser, int, int, torch.Generator], torch.Tensor]


def _uniform(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    return t.uniform_(-bound, bound, generator=g)


def _xavier(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    bound = init.arg("gain") * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return t.uniform_(-bound, bound, generator=g)


def _siren(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    bound = math.sqrt(6.0 / max(fan_in, 1)) / init.arg("w0")
    return t.uniform_(-bound, bound, generator=g)


def _siren_first(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    bound = 1.0 / max(fan_in, 1)
    return t.uniform_(-bound, bound, generator=g)


def _zeros(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    return t.zero_()


def _normal(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    return t.normal_(0.0, init.arg("std"), generator=g)


def _orthogonal(t: torch.Tensor, init: Initialiser, fan_in: int, fan_out: int, g) -> torch.Tensor:
    if t.dim() < 2 or t.numel() == 0:  # no frame to draw (the elaborator keeps biases out)
        return t.zero_()
    return torch.nn.init.orthogonal_(t, gain=init.arg("gain"), generator=g)


#: The backend's rule of each initialiser of ``geoc.initialisers.RULES``, by name.
DRAWS: dict[str, Draw] = {
    "uniform": _uniform,
    "siren": _siren,
    "siren_first": _siren_first,
    "xavier": _xavier,
    "zeros": _zeros,
    "normal": _normal,
    "orthogonal": _orthogonal,
}


def draw(
    init: Initialiser,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """A float tensor of ``shape`` drawn by ``init`` with the block's fans."""
    with torch.no_grad():
        return DRAWS[init.name](torch.empty(shape), init, fan_in, fan_out, generator)
