"""Export an interatomic potential with its forces: ``geoc.export_potential(model, folder)``.

``torch.export`` cannot trace through ``torch.autograd.grad``, and a neighbour search has
data-dependent sizes. So the force field is built in two steps:

1. the model is lowered again with ``given_edges=True`` (the neighbour list becomes inputs
   ``edge_index`` ``[2, E]`` and, under a periodic cell, ``edge_shift`` ``[E, 3]``) and the
   trained weights are loaded into it;
2. energy, forces ``-dE/dpos`` (and, with a cell, the stress of atomistic.py) are traced into
   one graph of plain aten operations with ``make_fx`` (symbolic shapes: the backward pass is
   part of the graph), and that graph goes through ``torch.export`` with dynamic atom, edge
   and graph counts.

The folder is the usual exported model (``module.py``, the kernels, ``weights.pt``) plus
``potential.pt2`` (the program) and ``potential.py``, whose ``load()`` returns a callable that
finds the neighbours with the folder's own torch-only neighbour list and runs the program.
Nothing in it imports geoc.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, fx
from torch.fx.experimental.proxy_tensor import make_fx

from geoc.backends.torch_fx.atomistic import energy_forces_stress
from geoc.backends.torch_fx.common.neighbour_kernels import radius_neighbours
from geoc.backends.torch_fx.common.periodic_kernels import periodic_neighbours
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.lower import lower
from geoc.backends.torch_fx.saving import add_build
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import DomainKind, EdgeRule
from geoc.ir import Graph

#: The loader written next to the program (``potential.py`` in the folder).
LOADER = Path(__file__).with_name("potential_loader.py")


def export_potential(
    module: fx.GraphModule, directory: str | Path, energy: str = "energy", spec: str = "<spec>"
) -> Path:
    """Write ``module`` (a compiled point-cloud model with radius edges and a global
    ``energy`` output, trained or not) as an exported folder whose ``potential.load()``
    computes energy, forces and (with a periodic cell) stress without geoc."""
    ir: Graph = module.meta["geoc_ir"]
    _check_potential(ir, energy)
    twin = _given_edges_twin(module, ir)
    traced, example, dynamic = _traced(twin, ir, energy)
    program = torch.export.export(traced, example, dynamic_shapes=(dynamic,))  # one *args
    description = _description(ir, energy, _dtype(module))

    def add(folder: Path) -> None:
        torch.export.save(program, folder / "potential.pt2")
        (folder / "potential.py").write_text(LOADER.read_text(encoding="utf-8"), encoding="utf-8")
        text = json.dumps(description, indent=2) + "\n"
        (folder / "potential.json").write_text(text, encoding="utf-8")
        add_build(module)(folder)  # `geoc.load` compiles it again (saving.py)

    return write_folder(module, directory, spec, more=add)


def _check_potential(ir: Graph, energy: str) -> None:
    domain = ir.domain
    problems = []
    if domain.kind is not DomainKind.POINTCLOUD or domain.edges is not EdgeRule.RADIUS:
        problems.append(f"a point cloud with `edges=radius(r)` (this model: {domain})")
    if ir.more:  # forces of one position input: further axes' positions would be left out
        problems.append(f"a single domain (this model also has {', '.join(map(str, ir.more))})")
    port = ir.outputs.get(energy)
    if port is None or port.type.axes or ir.group.type_dim(port.type) != 1:
        problems.append(f"a global scalar output `{energy}` (an energy per graph)")
    if problems:
        raise GeoError(
            Diagnostic(
                "GEO504",
                "export_potential needs " + " and ".join(problems),
                help="a potential is a radius-graph model of atoms whose energy is one number "
                "per graph; other models export with `geoc compile -o DIR`",
            )
        )


def _dtype(module: torch.nn.Module) -> torch.dtype:
    return next((p.dtype for p in module.parameters()), torch.get_default_dtype())


def _given_edges_twin(module: fx.GraphModule, ir: Graph) -> fx.GraphModule:
    """The same model taking its neighbour list as inputs, with ``module``'s weights."""
    algorithm = module.meta.get("geoc_tp_algorithm", "auto")
    dtype = _dtype(module)
    twin = lower(ir, 0, algorithm, dtype, validate=False, given_edges=True).to(dtype)
    twin.load_state_dict(module.state_dict())  # after .to: loading first would round the weights
    return twin.eval()


def argument_names(ir: Graph) -> list[str]:
    """The program's positional arguments: the spec's inputs (species, features, positions),
    the neighbour list, then the batch structure (``graphs``: any ``[G]`` tensor, whose length
    is the number of graphs)."""
    periodic = ["edge_shift", "cell", "pbc"] if ir.domain.cell else []
    return [*ir.inputs, "edge_index", *periodic, "batch", "graphs"]


