"""Forces and force training need second derivatives: the guard of every built-in spec with
point positions (issue 14).

Found from the catalog (a spec whose IR names its positions), with its integer parameters
cut to 2 where it still compiles, on inputs drawn by the checker's own point-cloud sampler
(general position, and the degenerate layout: coincident points, a node far from all others,
a one-node graph, a graph without edges). For each spec, float64:

* ``gradgradcheck`` of its first global output (the energy) with respect to the positions,
  without and with ``batch``. At coincident points a direction has no value (the energy of a
  model of ``r / |r|`` is not differentiable there), so in the degenerate layout the check
  moves the other points, and the full Hessian-vector product must be finite;
* the parameter gradients of a force loss are finite, and those of one batch of several
  graphs equal the sum of the graphs run one by one (each through the one-graph edge layout);
* in float32, for specs whose edges are cut by distance, force training stays finite with
  masked pairs far beyond the cutoff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from geoc.backends.torch_fx.api import compile
from geoc.backends.torch_fx.verify.check import draw_sample
from geoc.catalog import builtin_specs
from geoc.diagnostics import GeoError
from geoc.domains import EdgeRule
from geoc.domains.axes import samples
from geoc.ir import Graph
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
GENERAL, DEGENERATE = 0, 2  # trial numbers of the checker's layouts (clouds.Layout)
NODES = 4
SMALL = 2  # integer parameters at most this where they can be: channels, depth, widths


@functools.cache
def _position_specs() -> tuple[str, ...]:
    """Built-in specs whose IR has point positions (``Graph.positions``) and a global output
    (an energy to differentiate; ``egnn_nbody`` outputs positions only), each also with every
    boolean parameter switched on (``nequip:periodic``: a periodic cell) where it compiles."""
    names = []
    for spec in builtin_specs():
        try:
            ir = frontend(spec.name)
        except GeoError:  # a spec for a later issue: the equivariance tests report it
            continue
        if ir.positions is None or all(port.type.axes for port in ir.outputs.values()):
            continue
        names.append(spec.name)
        flags = [k for k, v in ir.params.items() if v is False]
        names += [f"{spec.name}:{flag}" for flag in flags if _compiles(spec.name, {flag: True})]
    return tuple(names)


def _compiles(name: str, params: dict[str, Any]) -> bool:
    try:
        return frontend(name, params).positions is not None
    except GeoError:
        return False


def _variant(label: str) -> tuple[str, dict[str, Any]]:
    """``nequip:periodic`` -> ``("nequip", {"periodic": True})``."""
    name, *flags = label.split(":")
    return name, dict.fromkeys(flags, True)


def test_the_guard_finds_the_interatomic_specs() -> None:
    expected = {"egnn", "nequip", "escn", "nequip:periodic", "mace", "mace:periodic"}
    assert expected <= set(_position_specs())


def _small_params(label: str) -> dict[str, Any]:
    """Every integer parameter cut to ``SMALL`` where the spec still compiles so (one at a
    time: eSCN's degrees need ``lmax`` as it is)."""
    name, chosen = _variant(label)
    for key, value in frontend(name, chosen).params.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= SMALL:
            continue
        try:
            frontend(name, {**chosen, key: SMALL})
        except GeoError:
            continue
        chosen[key] = SMALL
    return chosen


@functools.cache
def _small(label: str) -> torch.fx.GraphModule:
    return compile(_variant(label)[0], params=_small_params(label), dtype=F64, seed=3)


def _sample(module: torch.fx.GraphModule, graphs: int, trial: int) -> dict[str, Any]:
    ir: Graph = module.meta["geoc_ir"]
    rng = np.random.default_rng(7 + trial)
    return dict(draw_sample(ir, rng, NODES, graphs, F64, trial).inputs)


def _first_global_output(ir: Graph) -> str:
    return next(name for name, port in ir.outputs.items() if not port.type.axes)


def _energy(module: torch.fx.GraphModule, inputs: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """The summed energy as a function of the positions, the other inputs fixed."""
    ir: Graph = module.meta["geoc_ir"]
    out, key = _first_global_output(ir), ir.positions
    assert key is not None

    def energy(pos: Tensor) -> Tensor:
        return module(**{**inputs, key: pos})[out].sum()

    return energy


def _coincident(pos: Tensor) -> Tensor:
    """Rows equal to another row."""
    same = (pos[:, None] == pos[None]).all(-1)
    return same.sum(1) > 1


def _with_a_coincident_pair(pos: Tensor, batch: Tensor | None) -> Tensor:
    """Two points of one graph moved to one place (a sampled cloud's degenerate draw has no
    coincident points: farthest-point sampling takes the lower index between them)."""
    graph = 0 if batch is None else int(torch.bincount(batch).argmax())
    members = torch.arange(pos.shape[0]) if batch is None else torch.nonzero(batch == graph)[:, 0]
    moved = pos.clone()
    moved[members[1]] = pos[members[0]]
    return moved


cases = [
    (name, graphs, trial)
    for name in _position_specs()
    for graphs in (1, 3)
    for trial in (GENERAL, DEGENERATE)
]


@pytest.mark.parametrize(("name", "graphs", "trial"), cases)
def test_energy_has_exact_second_derivatives(name: str, graphs: int, trial: int) -> None:
    module = _small(name)
    inputs = _sample(module, graphs, trial)
    energy = _energy(module, inputs)
    pos = inputs[module.meta["geoc_ir"].positions]
    if trial == DEGENERATE and samples(module.meta["geoc_ir"].domains):
        pos = _with_a_coincident_pair(pos, inputs.get("batch"))  # the checker draws none there
    fixed = _coincident(pos)
    assert fixed.any() == (trial == DEGENERATE)

    def moving(free: Tensor) -> Tensor:  # coincident points stay where they are
        return energy(pos.masked_scatter(~fixed[:, None], free))

    free = pos[~fixed].clone().requires_grad_(True)
    assert torch.autograd.gradgradcheck(
        moving, (free,), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True
    )

    every = pos.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(every), every, create_graph=True)
    (hvp,) = torch.autograd.grad(grad, every, torch.randn_like(every))
    assert torch.isfinite(grad).all() and torch.isfinite(hvp).all()


def _force_loss_grads(module: torch.fx.GraphModule, inputs: dict[str, Any]) -> list[Tensor]:
    """d/dθ of ``sum |F|²``, ``F = -dE/dpos``: what training on forces differentiates."""
    key = module.meta["geoc_ir"].positions
    pos = inputs[key].clone().requires_grad_(True)
    (force,) = torch.autograd.grad(-_energy(module, inputs)(pos), pos, create_graph=True)
    params = list(module.parameters())
    grads = torch.autograd.grad(force.pow(2).sum(), params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def _one_graph(ir: Graph, inputs: dict[str, Any], graph: int) -> dict[str, Any]:
    """The inputs of graph number ``graph`` of a batch, as a call without ``batch`` takes them:
    values over the nodes cut to its rows, values per graph to its row, edges renumbered."""
    batch: Tensor = inputs["batch"]
    rows, graphs = batch == graph, int(inputs["num_graphs"])
    first = int(rows.nonzero()[0, 0])
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        port = ir.inputs.get(name)
        if name in ("batch", "num_graphs") or name.startswith("batch_"):
            continue
        # declared inputs by their type; runtime ones (a cell, say) by their shape
        over_nodes = bool(port.type.axes) if port else value.shape[0] == batch.shape[0]
        further = port is not None and port.type.axes[:1] != (ir.domain.axis,) and over_nodes
        if name == "edge_index":
            out[name] = value[:, rows[value[0]]] - first
        elif further:  # a further axis of a model over several axes: its own `batch_<axis>`
            out[name] = value[inputs[f"batch_{port.type.axes[0]}"] == graph]
        elif over_nodes:
            out[name] = value[rows]
        else:  # one value per graph ([graphs, ...]), or one shared by all
            out[name] = value[graph : graph + 1] if value.shape[0] == graphs else value
    return out


@pytest.mark.parametrize("trial", [GENERAL, DEGENERATE])
@pytest.mark.parametrize("name", _position_specs())
def test_force_loss_grads_are_finite_and_batch_invariant(name: str, trial: int) -> None:
    module = _small(name)
    inputs = _sample(module, 3, trial)
    batched = _force_loss_grads(module, inputs)
    ir = module.meta["geoc_ir"]
    alone = [_force_loss_grads(module, _one_graph(ir, inputs, g)) for g in range(3)]
    for p, (together, *parts) in enumerate(zip(batched, *alone, strict=True)):
        assert torch.isfinite(together).all(), f"parameter {p}"
        torch.testing.assert_close(together, sum(parts), rtol=1e-10, atol=1e-10)


def _cut_by_distance(label: str) -> bool:
    domain = frontend(*_variant(label)).domain
    return domain.edges in (EdgeRule.RADIUS, EdgeRule.KNN)


@pytest.mark.parametrize(
    "name",  # far clusters are an open-boundary layout: a cell would wrap them together
    [
        n
        for n in _position_specs()
        if _cut_by_distance(n) and not frontend(*_variant(n)).domain.cell
    ],
)
def test_far_masked_pairs_leave_float32_force_training_finite(name: str) -> None:
    """One graph of two clusters 1e7 apart, float32: the one-graph layout feeds every pair,
    masked, to the edge kernels, and the radial envelope's powers overflow there (before
    issue 14 eleven of nequip's twelve parameter gradients were NaN)."""
    module = compile(_variant(name)[0], params=_small_params(name), dtype=torch.float32, seed=3)
    inputs = {
        k: v.to(torch.float32) if v.is_floating_point() else v
        for k, v in _sample(module, 1, GENERAL).items()
    }
    key = module.meta["geoc_ir"].positions
    pos = inputs[key].clone()
    pos[NODES // 2 :] += torch.tensor([1e7, 0.0, 0.0])
    grads = _force_loss_grads(module, {**inputs, key: pos})
    assert all(torch.isfinite(g).all() for g in grads)
