"""Manifold parameters of a compiled module, for Riemannian optimisers.

Some lowerings create parameters that live on a manifold: the Stiefel weights of ``bimap``
(orthonormal columns), the Poincaré-ball bias of ``mobius_linear`` and the hyperplane points
of ``poincare_mlr``. The module records them in ``module.meta["geoc_manifold_params"]``;
:func:`manifold_parameters` lists them, and :func:`to_geoopt` swaps them for
``geoopt.ManifoldParameter`` so that ``geoopt.optim.RiemannianAdam`` keeps them on their
manifolds. geoc itself never imports geoopt: only :func:`to_geoopt` does, when called.

    >>> import geoc, geoopt
    >>> model = to_geoopt(geoc.compile("poincare_mlp"))
    >>> optimiser = geoopt.optim.RiemannianAdam(model.parameters(), lr=1e-2)
"""

from __future__ import annotations

from typing import Any

import torch

from geoc.backends.torch_fx.manifold.lower import MANIFOLD_PARAMS


def manifold_parameters(module: torch.nn.Module) -> dict[str, dict[str, Any]]:
    """``{parameter name: {"manifold": "stiefel" | "poincare", "c": ...}}``."""
    meta = getattr(module, "meta", {})
    return dict(meta.get(MANIFOLD_PARAMS, {}))


def geoopt_manifold(spec: dict[str, Any]) -> Any:
    """The geoopt manifold of one recorded parameter."""
    import geoopt

    if spec["manifold"] == "stiefel":
        return geoopt.Stiefel()
    if spec["manifold"] == "poincare":
        return geoopt.PoincareBall(c=spec["c"])
    raise ValueError(f"unknown manifold parameter kind {spec['manifold']!r}")


def to_geoopt(module: torch.nn.Module) -> torch.nn.Module:
    """Replace every manifold parameter of ``module`` by a ``geoopt.ManifoldParameter`` (same
    data, same name, in place) and return ``module``."""
    import geoopt

    for name, spec in manifold_parameters(module).items():
        path, _, leaf = name.rpartition(".")
        owner = module.get_submodule(path)
        old = getattr(owner, leaf)
        if isinstance(old, geoopt.ManifoldParameter):
            continue
        manifold = geoopt_manifold(spec)
        new = geoopt.ManifoldParameter(old.data, manifold=manifold, requires_grad=old.requires_grad)
        setattr(owner, leaf, new)
    return module


__all__ = ["geoopt_manifold", "manifold_parameters", "to_geoopt"]
