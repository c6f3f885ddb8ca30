"""Numeric equivariance of compiled modules: the engine behind ``geoc check``.

Each trial draws random inputs for the model's domain and an element ``g`` of its group, runs
the module on ``x`` and on ``g·x``, and compares ``f(g·x)`` with ``g·f(x)`` output by output,
each by the law its declared type states. When an output breaks its law, both runs are
replayed through an fx interpreter and the first IR node whose value breaks its own law is
named, with its source span (diagnostic ``GEO600``).

    >>> from geoc.backends.torch_fx.verify import check
    >>> check("deepsets", params={"hidden": 16}).passed
    True

Conventions of the transformation ``g·x``:

* A permutation ``p`` of an axis acts by ``x' = x[p]``: new element ``i`` is old ``p[i]``.
* With a batch of graphs the whole node axis is permuted and ``batch`` with it
  (``batch' = batch[p]``), so the graphs end up interleaved; graph numbers stay, so pooled
  values keep their ``[num_graphs]`` order. This also checks that no kernel relies on a
  sorted ``batch``.
* ``edge_index`` is relabelled (``p⁻¹[edge_index]``) and keeps its edge order.
* A value over ``edges`` follows the edge set: given edges keep their order; built edges
  (full, radius, knn, batched or not) are matched by endpoints, new edge ``(s, d)`` with old
  edge ``(p[s], p[d])``, which for the static layouts is the closed form (``e = d*n + s``
  maps to ``p[d]*n + p[s]``, knn ``e = d*k + rank`` to ``p[d]*k + rank``). Masked-out edges
  are ignored, and an edge set that changes under ``g`` is itself a failure.
* Channels transform by :meth:`geoc.groups.Group.channel_action`; values without an axis
  (pooled, ``[C]`` or ``[num_graphs, C]``) only in their channels.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.common.kernels import Edges
from geoc.backends.torch_fx.domains.fields import (
    BandLimitedRow,
    band_limited_rows,
    draw_field_inputs,
    draw_grid_element,
    grid_law,
    has_band_limited_check,
    is_field_type,
)
from geoc.backends.torch_fx.domains.weightspace import (
    draw_neuron_permutation,
    draw_weightspace_inputs,
    is_weightspace,
    move_inputs,
    packed_outputs,
    weightspace_law,
)
from geoc.backends.torch_fx.manifold.verify import (
    MembershipRow,
    draw_value,
    membership_lines,
    membership_rows,
    needs_manifold_draw,
)
from geoc.catalog import BUILTIN_PREFIX, builtin_spec
from geoc.diagnostics import Diagnostic, Span, render
from geoc.domains import EDGE_AXIS, DomainKind, EdgeRule
from geoc.groups import Group, GroupElement, Rotations, random_rotation
from geoc.ir import Graph
from geoc.types import FeatureType

# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class OutputRow:
    """One output's verdict: the largest error over all trials, absolute and relative."""

    name: str
    type: str
    max_error: float
    rel_error: float
    passed: bool


@dataclass(frozen=True)
class Failure:
    """The first IR value that breaks the law of its type (or the edge set, node ``edges``)."""

    node: str
    op: str
    type: str
    span: Span | None
    error: float
    rel_error: float
    element: str  # label of the group element that exposed it
    trial: int
    source_line: str | None = None

    @property
    def location(self) -> str:
        return str(self.span) if self.span else "<unknown>"

    def diagnostic(self) -> Diagnostic:
        """The ``GEO600`` diagnostic, pointing at the value's source span."""
        return Diagnostic(
            "GEO600",
            f"`{self.node}` does not transform as `{self.type}` under {self.element}",
            self.span,
            label=self.type,
            notes=(f"found in trial {self.trial + 1}; every value before it obeys its law",),
            help=f"the lowering of `{self.op}` (or its typing rule) is not equivariant; "
            "`geoc explain GEO600`",
        )


