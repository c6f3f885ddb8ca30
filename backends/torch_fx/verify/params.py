"""The parameters a trial runs with: the module's own, or a seeded random draw on a copy.

Initial weights can hide a broken law (a ReLU that is zero for every input of a trial, a
weight that happens to be symmetric), so every trial after the first re-draws every parameter.
The draw keeps each parameter's shape, dtype and device and its scale (a Gaussian with the
parameter's own mean and spread), and keeps constrained parameters where they must be: the
Stiefel weights of ``bimap`` get orthonormal columns again, Poincaré-ball points stay well
inside the ball (``module.meta["geoc_manifold_params"]``). Positive scales are stored as their
logarithms (``log_scale``), so any real value is allowed there.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.compiled import compile_calls, is_compiled
from geoc.backends.torch_fx.manifold.riemannian import manifold_parameters

#: Poincaré-ball parameters are drawn within this fraction of the ball's radius ``1/sqrt(c)``.
BALL_FRACTION = 0.5


def copy_with(module: fx.GraphModule, new_value: Callable[[str, Tensor], Tensor]) -> fx.GraphModule:
    """A new GraphModule over a copy of ``module``'s graph whose floating parameters and buffers
    are ``new_value(name, old)``; the caller's module is never touched.

    ``module.to()`` would convert the caller's module in place, and ``copy.deepcopy`` of a
    compiled module recurses forever; the copy keeps ``module.meta``, and runs through
    ``torch.compile`` if ``module`` does (``optimize="inductor"``, docs/compiled.md).
    """
    clone = fx.GraphModule(module, copy.deepcopy(module.graph), type(module).__name__)
    clone.meta = dict(getattr(module, "meta", {}))
    for name, value in clone.state_dict(keep_vars=True).items():
        if value.is_floating_point():
            path, _, leaf = name.rpartition(".")
            owner, changed = clone.get_submodule(path), new_value(name, value.detach())
            if isinstance(value, torch.nn.Parameter):
                setattr(owner, leaf, torch.nn.Parameter(changed, value.requires_grad))
            else:
                owner.register_buffer(leaf, changed)
    clone.train(module.training)  # a new GraphModule starts in training mode
    return compile_calls(clone) if is_compiled(module) else clone  # the caller's path


def random_parameters(module: fx.GraphModule, rng: np.random.Generator) -> fx.GraphModule:
    """A copy of ``module`` with every parameter drawn at random (buffers stay: they are index
    tables and coefficients, not weights)."""
    constrained = manifold_parameters(module)
    names = {name for name, _ in module.named_parameters()}

    def draw(name: str, old: Tensor) -> Tensor:
        if name not in names:
            return old.clone()
        value = _draw_like(old, rng, constrained.get(name))
        return torch.as_tensor(value).to(dtype=old.dtype, device=old.device)

    return copy_with(module, draw)


def _draw_like(old: Tensor, rng: np.random.Generator, manifold: Mapping[str, Any] | None) -> Any:
    """A Gaussian of the parameter's mean and spread (a constant one, e.g. a scalar log-scale,
    spreads by half its size, at least 0.5), put back on its manifold if it has one."""
    values = old.detach().to(torch.float64).cpu().numpy()
    mean = float(values.mean()) if values.size else 0.0
    spread = float(values.std()) if values.size > 1 else 0.0
    if spread == 0.0:
        spread = 0.5 * max(abs(mean), 1.0)
    drawn = mean + spread * rng.standard_normal(values.shape)
    return onto_manifold(drawn, rng, manifold)


def onto_manifold(
    drawn: np.ndarray, rng: np.random.Generator, manifold: Mapping[str, Any] | None
) -> np.ndarray:
    """A random draw of a parameter put where it must be: orthonormal columns on the Stiefel
    manifold (drawn afresh), within :data:`BALL_FRACTION` of a Poincaré ball's radius (a point
    past the edge is no point, and near it Möbius operations lose every digit)."""
    kind = manifold["manifold"] if manifold else None
    if kind == "stiefel":  # orthonormal columns, as ``bimap`` needs
        return np.linalg.qr(rng.standard_normal(drawn.shape))[0]
    if kind == "poincare":  # inside the ball of radius 1/sqrt(c), away from its edge
        radius = BALL_FRACTION / math.sqrt(float(manifold["c"]))
        norms = np.linalg.norm(drawn, axis=-1, keepdims=True)
        return drawn * np.minimum(1.0, radius / np.maximum(norms, 1e-300))
    return drawn
