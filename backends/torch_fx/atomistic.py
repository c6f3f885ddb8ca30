"""Energy, forces and stress of a periodic potential in one call (``geoc.energy_forces_stress``).

A compiled model whose domain has a periodic cell (``pointcloud(..., cell=true)``) computes an
energy per graph from positions and cell. Forces are ``-dE/dpos``; the stress is the derivative
of the energy under a homogeneous symmetric strain ``ε`` of the whole crystal, applied to
positions and cell alike (``pos -> pos (I + ε)``, ``cell -> cell (I + ε)``, rows as vectors)::

    σ = (1 / V) ∂E/∂ε  at ε = 0,    V = |det cell|

ASE's convention (``ase.calculators.calculator.Calculator.calculate_numerical_stress`` is its
finite difference; pressure ``-trace(σ) / 3``): positive under tension, negative for a
compressed crystal that pushes outwards. Units: energy / length³ of the inputs' units (eV/Å³
for eV and Å). Voigt order as in ASE: ``(xx, yy, zz, yz, xz, xy)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.periodic_kernels import per_graph_cells
from geoc.backends.torch_fx.common.precision_kernels import geometry

#: ASE's Voigt order of a symmetric 3x3 tensor: xx, yy, zz, yz, xz, xy.
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def energy_forces_stress(
    module: torch.nn.Module,
    inputs: Mapping[str, Any],
    energy: str = "energy",
    positions: str | None = None,
    training: bool = False,
) -> dict[str, Tensor]:
    """``energy`` (as the module returns it), ``forces`` ``-dE/dpos`` ``[N, 3]``, ``stress``
    ``[graphs, 3, 3]`` and ``stress_voigt`` ``[graphs, 6]`` (module docstring: ASE's sign,
    order and units) for keyword ``inputs`` of a model with a periodic cell.

    ``positions``: the name of the positions input (default: the one the model builds its
    edges from). ``training``: keep the graph of the derivatives, so a loss on forces and
    stress can be differentiated with respect to the parameters. A graph whose cell has no
    volume (a molecule with a zero cell) has a NaN stress: it has none.

    >>> import geoc, torch
    >>> model = geoc.compile("nequip", {"periodic": True, "depth": 1, "channels": 4})
    >>> cell = 4.0 * torch.eye(3)
    >>> out = geoc.energy_forces_stress(model, {"z": torch.arange(4), "pos": torch.rand(4, 3) * 4,
    ...                                         "cell": cell})
    >>> out["forces"].shape, out["stress"].shape, out["stress_voigt"].shape
    (torch.Size([4, 3]), torch.Size([1, 3, 3]), torch.Size([1, 6]))
    """
    name = positions or _positions_input(module)
    pos, cell, batch = inputs[name], inputs["cell"], inputs.get("batch")
    graphs = _graph_count(cell, batch, inputs.get("num_graphs"))
    cells, _ = per_graph_cells(cell, None, graphs)
    strain = torch.zeros_like(cells, requires_grad=True)
    deformation = torch.eye(3, dtype=cells.dtype, device=cells.device) + _symmetric(strain)
    per_atom = deformation[0] if batch is None else deformation[batch]
    pos = pos.detach().requires_grad_(True) if not pos.requires_grad else pos
    with geometry(pos.device):  # strained positions keep their dtype under autocast
        strained = {
            **inputs,
            name: torch.einsum("ni,nij->nj", pos, per_atom.expand(pos.shape[0], 3, 3)),
            "cell": cells @ deformation,
        }
    energies = module(**strained)[energy]
    grad_pos, grad_strain = torch.autograd.grad(
        energies.sum(), (pos, strain), create_graph=training
    )
    volume = torch.linalg.det(cells).abs()
    stress = grad_strain / volume.where(volume > 0, torch.nan)[:, None, None]
    rows, cols = zip(*VOIGT, strict=True)
    return {
        "energy": energies,
        "forces": -grad_pos,
        "stress": stress,
        "stress_voigt": stress[:, list(rows), list(cols)],
    }


def _symmetric(strain: Tensor) -> Tensor:
    """The symmetric part: ``∂E/∂ε`` is then symmetric, as a stress is (and a rotation, the
    antisymmetric part, changes no energy)."""
    return 0.5 * (strain + strain.transpose(-1, -2))


def _graph_count(cell: Tensor, batch: Tensor | None, num_graphs: int | None) -> int:
    if batch is None:
        return 1
    if num_graphs is not None:
        return num_graphs
    return max(int(batch.max()) + 1 if batch.numel() else 0, cell.reshape(-1, 3, 3).shape[0])


def _positions_input(module: torch.nn.Module) -> str:
    ir = getattr(_unwrapped(module), "meta", {}).get("geoc_ir")
    if ir is None or ir.positions is None or not ir.domain.cell:
        raise ValueError(
            "energy_forces_stress needs a compiled model with a periodic cell "
            "(`pointcloud(..., edges=radius(r), cell=true)`)"
        )
    return ir.positions


def _unwrapped(module: torch.nn.Module) -> torch.nn.Module:
    """The compiled module inside a wrapper that forwards to it: DistributedDataParallel and
    DataParallel (``.module``), ``torch.compile`` (``._orig_mod``)."""
    while not hasattr(module, "meta"):
        inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            break
        module = inner
    return module