def _force_field(twin: fx.GraphModule, ir: Graph, energy: str) -> Callable[..., tuple]:
    names, positions = argument_names(ir), ir.positions or ""

    def energy_and_forces(*args: Tensor) -> tuple[Tensor, ...]:
        inputs = dict(zip(names, args, strict=True))
        inputs["num_graphs"] = inputs.pop("graphs").shape[0]
        if ir.domain.cell:
            out = energy_forces_stress(twin, inputs, energy, positions)
            return out["energy"], out["forces"], out["stress"]
        pos = inputs[positions].detach().requires_grad_(True)
        energies = twin(**{**inputs, positions: pos})[energy]
        (grad,) = torch.autograd.grad(energies.sum(), pos)
        return energies, -grad

    return energy_and_forces


def _traced(twin: fx.GraphModule, ir: Graph, energy: str) -> tuple:
    """The force field as a module of aten operations, an example and its dynamic sizes."""
    example = example_arguments(ir, _dtype(twin))
    with torch.enable_grad():
        graph = make_fx(
            _force_field(twin, ir, energy), tracing_mode="symbolic", _allow_non_fake_inputs=True
        )(*example)
    atoms, edges, graphs = (torch.export.Dim(n) for n in ("atoms", "edges", "graphs"))
    sizes = {"edge_index": {1: edges}, "edge_shift": {0: edges}, "batch": {0: atoms}}
    sizes |= {"cell": {0: graphs}, "pbc": {0: graphs}, "graphs": {0: graphs}}
    by_axis = {n: {0: atoms} for n, p in ir.inputs.items() if p.type.axes}
    dynamic = tuple((by_axis | sizes).get(name) for name in argument_names(ir))
    return _Program(graph), tuple(example), dynamic


class _Program(torch.nn.Module):
    """The traced force field as a module (``torch.export`` exports modules)."""

    def __init__(self, graph: fx.GraphModule) -> None:
        super().__init__()
        self.graph_module = graph

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        return self.graph_module(*args)


def example_arguments(ir: Graph, dtype: torch.dtype, atoms: int = 5) -> list[Tensor]:
    """Two graphs of ``atoms`` atoms each, close enough for edges, in a periodic box when the
    model has a cell: arguments in :func:`argument_names` order, to trace with."""
    generator = torch.Generator().manual_seed(0)
    cutoff = float(ir.domain.edge_arg or 1.0)
    count = 2 * atoms
    values = {}
    for name, port in ir.inputs.items():
        if port.type.has_labels:
            values[name] = torch.randint(0, port.type.classes, (count,), generator=generator)
        else:
            width = ir.group.type_dim(port.type)
            values[name] = torch.rand(count, width, generator=generator, dtype=dtype)
    pos = torch.rand(count, 3, generator=generator, dtype=dtype) * cutoff
    values[ir.positions or ""] = pos
    batch = torch.arange(2).repeat_interleave(atoms)
    cell = torch.eye(3, dtype=dtype).expand(2, 3, 3) * 1.5 * cutoff
    pbc = torch.ones(2, 3, dtype=torch.bool)
    src, dst, shift = periodic_neighbours(pos, cutoff, batch, cell, pbc, 2)
    values |= {"edge_index": torch.stack((src, dst)), "edge_shift": shift, "batch": batch}
    values |= {"cell": cell.contiguous(), "pbc": pbc, "graphs": torch.zeros(2)}
    if not ir.domain.cell:  # the same atoms as two open clusters
        values["edge_index"] = _open_edges(pos, batch, cutoff)
    return [values[name] for name in argument_names(ir)]


def _open_edges(pos: Tensor, batch: Tensor, cutoff: float) -> Tensor:
    src, dst, _ = radius_neighbours(pos, cutoff, batch, num_graphs=2)
    return torch.stack((src, dst))


def _description(ir: Graph, energy: str, dtype: torch.dtype) -> dict:
    outputs = ["energy [G, 1]", "forces [N, 3]"] + (["stress [G, 3, 3]"] if ir.domain.cell else [])
    return {
        "arguments": argument_names(ir),
        "returns": outputs,
        "energy_output": energy,
        "positions": ir.positions,
        "labels": [n for n, p in ir.inputs.items() if p.type.has_labels],
        "cutoff": float(ir.domain.edge_arg or 0.0),
        "periodic": bool(ir.domain.cell),
        "dtype": str(dtype).removeprefix("torch."),
        "neighbour_convention": "edge (src, dst, shift): r = pos[dst] - pos[src] + shift @ cell",
    }
