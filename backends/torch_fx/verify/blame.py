"""Blame: replay both runs of a failing trial and name the first IR value that breaks its law."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, fx

from geoc.backends.torch_fx.verify.actions import (
    NOT_ITS_TYPE,
    AxisMap,
    Deviation,
    axis_permutation,
    describe,
    value_error,
)
from geoc.backends.torch_fx.verify.edges import match_edge_sets, match_edges
from geoc.backends.torch_fx.verify.laws import exact_bound
from geoc.backends.torch_fx.verify.recorder import record
from geoc.backends.torch_fx.verify.report import Failure, source_line
from geoc.diagnostics import Span
from geoc.domains import EDGE_AXIS
from geoc.groups import GroupElement
from geoc.ir import Graph
from geoc.ops.rewritten import base_op  # a rewritten node is blamed as the operator written


@dataclass(frozen=True)
class Trial:
    """One trial: its element, the inputs before and after it, the permutable axes' lengths."""

    index: int
    element: GroupElement
    inputs: dict[str, Any]
    moved: dict[str, Any]
    sizes: dict[str, int]
    #: Periodic cells: each atom's lattice move that ``moved`` adds besides ``element``.
    lattice: Tensor | None = None

    @property
    def label(self) -> str:
        """What the trial did: the element's label, and lattice moves under a periodic cell."""
        moved = ", lattice translations" if self.lattice is not None else ""
        return describe(self.element) + moved

    def axis_maps(self) -> dict[str, AxisMap]:
        return {a: AxisMap(axis_permutation(self.element, a, n)) for a, n in self.sizes.items()}


def first_broken_value(
    module: fx.GraphModule, ir: Graph, trial: Trial, rtol: float, sources: Mapping[str, str]
) -> Failure | None:
    """Replay both runs and check every IR value, in evaluation order, against its law.

    A value fails when its error exceeds ``rtol`` times its size (at least 1, the inputs'
    scale: :func:`~geoc.backends.torch_fx.verify.laws.exact_bound`), so that large
    intermediate values are not blamed for rounding.
    """
    old, new = record(module, trial.inputs), record(module, trial.moved)
    maps = trial.axis_maps()
    if ir.builds_edges:
        edge_map = match_edges(ir, old, new, maps, trial.lattice)
        if edge_map is None:
            return edge_failure(ir, trial, sources)
        maps[EDGE_AXIS] = edge_map
    for name, edge_map in match_edge_sets(ir, old, new, maps).items():
        if edge_map is None:
            return edge_failure(ir, trial, sources, name)
        maps[name] = edge_map
    for node in ir.nodes:
        before, after = old.values.get(node.id), new.values.get(node.id)
        if not (isinstance(before, Tensor) and isinstance(after, Tensor)):
            continue
        ftype = node.out_types[0]
        if trial.lattice is not None and ftype.has_points:
            continue  # an atom's points moved by its lattice vector too: not the group's law
        dev = value_error(before, after, ftype, ir.group, trial.element, maps)
        if not dev.within(exact_bound(rtol, dev.scale)):
            return failure(node.id, base_op(node.op), str(ftype), node.span, dev, trial, sources)
    return None


def failure(
    node: str,
    op: str,
    ftype: str,
    span: Span | None,
    dev: Deviation,
    trial: Trial,
    sources: Mapping[str, str],
) -> Failure:
    line = source_line(span, sources)
    label, index = trial.label, trial.index
    return Failure(node, op, ftype, span, dev.error, dev.relative, label, index, line)


def edge_failure(
    ir: Graph, trial: Trial, sources: Mapping[str, str], name: str = EDGE_AXIS
) -> Failure:
    """The edge set ``name`` (the primary's ``edges`` or one between axes) changed under g."""
    domain = next((d for d in ir.more if d.axis == name), ir.domain)
    rule = domain.edges.value if domain.edges else "no"
    what = f"{rule} edges" if name == EDGE_AXIS else f"{rule} edge set {name}"
    return failure(name, what, "edge set", ir.span, NOT_ITS_TYPE, trial, sources)


def blame(
    module: fx.GraphModule,
    ir: Graph,
    trial: Trial,
    rtol: float,
    broken: str | None,
    devs: Mapping[str, Deviation],
    sources: Mapping[str, str],
) -> Failure | None:
    """The first broken value; failing that (rounding only at the end), the ``broken`` output.
    ``rtol`` is relative to each value's size (at least 1), as in :func:`first_broken_value`."""
    found = first_broken_value(module, ir, trial, rtol, sources)
    if found is not None or broken is None:
        return found
    port = ir.outputs[broken]
    node = ir.node(port.value.node)
    return failure(
        node.id, base_op(node.op), str(port.type), node.span, devs[broken], trial, sources
    )