@dataclass
class CheckReport:
    """What :func:`check_module` found; ``render()`` gives the table ``geoc check`` prints."""

    model: str
    group: str
    dtype: torch.dtype
    atol: float
    graphs: int
    outputs: list[OutputRow]
    elements: list[str]  # one label per trial, e.g. "rotation+reflection, translation"
    first_failure: Failure | None
    elapsed: float
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    # Grid domains: what the exact trials moved, and the band-limited rotation rows (sphere).
    exact_law: str = ""
    band_limited: list[BandLimitedRow] = field(default_factory=list)
    membership: list[MembershipRow] = field(default_factory=list)  # manifold-valued values

    @property
    def passed(self) -> bool:
        exact = all(row.passed for row in self.outputs) and self.first_failure is None
        on_manifolds = all(row.passed for row in self.membership)
        return exact and on_manifolds and all(row.passed for row in self.band_limited)

    @property
    def max_error(self) -> float:
        return max((row.max_error for row in self.outputs), default=0.0)

    def render(self) -> str:
        lines = [self._header(), *_table(self.outputs)]
        if self.exact_law:
            lines.append(f"  exact: {self.exact_law}")
        if self.band_limited:
            lines += _band_limited_lines(self.band_limited)
        lines += membership_lines(self.membership)
        if self.passed:
            lines.append(
                f"  every output transforms as declared (max error {self.max_error:.1e} "
                f"< atol {self.atol:.0e}) in {self.elapsed:.2f} s"
            )
            return "\n".join(lines) + "\n"
        lines.append(f"  FAILED (atol {self.atol:.0e})")
        if self.first_failure is not None:
            lines += ["first value that breaks its law:", self._failure_text()]
        return "\n".join(lines) + "\n"

    def _header(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        batch = f", batch of {self.graphs} graphs" if self.graphs > 1 else ""
        parts = _element_parts(self.elements)
        return (
            f"geoc check: {self.model} under {self.group}, {dtype}, "
            f"{len(self.elements)} trials{batch} ({parts})"
        )

    def _failure_text(self) -> str:
        fail = self.first_failure
        assert fail is not None
        head = (
            f"  {fail.node} ({fail.op}) at {fail.location}: max error {fail.error:.1e}, "
            f"relative {fail.rel_error:.1e}"
        )
        return head + "\n" + render(fail.diagnostic(), self.sources).rstrip("\n")


def _band_limited_lines(rows: Sequence[BandLimitedRow]) -> list[str]:
    """The approximate guarantee: rotations of band-limited fields, aliasing included."""
    lines = [
        "  approximate: random rotations of band-limited fields, compared coefficient by "
        "coefficient (aliasing of pointwise non-linearities on the grid):"
    ]
    for row in rows:
        verdict = "ok" if row.passed else "ABOVE TOLERANCE"
        lines.append(
            f"    {row.name}: relative error {row.rel_error:.1e} (tolerance {row.rtol:.0e}) "
            f"{verdict}"
        )
    return lines


def _table(rows: Sequence[OutputRow]) -> list[str]:
    cells = [("output", "type", "max error", "rel error", "status")]
    cells += [
        (r.name, r.type, f"{r.max_error:.1e}", f"{r.rel_error:.1e}", "ok" if r.passed else "FAIL")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  " + "   ".join(map(str.ljust, row, widths)).rstrip() for row in cells]


PART_ORDER = ("rotation", "rotation+reflection", "translation", "permutation", "identity")


def _element_parts(labels: Sequence[str]) -> str:
    """The distinct kinds of transformation used: ``rotation, rotation+reflection, ...``."""
    parts = {p for label in labels for p in label.split(", ")}
    rank = {p: i for i, p in enumerate(PART_ORDER)}
    return ", ".join(sorted(parts, key=lambda p: rank.get(p, len(rank))))


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Sample:
    """One call of the module: keyword inputs, and the lengths of the permutable axes."""

    inputs: dict[str, Any]
    sizes: dict[str, int]


def graph_sizes(nodes: int, graphs: int) -> list[int]:
    """Nodes per graph: ``nodes`` for one graph; around ``nodes`` and unequal for a batch."""
    if graphs == 1:
        return [nodes]
    return [max(2, nodes + g % 3 - 1) for g in range(graphs)]


def draw_sample(
    ir: Graph, rng: np.random.Generator, nodes: int, graphs: int, dtype: torch.dtype
) -> Sample:
    """Random inputs of every declared type, plus ``edge_index`` / ``batch`` as the domain needs."""
    if ir.domain.is_field:
        return Sample(draw_field_inputs(ir, rng, dtype), {})
    if is_weightspace(ir):
        return Sample(*draw_weightspace_inputs(ir, rng, dtype, graphs))
    sizes = graph_sizes(nodes, graphs)
    total = sum(sizes)
    structure: dict[str, Any] = {}
    if ir.domain.edges is EdgeRule.GIVEN:
        structure["edge_index"] = torch.as_tensor(random_edge_index(rng, sizes))
    if graphs > 1 and ir.domain.axis is not None:
        structure["batch"] = torch.repeat_interleave(torch.arange(graphs), torch.tensor(sizes))
        structure["num_graphs"] = graphs
    lengths = {axis: total for axis in _node_axes(ir)}
    if "edge_index" in structure:
        lengths[EDGE_AXIS] = structure["edge_index"].shape[1]
    values = {
        name: _draw_value(ir, rng, name, port.type, lengths, sizes)
        for name, port in ir.inputs.items()
    }
    typed = {name: value.to(dtype) for name, value in values.items()}
    return Sample({**typed, **structure}, {a: n for a, n in lengths.items() if a != EDGE_AXIS})


def _node_axes(ir: Graph) -> set[str]:
    axes = {a for port in ir.inputs.values() for a in port.type.axes} - {EDGE_AXIS}
    return axes | ({ir.domain.axis} if ir.domain.axis else set())


def _draw_value(
    ir: Graph,
    rng: np.random.Generator,
    name: str,
    ftype: FeatureType,
    lengths: Mapping[str, int],
    sizes: Sequence[int],
) -> Tensor:
    if name == ir.positions and ir.domain.kind is DomainKind.POINTCLOUD:
        return torch.as_tensor(stable_positions(ir, rng, sizes))
    missing = [a for a in ftype.axes if a not in lengths]
    if missing:
        raise ValueError(
            f"input `{name}` is over {missing[0]}, whose length the checker cannot set"
        )
    if needs_manifold_draw(ftype):  # points on their manifolds (verify_manifold)
        axes = tuple(lengths[a] for a in ftype.axes)
        return torch.as_tensor(draw_value(ir.group, ftype, rng, axes))
    shape = [lengths[a] for a in ftype.axes] + [ir.group.type_dim(ftype)]
    return torch.as_tensor(rng.normal(size=shape))


def random_edge_index(rng: np.random.Generator, sizes: Sequence[int]) -> np.ndarray:
    """Random directed edges inside each graph, no self loops or duplicates, in shuffled order.

    About a third of each graph's nodes get no incoming edge, on purpose: they must receive 0.
    """
    pairs, offset = [], 0
    for size in sizes:
        lonely = set(rng.choice(size, size=max(1, size // 3), replace=False).tolist())
        for dst in range(size):
            if dst in lonely:
                continue
            others = [s for s in range(size) if s != dst]
            chosen = rng.choice(others, size=rng.integers(1, len(others) + 1), replace=False)
            pairs += [(offset + int(s), offset + dst) for s in chosen]
        offset += size
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return edges[:, rng.permutation(edges.shape[1])]


def stable_positions(
    ir: Graph, rng: np.random.Generator, sizes: Sequence[int], tries: int = 200
) -> np.ndarray:
    """Positions whose edge set survives any isometry: no distance near ``r``, no knn near-ties.

    Radius clouds are scaled so about half the pairs are within ``r``; the positions of each
    graph are redrawn until every distance clears the margins.
    """
    rule, arg, dim = ir.domain.edges, ir.domain.edge_arg, ir.domain.dim or 3
    scale = arg / 2.2 if rule is EdgeRule.RADIUS and arg else 1.0
    clouds = []
    for size in sizes:
        for _ in range(tries):
            cloud = rng.normal(size=(size, dim)) * scale
            if _stable(cloud, rule, arg):
                break
        else:
            raise RuntimeError(f"no stable point cloud of {size} nodes for edges={rule}")
        clouds.append(cloud)
    return np.concatenate(clouds)


def _stable(cloud: np.ndarray, rule: EdgeRule | None, arg: float | None) -> bool:
    dist = np.linalg.norm(cloud[:, None] - cloud[None], axis=-1)
    off_diagonal = dist[~np.eye(len(cloud), dtype=bool)]
    if rule is EdgeRule.RADIUS:
        return bool(np.all(np.abs(off_diagonal - arg) > 1e-3 * arg))
    if rule is EdgeRule.KNN:  # every node's neighbours in a strict order, clearly apart
        ranked = np.sort(dist, axis=1)[:, 1:]
        return bool(np.all(np.diff(ranked, axis=1) > 1e-6)) and bool(np.all(ranked > 1e-6))
    return True


# ---------------------------------------------------------------------------------------------
# Group elements and how they move values


def draw_element(
    group: Group, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    """A random element; under O(n) / E(n) odd trials reflect, so both kinds always occur."""
    element = group.sample(rng, dict(sizes))
    if group.rotations is Rotations.O and group.geometric is not None:
        rotation = random_rotation(rng, group.geometric.n, reflect=trial % 2 == 1)
        element = replace(element, rotation=rotation)
    return replace(element, label=describe(element))


def describe(element: GroupElement) -> str:
    """``"rotation+reflection, translation, permutation"``: what ``element`` does."""
    if element.grid_move is not None:
        return element.grid_move.label
    parts = []
    if element.rotation is not None:
        parts.append("rotation+reflection" if element.det < 0 else "rotation")
    if element.matrix is not None:  # an element of a matrix group (Lorentz(n), S(5), ...)
        parts.append(element.matrix_kind or "group element")
    if element.translation is not None:
        parts.append("translation")
    if any(not np.array_equal(p, np.arange(len(p))) for p in element.permutations.values()):
        parts.append("permutation")
    return ", ".join(parts) or "identity"


@dataclass(frozen=True)
class AxisMap:
    """How ``g`` reindexes one axis: new element ``j`` is old ``index[j]``; only ``valid`` count."""

    index: Tensor
    valid: Tensor | None = None


def transform(
    value: Tensor,
    ftype: FeatureType,
    group: Group,
    element: GroupElement,
    maps: Mapping[str, AxisMap],
) -> Tensor:
    """``g·value`` by the law of ``ftype``: axes reindexed by ``maps``, channels by the group.

    The trailing dimensions are ``(*ftype.axes, channels)``; a leading graph dimension of a
    batched global value is left alone. Fields on a grid move with the element's
    :class:`~geoc.backends.torch_fx.verify_fields.GridMove` (their channels are scalars, or
    `regular` blocks that the grid's rotations permute).
    """
    if is_field_type(ftype):
        return value if element.grid_move is None else element.grid_move.apply(value, ftype)
    first = value.ndim - 1 - len(ftype.axes)
    for i, axis in enumerate(ftype.axes):
        if axis in maps:
            value = value.index_select(first + i, maps[axis].index.to(value.device))
    mat, shift = group.channel_action(ftype, element)
    if value.shape[-1] != len(mat):
        raise ValueError(f"{value.shape[-1]} channels, but `{ftype}` has {len(mat)}")
    like: dict[str, Any] = {"dtype": value.dtype, "device": value.device}
    return value @ torch.as_tensor(mat, **like).T + torch.as_tensor(shift, **like)


@dataclass(frozen=True)
class Deviation:
    """How far a value is from its law: max ``|f(g·x) - g·f(x)|`` and max ``|g·f(x)|``."""

    error: float
    scale: float

    @property
    def relative(self) -> float:
        return self.error / max(self.scale, 1e-300)

    def within(self, atol: float) -> bool:
        return self.error < atol  # False for NaN

    def worse(self, other: Deviation) -> Deviation:
        return other if np.isnan(other.error) or other.error > self.error else self


NOT_ITS_TYPE = Deviation(float("inf"), float("inf"))


def law_error(
    actual: Tensor, expected: Tensor, ftype: FeatureType, maps: Mapping[str, AxisMap]
) -> Deviation:
    """The deviation over the valid entries (masked-out edges do not count); NaN propagates."""
    if actual.shape != expected.shape:
        return NOT_ITS_TYPE
    diff = (actual - expected).abs()
    size = expected.abs()
    first = actual.ndim - 1 - len(ftype.axes)
    for i, axis in enumerate(ftype.axes):
        valid = maps[axis].valid if axis in maps else None
        if valid is not None:
            shape = [1] * actual.ndim
            shape[first + i] = -1
            keep = valid.to(actual.device).reshape(shape)
            diff, size = torch.where(keep, diff, 0.0), torch.where(keep, size, 0.0)
    if diff.numel() == 0:
        return Deviation(0.0, 0.0)
    return Deviation(float(diff.max()), float(size.max()))


def transform_inputs(ir: Graph, sample: Sample, element: GroupElement) -> dict[str, Any]:
    """``g·x`` for every keyword input, ``edge_index`` and ``batch`` included."""
    maps = {a: AxisMap(_perm(element, a, n)) for a, n in sample.sizes.items()}
    inputs = dict(sample.inputs)
    if "edge_index" in inputs:
        index = inputs["edge_index"]
        maps[EDGE_AXIS] = AxisMap(torch.arange(index.shape[1]))  # given edges keep their order
        perm = maps[ir.domain.axis].index if ir.domain.axis in maps else None
        inputs["edge_index"] = index if perm is None else torch.argsort(perm)[index]
    if "batch" in inputs and ir.domain.axis in maps:
        inputs["batch"] = inputs["batch"][maps[ir.domain.axis].index]
    for name, port in ir.inputs.items():
        inputs[name] = transform(inputs[name], port.type, ir.group, element, maps)
    return inputs


def _perm(element: GroupElement, axis: str, n: int) -> Tensor:
    perm = element.permutations.get(axis)
    return torch.arange(n) if perm is None else torch.as_tensor(perm, dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# Edge correspondence: which old edge each new edge is, per edge rule


def _live(edges: Edges) -> Tensor:
    mask = edges[2]
    return torch.ones_like(edges[0], dtype=torch.bool) if mask is None else mask != 0


def same_order(old: Edges, new: Edges, perm: Tensor) -> AxisMap | None:
    """Given edges: ``edge_index`` was relabelled in place, edge ``j`` is still edge ``j``."""
    return AxisMap(torch.arange(new[0].shape[0]), _live(new))


def match_endpoints(old: Edges, new: Edges, perm: Tensor) -> AxisMap | None:
    """Built edges: new edge (s, d) is old edge (perm[s], perm[d]); None if the sets differ."""
    n = max(int(perm.numel()), 1)
    old_live, new_live = _live(old), _live(new)
    perm = perm.to(new[0].device)
    old_ids = old_live.nonzero().squeeze(-1)
    old_keys = old[0][old_ids] * n + old[1][old_ids]
    new_keys = perm[new[0]] * n + perm[new[1]]
    order = torch.argsort(old_keys)
    sorted_keys = old_keys[order]
    at = torch.searchsorted(sorted_keys, new_keys).clamp(max=max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == new_keys if len(sorted_keys) else torch.zeros_like(new_live)
    if not bool((found | ~new_live).all()) or int(new_live.sum()) != len(old_ids):
        return None
    index = old_ids[order][at] if len(sorted_keys) else torch.zeros_like(new[0])
    return AxisMap(index, new_live)


EDGE_MATCHERS: dict[EdgeRule, Callable[[Edges, Edges, Tensor], AxisMap | None]] = {
    EdgeRule.GIVEN: same_order,
    EdgeRule.FULL: match_endpoints,
    EdgeRule.RADIUS: match_endpoints,
    EdgeRule.KNN: match_endpoints,
}


# ---------------------------------------------------------------------------------------------
# Running a module, and recording every IR value on the way


class ValueRecorder(fx.Interpreter):
    """Runs a module node by node, keeping the value of every IR node and the edge set."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.values: dict[str, Any] = {}
        self.edges: Edges | None = None

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        owner = n.meta.get("geoc_node")
        if owner is not None:
            self.values[owner] = result
        if n.op == "call_function" and n.name == "edges":  # the lowering's name for the edge set
            self.edges = result
        return result


def record(module: fx.GraphModule, inputs: Mapping[str, Any]) -> ValueRecorder:
    """Replay ``module`` on ``inputs`` through the recorder (placeholders in graph order)."""
    placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
    args = [inputs.get(p.target, p.args[0] if p.args else None) for p in placeholders]
    recorder = ValueRecorder(module)
    with torch.no_grad():
        recorder.run(*args)
    return recorder


def _edge_map(
    ir: Graph, old: ValueRecorder, new: ValueRecorder, maps: Mapping[str, AxisMap]
) -> AxisMap | None:
    """Which old edge each new edge is (None: the edge set changed under ``g``)."""
    if old.edges is None or new.edges is None:
        raise RuntimeError("no fx node named `edges` holds the edge set: the lowering changed")
    perm = maps[ir.domain.axis].index if ir.domain.axis in maps else torch.arange(0)
    return EDGE_MATCHERS[ir.domain.edges](old.edges, new.edges, perm)


# ---------------------------------------------------------------------------------------------
# Blame: the first IR value that breaks its law


@dataclass(frozen=True)
class Trial:
    """One trial: its element, the inputs before and after it, the permutable axes' lengths."""

    index: int
    element: GroupElement
    inputs: dict[str, Any]
    moved: dict[str, Any]
    sizes: dict[str, int]

    def axis_maps(self) -> dict[str, AxisMap]:
        return {a: AxisMap(_perm(self.element, a, n)) for a, n in self.sizes.items()}


def first_broken_value(
    module: fx.GraphModule, ir: Graph, trial: Trial, atol: float, sources: Mapping[str, str]
) -> Failure | None:
    """Replay both runs and check every IR value, in evaluation order, against its law.

    A value fails when its error exceeds ``atol`` times its size (at least 1), so that large
    intermediate values are not blamed for rounding.
    """
    old, new = record(module, trial.inputs), record(module, trial.moved)
    maps = trial.axis_maps()
    if ir.domain.edges is not None:
        edge_map = _edge_map(ir, old, new, maps)
        if edge_map is None:
            return _edge_failure(ir, trial, sources)
        maps[EDGE_AXIS] = edge_map
    for node in ir.nodes:
        before, after = old.values.get(node.id), new.values.get(node.id)
        if not (isinstance(before, Tensor) and isinstance(after, Tensor)):
            continue
        ftype = node.out_types[0]
        dev = _value_error(before, after, ftype, ir.group, trial.element, maps)
        if not dev.within(atol * max(1.0, dev.scale)):
            return _failure(node.id, node.op, str(ftype), node.span, dev, trial, sources)
    return None


def _value_error(
    before: Tensor,
    after: Tensor,
    ftype: FeatureType,
    group: Group,
    element: GroupElement,
    maps: Mapping[str, AxisMap],
) -> Deviation:
    try:
        expected = transform(before, ftype, group, element, maps)
    except (ValueError, IndexError, RuntimeError):  # wrong shape: the value is not of its type
        return NOT_ITS_TYPE
    return law_error(after, expected, ftype, maps)


def _failure(
    node: str,
    op: str,
    ftype: str,
    span: Span | None,
    dev: Deviation,
    trial: Trial,
    sources: Mapping[str, str],
) -> Failure:
    line = source_line(span, sources)
    label, index = describe(trial.element), trial.index
    return Failure(node, op, ftype, span, dev.error, dev.relative, label, index, line)


def _edge_failure(ir: Graph, trial: Trial, sources: Mapping[str, str]) -> Failure:
    rule = ir.domain.edges.value if ir.domain.edges else "no"
    return _failure("edges", f"{rule} edges", "edge set", ir.span, NOT_ITS_TYPE, trial, sources)


def source_text(file: str, sources: Mapping[str, str]) -> str | None:
    """The text of a spec file: given, a built-in spec (``<builtin>/egnn.geo``), or on disk."""
    if file in sources:
        return sources[file]
    if file.startswith(BUILTIN_PREFIX + "/"):
        spec = builtin_spec(file.removeprefix(BUILTIN_PREFIX + "/"))
        return spec.read_text() if spec else None
    path = Path(file)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def source_line(span: Span | None, sources: Mapping[str, str]) -> str | None:
    text = source_text(span.file, sources) if span else None
    lines = text.splitlines() if text else []
    return lines[span.line - 1].strip() if span and 0 < span.line <= len(lines) else None


# ---------------------------------------------------------------------------------------------
# The checks


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
    start = time.perf_counter()
    ir: Graph = module.meta["geoc_ir"]
    module = _in_dtype(module, dtype)
    rng = np.random.default_rng(seed)
    worst = {name: Deviation(0.0, 0.0) for name in ir.outputs}
    labels: list[str] = []
    failure: Failure | None = None
    device = _device_of(module)
    for index in range(len(elements) if elements is not None else trials):
        sample = draw_sample(ir, rng, nodes, graphs, dtype)
        given = elements[index] if elements is not None else None
        trial = _make_trial(ir, rng, index, sample, given, device)
        labels.append(describe(trial.element))
        devs = _output_errors(module, ir, trial)
        worst = {name: worst[name].worse(devs[name]) for name in worst}
        broken = not all(d.within(atol) for d in devs.values())
        if failure is None and (broken or every_value):
            failure = _blame(module, ir, trial, atol, devs, sources or {})
    rows = [
        OutputRow(name, str(port.type), dev.error, dev.relative, dev.within(atol))
        for (name, port), dev in zip(ir.outputs.items(), worst.values(), strict=True)
    ]
    shown = _failure_sources(failure, sources or {})
    sphere_rotations = has_band_limited_check(ir) and elements is None
    band_limited = band_limited_rows(module, ir, rng, trials, dtype) if sphere_rotations else []
    elapsed = time.perf_counter() - start
    batched = graphs if ir.domain.axis is not None and not ir.domain.is_field else 1
    report = CheckReport(
        ir.name, str(ir.group), dtype, atol, batched, rows, labels, failure, elapsed, shown
    )
    report.exact_law = _exact_law(ir)
    report.band_limited = band_limited
    if any(node.out_types[0].has_manifold for node in ir.nodes):  # after trials: inputs known
        report.membership = membership_rows(module, ir, [trial.inputs, trial.moved], dtype)
    return report


def _exact_law(ir: Graph) -> str:
    """What the exact trials of a grid domain or a weight space moved (empty elsewhere)."""
    if is_weightspace(ir):
        return weightspace_law(ir)
    if not ir.domain.is_field or not ir.group.factors:
        return ""
    if grid_law(ir):
        return grid_law(ir)
    if ir.domain.kind is DomainKind.TORUS:
        grid = "x".join(map(str, ir.domain.grid))
        return f"cyclic shifts of the {grid} grid permute its points; checked to atol"
    return (
        f"rotations about the pole by multiples of 2π/{ir.domain.grid[1]} permute the grid "
        "points; checked to atol"
    )


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
    recurses forever (see the report of issue 3).
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
    if element is None and ir.domain.is_field:
        element = draw_grid_element(ir, rng)
    if element is None and is_weightspace(ir):
        element = draw_neuron_permutation(ir, rng)
    if element is None:
        element = draw_element(ir.group, rng, sample.sizes, index)
    if is_weightspace(ir):  # weight-space inputs are layer lists: moved layer by layer
        moved = move_inputs(ir, sample.inputs, element)
    else:
        moved = transform_inputs(ir, sample, element)
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
    if is_weightspace(ir):  # outputs over `weights` come as layer lists
        before, after = packed_outputs(ir, before), packed_outputs(ir, after)
    maps = trial.axis_maps()
    if any(EDGE_AXIS in port.type.axes for port in ir.outputs.values()):
        maps.update(_edge_maps(module, ir, trial, maps))
    return {
        name: _value_error(before[name], after[name], port.type, ir.group, trial.element, maps)
        for name, port in ir.outputs.items()
    }


def _edge_maps(
    module: fx.GraphModule, ir: Graph, trial: Trial, maps: Mapping[str, AxisMap]
) -> dict[str, AxisMap]:
    """The edge correspondence, for outputs over edges (needs the recorded edge sets)."""
    if ir.domain.edges is None:
        return {}
    old, new = record(module, trial.inputs), record(module, trial.moved)
    edge_map = _edge_map(ir, old, new, maps)  # a changed edge set is blamed afterwards
    return {} if edge_map is None else {EDGE_AXIS: edge_map}


def _blame(
    module: fx.GraphModule,
    ir: Graph,
    trial: Trial,
    atol: float,
    devs: Mapping[str, Deviation],
    sources: Mapping[str, str],
) -> Failure | None:
    """The first broken value; failing that (rounding only at the end), the failing output."""
    found = first_broken_value(module, ir, trial, atol, sources)
    name = next((k for k, dev in devs.items() if not dev.within(atol)), None)
    if found is not None or name is None:
        return found
    port = ir.outputs[name]
    node = ir.node(port.value.node)
    return _failure(node.id, node.op, str(port.type), node.span, devs[name], trial, sources)


__all__ = [
    "EDGE_MATCHERS",
    "AxisMap",
    "CheckReport",
    "Deviation",
    "Failure",
    "OutputRow",
    "Sample",
    "Trial",
    "ValueRecorder",
    "check",
    "check_module",
    "describe",
    "draw_element",
    "draw_sample",
    "first_broken_value",
    "law_error",
    "random_edge_index",
    "record",
    "stable_positions",
    "transform",
    "transform_inputs",
]
