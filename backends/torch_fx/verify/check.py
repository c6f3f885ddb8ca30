"""The checks: trials of random inputs and group elements, the verdict per output, blame."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.domains import Sample, rules_of
from geoc.backends.torch_fx.domains.fields import BandLimitedRow, merge_rows
from geoc.backends.torch_fx.frames.verify import frame_rows
from geoc.backends.torch_fx.manifold.modes import mode_checked
from geoc.backends.torch_fx.manifold.verify import membership_rows
from geoc.backends.torch_fx.sequence.verify import causality_row
from geoc.backends.torch_fx.verify.actions import (
    AxisMap,
    Deviation,
    action_budget_problems,
    value_error,
)
from geoc.backends.torch_fx.verify.blame import Trial, blame
from geoc.backends.torch_fx.verify.breaking import (
    WITNESS_TRIALS,
    BreakingRow,
    breaking_row,
    under_declared_group,
)
from geoc.backends.torch_fx.verify.edges import match_edges, match_endpoints
from geoc.backends.torch_fx.verify.laws import exact_bound, exact_rtol
from geoc.backends.torch_fx.verify.params import copy_with, random_parameters
from geoc.backends.torch_fx.verify.recorder import record
from geoc.backends.torch_fx.verify.report import CheckReport, Failure, OutputRow, source_text
from geoc.budget import within_budget
from geoc.diagnostics import GeoError
from geoc.domains import EDGE_AXIS
from geoc.groups import GroupElement
from geoc.ir import Graph

#: Graphs per call by default: one graph alone cannot show a kernel that mixes graphs.
DEFAULT_GRAPHS = 2


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


def _inputs_ir(module: fx.GraphModule, ir: Graph) -> Graph:
    """``ir`` with the domain of the inputs the module takes: a sphere model compiled for
    another grid kind (``sphere_grid=``) takes fields of the spec's shape on that kind's grid,
    so the checker draws, rotates and transforms them on it."""
    kind = module.meta.get("geoc_build", {}).get("sphere_grid")
    if kind is None or kind == ir.domain.quadrature:
        return ir
    checked = copy.copy(ir)
    checked.domain = dataclasses.replace(ir.domain, quadrature=kind)
    return checked


@within_budget
def check_module(
    module: fx.GraphModule,
    *,
    trials: int = 3,
    seed: int = 0,
    nodes: int = 7,
    graphs: int = DEFAULT_GRAPHS,
    dtype: torch.dtype = torch.float64,
    atol: float | None = None,
    rtol: float | None = None,
    elements: Sequence[GroupElement] | None = None,
    every_value: bool = False,
    random_params: bool = True,
    sources: Mapping[str, str] | None = None,
) -> CheckReport:
    """Check numerically that ``module`` (from :func:`geoc.compile`) is equivariant.

    ``trials`` random (inputs, group element) pairs from ``seed``; ``nodes`` per graph (graphs
    of a batch get slightly different sizes); ``graphs > 1`` passes a ``batch`` vector (fields
    and networks are always checked in batches). The first trial runs the module's own
    parameters; with ``random_params`` every later one runs a copy whose parameters are
    re-drawn from the seed (``verify/params.py``): initial weights can hide a broken law. The
    module runs in ``dtype`` (a converted copy if its parameters are in another).

    Tolerance (``verify/laws.py``): an output passes a trial when its max abs error is at most
    ``1e-12 * max(max|g·f(x)|, 1)`` in float64; ``rtol`` replaces the ``1e-12``, ``atol`` the
    whole bound by a fixed absolute one. ``elements`` replaces the sampled ones (missing
    permutations are the identity).
    ``every_value`` checks every IR value in every trial, not only after an output fails.
    ``sources`` maps span files to their text for the failure excerpt (built-in specs and files
    on disk are found without it). ``budget=`` (:class:`geoc.budget.Budget`) replaces the
    active resource budget: a value whose action matrix would exceed it is a GEO520 before any
    trial runs.
    """
    if elements is None and trials < 1:
        raise ValueError(f"check_module needs at least 1 trial (got {trials}): none checks nothing")
    start = time.perf_counter()
    ir = _inputs_ir(module, module.meta["geoc_ir"])
    if problems := action_budget_problems(ir):
        files = {p.span.file for p in problems if p.span}
        texts = {f: source_text(f, sources or {}) for f in files}
        raise GeoError(problems, {f: t for f, t in texts.items() if t is not None})
    module = _in_dtype(mode_checked(module, ir), dtype)
    rng = np.random.default_rng(seed)
    rtol = exact_rtol(dtype) if rtol is None else rtol
    worst: dict[str, _Worst] = {name: _Worst() for name in ir.outputs}
    labels: list[str] = []
    randomised: list[int] = []
    failure: Failure | None = None
    device = _device_of(module)
    approximate: list[BandLimitedRow] = []
    rules = rules_of(ir)
    measured: tuple[Trial, fx.GraphModule] | None = None  # last general-position trial
    count = len(elements) if elements is not None else trials
    for index in range(count):
        trial_module = module
        if random_params and index > 0:
            trial_module = random_parameters(module, rng)
            randomised.append(index)
        sample = draw_sample(ir, rng, nodes, graphs, dtype, index)
        given = elements[index] if elements is not None else None
        trial = _make_trial(ir, rng, index, sample, given, device)
        if sample.general_position or measured is None:
            measured = trial, trial_module
        labels.append(trial.label)
        devs = _output_errors(trial_module, ir, trial)
        bounds = {n: exact_bound(rtol, d.scale) if atol is None else atol for n, d in devs.items()}
        for name, dev in devs.items():
            worst[name].update(dev, bounds[name])
        broken = next((n for n, dev in devs.items() if not dev.within(bounds[n])), None)
        if failure is None and (broken is not None or every_value):
            tolerance = atol if atol is not None else rtol
            failure = blame(trial_module, ir, trial, tolerance, broken, devs, sources or {})
        if elements is None:  # band-limited rotations, one per trial, with its parameters
            rows = rules.approximate_rows(trial_module, ir, rng, 1, dtype)
            approximate = merge_rows(approximate, rows)
    rows = [
        OutputRow(name, str(port.type), w.dev.error, w.dev.relative, w.passed, w.bound)
        for (name, port), w in zip(ir.outputs.items(), worst.values(), strict=True)
    ]
    shown = _failure_sources(failure, sources or {})
    elapsed = time.perf_counter() - start
    batched = graphs if ir.domain.axis is not None and not ir.domain.is_field else 1
    report = CheckReport(
        ir.name, str(ir.group), dtype, atol, batched, rows, labels, failure, elapsed, shown
    )
    if elements is None:  # and under the declared group, when a part of it is broken
        report.breaking = _measure_breaking(module, ir, rng, nodes, graphs, dtype, rtol)
        report.causality = causality_row(module, ir, rng, nodes, graphs, dtype)
    report.rtol = rtol
    report.random_trials = randomised
    report.exact_law = rules.exact_law(ir)
    report.band_limited = approximate
    manifold = any(node.out_types[0].has_manifold for node in ir.nodes)
    if manifold and measured is not None:  # after trials: inputs known
        kept, kept_module = measured  # no direction at coincident points
        inputs = [kept.inputs, kept.moved]
        report.membership = membership_rows(kept_module, ir, inputs, dtype)
        report.frames = frame_rows(kept_module, ir, inputs, dtype)
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
    """``module`` itself if its floating tensors are in ``dtype``, else a converted copy."""
    state = module.state_dict(keep_vars=True)
    if all(t.dtype == dtype for t in state.values() if t.is_floating_point()):
        return module
    return copy_with(module, lambda name, value: value.to(dtype))


NO_DEVIATION = Deviation(0.0, 0.0)


@dataclass
class _Worst:
    """An output's worst trial: a failing one first, then the largest part of its bound."""

    dev: Deviation = NO_DEVIATION
    bound: float = 0.0
    passed: bool = True
    seen: bool = False

    def update(self, dev: Deviation, bound: float) -> None:
        ok = dev.within(bound)
        failed_first = self.passed and not ok
        larger = ok == self.passed and _ratio(dev, bound) > _ratio(self.dev, self.bound)
        if not self.seen or failed_first or larger:
            self.dev, self.bound, self.seen = dev, bound, True
        self.passed = self.passed and ok


