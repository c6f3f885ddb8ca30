"""The checks: trials of random inputs and group elements, the verdict per output, blame."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.domains import Sample, rules_of
from geoc.backends.torch_fx.manifold.verify import membership_rows
from geoc.backends.torch_fx.verify.actions import AxisMap, Deviation, describe, value_error
from geoc.backends.torch_fx.verify.blame import Trial, blame
from geoc.backends.torch_fx.verify.edges import match_edges
from geoc.backends.torch_fx.verify.recorder import record
from geoc.backends.torch_fx.verify.report import CheckReport, Failure, OutputRow, source_text
from geoc.domains import EDGE_AXIS
from geoc.groups import GroupElement
from geoc.ir import Graph


def draw_sample(
    ir: Graph,
    rng: np.random.Generator,
    nodes: int,
    graphs: int,
    dtype: torch.dtype,
    trial: int = 0,
) -> Sample:
    """Random inputs of every declared type, plus what the domain needs (``edge_index``,
    ``batch``, ...), drawn by the domain's rules for trial number ``trial``."""
    return rules_of(ir).draw_sample(ir, rng, nodes, graphs, dtype, trial)


def check_module(
    module: fx.GraphModule,
    *,
    trials: int = 3,
    seed: int = 0,
    nodes: int = 7,
    graphs: int = 1,
    dtype: torch.dtype = torch.float64,
    atol: float = 1e-10,
    elements: Sequence[GroupElement] | None = None,
    every_value: bool = False,
    sources: Mapping[str, str] | None = None,
) -> CheckReport:
    """Check numerically that ``module`` (from :func:`geoc.compile`) is equivariant.

    ``trials`` random (inputs, group element) pairs from ``seed``; ``nodes`` per graph (graphs
    of a batch get slightly different sizes); ``graphs > 1`` passes a ``batch`` vector. The
    module runs in ``dtype`` (a converted copy if its parameters are in another). An output
    passes when its max abs error is below ``atol``. ``elements`` replaces the sampled ones
    (missing permutations are the identity). ``every_value`` checks every IR value in every
    trial, not only after an output fails. ``sources`` maps span files to their text for the
    failure excerpt (built-in specs and files on disk are found without it).
    """
    if elements is None and trials < 1:
        raise ValueError(f"check_module needs at least 1 trial (got {trials}): none checks nothing")
    start = time.perf_counter()
    ir: Graph = module.meta["geoc_ir"]
    module = _in_dtype(module, dtype)
    rng = np.random.default_rng(seed)
    worst = {name: Deviation(0.0, 0.0) for name in ir.outputs}
    labels: list[str] = []
    failure: Failure | None = None
    device = _device_of(module)
    measured: Trial | None = None  # the last trial in general position, for membership
    for index in range(len(elements) if elements is not None else trials):
        sample = draw_sample(ir, rng, nodes, graphs, dtype, index)
        given = elements[index] if elements is not None else None
        trial = _make_trial(ir, rng, index, sample, given, device)
        measured = trial if sample.general_position or measured is None else measured
        labels.append(describe(trial.element))
        devs = _output_errors(module, ir, trial)
        worst = {name: worst[name].worse(devs[name]) for name in worst}
        broken = not all(d.within(atol) for d in devs.values())
        if failure is None and (broken or every_value):
            failure = blame(module, ir, trial, atol, devs, sources or {})
    rows = [
        OutputRow(name, str(port.type), dev.error, dev.relative, dev.within(atol))
        for (name, port), dev in zip(ir.outputs.items(), worst.values(), strict=True)
    ]
    shown = _failure_sources(failure, sources or {})
    rules = rules_of(ir)
    approximate = rules.approximate_rows(module, ir, rng, trials, dtype) if elements is None else []
    elapsed = time.perf_counter() - start
    batched = graphs if ir.domain.axis is not None and not ir.domain.is_field else 1
    report = CheckReport(
        ir.name, str(ir.group), dtype, atol, batched, rows, labels, failure, elapsed, shown
    )
    report.exact_law = rules.exact_law(ir)
    report.band_limited = approximate
    if any(node.out_types[0].has_manifold for node in ir.nodes):  # after trials: inputs known
        inputs = [measured.inputs, measured.moved]  # no direction at coincident points
        report.membership = membership_rows(module, ir, inputs, dtype)
    return report


