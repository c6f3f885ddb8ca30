"""What the backend knows of each domain kind, one module per kind (or per family of kinds).

A module here gives its kind's :class:`DomainRules`: the inputs the lowered module takes
besides the spec's (``batch``, ``num_graphs``, network batches), how its outputs are laid out,
and, for ``geoc check``, how to draw inputs and group elements, how an element moves the
inputs, and the sentence that says what the exact trials moved. The lowering and the checker
ask :func:`rules_of`; they name no domain kind.

* ``points.py``: ``global``, ``set``, ``graph`` and ``pointcloud`` (values over a permutable
  axis, edges given or built from positions);
* ``fields.py``: ``torus`` and ``sphere`` (fields on a grid);
* ``weightspace.py``: ``weightspace`` (an MLP's weights and biases);
* ``axes.py``: a model's further axes and the edge sets between axes, around the primary's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from geoc.domains import DomainKind
from geoc.groups import GroupElement
from geoc.ir import Graph, Port

if TYPE_CHECKING:
    from torch import fx

    from geoc.backends.torch_fx.domains.fields import BandLimitedRow
    from geoc.backends.torch_fx.lower import LowerCtx


@dataclass(frozen=True)
class Sample:
    """One call of the module: keyword inputs, and the lengths of the permutable axes.

    ``general_position`` is False where the inputs are degenerate on purpose (coincident
    points, graphs without edges): a direction is undefined at coincident points and an empty
    edge set measures little, so manifold membership is measured on the other trials.
    """

    inputs: dict[str, Any]
    sizes: dict[str, int]
    general_position: bool = True
    #: Periodic cells: each atom's lattice move ``[N, 3]`` (integer multiples of its graph's
    #: lattice vectors) that ``g·x`` adds, or None where the trial moves no atom so.
    lattice: Any = None


def no_exact_law(ir: Graph) -> str:
    return ""


def no_unpacking(ir: Graph, outputs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(outputs)


def no_rows(
    module: fx.GraphModule, ir: Graph, rng: np.random.Generator, trials: int, dtype: torch.dtype
) -> list[BandLimitedRow]:
    return []


def no_checks(ctx: LowerCtx, like: fx.Node | None) -> None:
    return None


def no_extra_outputs(ctx: LowerCtx) -> dict[str, fx.Node]:
    return {}


def output_as_is(ctx: LowerCtx, port: Port) -> fx.Node:
    return ctx.values[port.value]


@dataclass(frozen=True)
class DomainRules:
    """The backend's rules of one domain kind (see the module docstring)."""

    #: Placeholders and shared values the module needs besides the spec's inputs.
    lower_inputs: Callable[[LowerCtx], None]
    #: ``draw_sample(ir, rng, nodes, graphs, dtype, trial)``: random inputs of every declared
    #: type (the trial number lets a domain vary what its inputs stress).
    draw_sample: Callable[[Graph, np.random.Generator, int, int, torch.dtype, int], Sample]
    #: ``draw_element(ir, rng, sizes, trial)``: a random element of the group on this domain.
    draw_element: Callable[[Graph, np.random.Generator, Mapping[str, int], int], GroupElement]
    #: ``move_inputs(ir, sample, element)``: ``g·x`` for every keyword input.
    move_inputs: Callable[[Graph, Sample, GroupElement], dict[str, Any]]
    #: Every value leads with its sample (``[B, *axes, C]``; a global one ``[B, C]`` or ``[C]``),
    #: so a global value broadcasts by size-1 axis dimensions; otherwise values over an axis
    #: hold every graph's elements (``[N, C]``, with a ``batch`` vector) and a global value
    #: ``[graphs, C]`` is gathered by graph.
    leading_batch: bool = False
    #: What the exact trials moved, for the report ("" where the table says it all).
    exact_law: Callable[[Graph], str] = no_exact_law
    #: The fx value returned for an output (layouts that differ from the IR value's).
    lower_output: Callable[[LowerCtx, Port], fx.Node] = output_as_is
    #: Outputs as the generic law reads them (``[..., channels]`` tensors).
    unpack_outputs: Callable[[Graph, Mapping[str, Any]], dict[str, Any]] = no_unpacking
    #: ``approximate_rows(module, ir, rng, trials, dtype)``: checks beyond the exact trials
    #: (rotations of band-limited fields on the sphere), drawn after them.
    approximate_rows: Callable[
        [fx.GraphModule, Graph, np.random.Generator, int, torch.dtype], list[BandLimitedRow]
    ] = no_rows
    #: Values the module returns besides the spec's outputs (the built edges, ``edge_index``,
    #: next to outputs over them); a spec output of the same name wins.
    extra_outputs: Callable[[LowerCtx], dict[str, fx.Node]] = no_extra_outputs
    #: ``check_inputs(ctx, like)``: the runtime checks of the module's inputs (shapes, dtypes
    #: against ``like``, a floating parameter or None; ``batch``, ``edge_index``, ...), emitted
    #: at the top of the graph (``validate.py``).
    check_inputs: Callable[[LowerCtx, fx.Node | None], None] = no_checks


#: The module holding each domain kind's rules (imported on first use: the rules call into
#: the families' lowerings, which import the lowering driver).
MODULES: dict[DomainKind, str] = {
    DomainKind.GLOBAL: "points",
    DomainKind.SET: "points",
    DomainKind.GRAPH: "points",
    DomainKind.POINTCLOUD: "points",
    DomainKind.SEQUENCE: "points",
    DomainKind.TORUS: "fields",
    DomainKind.SPHERE: "fields",
    DomainKind.GRID: "fields",
    DomainKind.WEIGHTSPACE: "weightspace",
}


def rules_of(ir: Graph) -> DomainRules:
    """The rules of ``ir``'s domain kind; with further axes, extended by them (``axes.py``)."""
    kind = ir.domain.kind
    module = importlib.import_module(f"{__name__}.{MODULES[kind]}")
    if not ir.more:
        return module.RULES[kind]
    axes = importlib.import_module(f"{__name__}.axes")
    return axes.several(module.RULES[kind])