def _ratio(dev: Deviation, bound: float) -> float:
    return math.inf if math.isnan(dev.error) else dev.error / max(bound, 1e-300)


def _measure_breaking(
    module: fx.GraphModule, ir: Graph, rng: np.random.Generator, nodes: int, graphs: int,
    dtype: torch.dtype, rtol: float,
) -> BreakingRow | None:  # fmt: skip
    """Under a declared break: how far the outputs move off their law under random elements
    of the declared group (``verify/breaking.py``)."""
    declared = under_declared_group(ir)
    if declared is None:
        return None
    worst, device = 0.0, _device_of(module)
    for index in range(WITNESS_TRIALS):
        sample = draw_sample(declared, rng, nodes, graphs, dtype, index)
        trial = _make_trial(declared, rng, index, sample, None, device)
        for dev in _output_errors(module, declared, trial).values():
            relative = dev.error / max(dev.scale, 1.0)
            worst = max(worst, relative if math.isfinite(relative) else math.inf)
    rows = tuple(rules_of(declared).approximate_rows(module, declared, rng, 1, dtype))
    return breaking_row(declared, worst, rows, rtol)


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
    return Trial(index, element, inputs, moved, sample.sizes, sample.lattice)


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
        maps.update(_edge_maps(module, ir, trial, maps, before, after))
    return {
        name: value_error(before[name], after[name], port.type, ir.group, trial.element, maps)
        for name, port in ir.outputs.items()
    }


def _edge_maps(
    module: fx.GraphModule,
    ir: Graph,
    trial: Trial,
    maps: Mapping[str, AxisMap],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> dict[str, AxisMap]:
    """The edge correspondence, for outputs over edges: between the built edges the module
    returns with them (``edge_index``, one per output row), else the recorded edge sets."""
    if not ir.builds_edges:
        return {}
    if "edge_index" in before and "edge_index" not in ir.outputs and not ir.domain.cell:
        perm = maps[ir.domain.axis].index if ir.domain.axis in maps else torch.arange(0)
        old_edges, new_edges = before["edge_index"], after["edge_index"]
        edge_map = match_endpoints((*old_edges, None), (*new_edges, None), perm)
        return {} if edge_map is None else {EDGE_AXIS: edge_map}
    old, new = record(module, trial.inputs), record(module, trial.moved)
    edge_map = match_edges(ir, old, new, maps, trial.lattice)  # a changed set: blamed later
    return {} if edge_map is None else {EDGE_AXIS: edge_map}