def check(
    spec: str | Path | Graph,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    **kw: Any,
) -> CheckReport:
    """Compile ``spec`` in float64 and :func:`check_module` it (keywords pass through).

    >>> check("egnn", params={"depth": 2, "hidden": 16}, graphs=3).passed
    True
    """
    from geoc.backends.torch_fx.api import compile
    from geoc.pipeline import resolve_source

    dtype = kw.get("dtype", torch.float64)
    module = compile(spec, params, model=model, dtype=dtype)
    if not isinstance(spec, Graph) and "sources" not in kw:
        source = resolve_source(spec)
        kw["sources"] = {source.file: source.text}
    return check_module(module, **kw)


def _in_dtype(module: fx.GraphModule, dtype: torch.dtype) -> fx.GraphModule:
    """``module`` itself if its floating tensors are in ``dtype``, else a converted copy.

    The copy is a new GraphModule over the same graph with its own tensors: ``module.to()``
    would convert the caller's module in place, and ``copy.deepcopy`` of a compiled module
    recurses forever.
    """
    state = module.state_dict(keep_vars=True)
    if all(t.dtype == dtype for t in state.values() if t.is_floating_point()):
        return module
    clone = fx.GraphModule(module, copy.deepcopy(module.graph), type(module).__name__)
    for name, value in clone.state_dict(keep_vars=True).items():
        if value.is_floating_point():
            path, _, leaf = name.rpartition(".")
            owner, converted = clone.get_submodule(path), value.detach().to(dtype)
            if isinstance(value, torch.nn.Parameter):
                setattr(owner, leaf, torch.nn.Parameter(converted, value.requires_grad))
            else:
                owner.register_buffer(leaf, converted)
    return clone


def _make_trial(
    ir: Graph,
    rng: np.random.Generator,
    index: int,
    sample: Sample,
    element: GroupElement | None,
    device: torch.device,
) -> Trial:
    """The trial's element (drawn unless given) and both sets of inputs, on ``device``."""
    rules = rules_of(ir)
    if element is None:
        element = rules.draw_element(ir, rng, sample.sizes, index)
    moved = rules.move_inputs(ir, sample, element)
    inputs, moved = _to_device(sample.inputs, moved, device=device)
    return Trial(index, element, inputs, moved, sample.sizes)


def _device_of(module: fx.GraphModule) -> torch.device:
    tensors = [*module.parameters(), *module.buffers()]
    return tensors[0].device if tensors else torch.device("cpu")


def _to_device(*inputs: Mapping[str, Any], device: torch.device) -> list[dict[str, Any]]:
    """Inputs are drawn and transformed on the CPU, then moved where the module runs (lists of
    tensors, the weight-space inputs, element by element)."""

    def move(value: Any) -> Any:
        if isinstance(value, list):
            return [move(v) for v in value]
        return value.to(device) if isinstance(value, Tensor) else value

    return [{k: move(v) for k, v in i.items()} for i in inputs]


def _failure_sources(failure: Failure | None, sources: Mapping[str, str]) -> dict[str, str]:
    """The text of the file the failure points into, for the excerpt under the diagnostic."""
    text = source_text(failure.span.file, sources) if failure and failure.span else None
    return {failure.span.file: text} if failure and failure.span and text is not None else {}


def _output_errors(module: fx.GraphModule, ir: Graph, trial: Trial) -> dict[str, Deviation]:
    """Per output: error of ``f(g·x)`` against ``g·f(x)``."""
    with torch.no_grad():
        before, after = module(**trial.inputs), module(**trial.moved)
    unpack = rules_of(ir).unpack_outputs  # e.g. outputs over `weights` come as layer lists
    before, after = unpack(ir, before), unpack(ir, after)
    maps = trial.axis_maps()
    if any(EDGE_AXIS in port.type.axes for port in ir.outputs.values()):
        maps.update(_edge_maps(module, ir, trial, maps))
    return {
        name: value_error(before[name], after[name], port.type, ir.group, trial.element, maps)
        for name, port in ir.outputs.items()
    }


def _edge_maps(
    module: fx.GraphModule, ir: Graph, trial: Trial, maps: Mapping[str, AxisMap]
) -> dict[str, AxisMap]:
    """The edge correspondence, for outputs over edges (needs the recorded edge sets)."""
    if ir.domain.edges is None:
        return {}
    old, new = record(module, trial.inputs), record(module, trial.moved)
    edge_map = match_edges(ir, old, new, maps)  # a changed edge set is blamed afterwards
    return {} if edge_map is None else {EDGE_AXIS: edge_map}
