"""Lower the typed IR to a ``torch.fx.GraphModule``.

The module's ``forward`` takes the model's inputs by name (plus ``edge_index`` for a
``graph(nodes)`` domain and optional ``batch`` / ``num_graphs`` for many graphs in one call)
and returns a dict of outputs. Parameters are named after the IR node that owns
them (``layers.2.egnn_layer.m.0.weight``) and initialised from ``seed`` alone. Every fx node
that computes an IR value carries ``meta["geoc_node"]``, which the numeric checker uses to
find the first value that breaks its transformation law.
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import fx
from torch.fx import graph as fx_graph

if TYPE_CHECKING:
    from geoc.backends.torch_fx.domains import DomainRules

from geoc import budget
from geoc.backends.torch_fx import initialise
from geoc.backends.torch_fx.common import kernels as rt
from geoc.backends.torch_fx.spectral.plan import check_sphere_grid
from geoc.backends.torch_fx.validate import emit_checks
from geoc.budget import MAX_SEED
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import EDGE_AXIS
from geoc.domains.axes import edge_ends
from geoc.domains.grid import is_field
from geoc.initialisers import UNIFORM, Initialiser
from geoc.ir import Graph, Node, Port, ValueRef
from geoc.ops import lookup
from geoc.types import FeatureType

Lowering = Callable[["LowerCtx", Node, list[fx.Node]], fx.Node]
LOWERINGS: dict[str, Lowering] = {}


def load_lowerings() -> dict[str, Lowering]:
    """Every family's lowering rules: importing ``<family>/lower.py`` registers them."""
    for rules in sorted(Path(__file__).parent.glob("*/lower.py")):
        importlib.import_module(f"{__package__}.{rules.parent.name}.lower")
    return LOWERINGS


def lowering(*ops: str) -> Callable[[Lowering], Lowering]:
    """Register a function as the lowering rule of ``ops``."""

    def register(fn: Lowering) -> Lowering:
        for op in ops:
            assert op not in LOWERINGS, f"lowering of {op} registered twice"
            LOWERINGS[op] = fn
        return fn

    return register


@dataclass
class LowerCtx:
    """The fx graph under construction and what lowering rules may ask of it."""

    ir: Graph
    seed: int
    tp_algorithm: str = "auto"  # tp_conv lowering where the spec says `auto`: auto | cg | so2
    # The dtype the module is compiled for: constant tables are built in it, not rounded
    # through float32 first (None: torch's default dtype).
    dtype: torch.dtype | None = None
    # Check the inputs at every call (validate.py): required inputs then default to None, so a
    # missing one is refused by name (GEO610) rather than by Python's TypeError.
    validate: bool = True
    # A point cloud takes its neighbour list as inputs (``edge_index``, and ``edge_shift`` under
    # a cell) instead of building it: for exports whose graph must not search (potential.py).
    given_edges: bool = False
    # The kind of grid a sphere model's inputs are on (``equiangular`` | ``legendre_gauss``;
    # None: the spec's); their size is the inputs' own (spectral/sphere_kernels.py).
    sphere_grid: str | None = None
    fx: fx.Graph = field(default_factory=fx.Graph)
    # Parameters are installed straight into the module returned, so nothing is copied.
    root: fx.GraphModule = field(
        default_factory=lambda: fx.GraphModule(torch.nn.Module(), fx.Graph())
    )
    values: dict[ValueRef, fx.Node] = field(default_factory=dict)
    inputs: dict[str, fx.Node] = field(default_factory=dict)
    lengths: dict[str, fx.Node] = field(default_factory=dict)
    batch: fx.Node | None = None
    num_graphs: fx.Node | None = None
    edges: fx.Node | None = None
    edge_parts: dict[tuple[int, str], fx.Node] = field(default_factory=dict)
    # The primary edges compressed by destination and by source, built once for every sparse
    # product over them (rewritten/csr_kernels.py).
    edge_csr: fx.Node | None = None
    # A model over several axes (domains/axes.py): the edge sets between axes by name, and the
    # graph of each element of every further node axis (its `batch_<axis>` input, or None).
    edge_sets: dict[str, fx.Node] = field(default_factory=dict)
    axis_batches: dict[str, fx.Node | None] = field(default_factory=dict)
    # Each sampled axis (domains/axes.py): the indices of its points in its parent axis, and
    # their positions (a sampled axis is a point cloud, but no input gives its positions).
    samples: dict[str, fx.Node] = field(default_factory=dict)
    sample_positions: dict[str, fx.Node] = field(default_factory=dict)
    # Under a periodic cell: each edge's image offset ``shift @ cell`` ([E, 3]), which a point
    # gathered at ``src`` subtracts (None without a cell).
    edge_offsets: fx.Node | None = None
    # An axis whose inputs carry padding (`weightspace(padded=true)`): 1 on the true entries.
    masks: dict[str, fx.Node] = field(default_factory=dict)
    # Each parameter's initialiser as written (``xavier(gain=0.001)``), by attribute path:
    # kept in ``module.meta["geoc_initialisers"]`` and an exported manifest.
    initialisers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(_checked_seed(self.seed))
        name = _py_name(self.ir.name)  # the class name users see
        self.root = fx.GraphModule(torch.nn.Module(), fx.Graph(), class_name=name)

    # The IR node being lowered: its rule builds what is equivariant under the group the node
    # was typed under (the declared group where it reads no broken value).
    node_id: str | None = None

    @property
    def group(self):
        return self.ir.group_of(self.node_id) if self.node_id else self.ir.group

    def call(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> fx.Node:
        node = self.fx.call_function(fn, tuple(args))
        if name:
            node._rename(_py_name(name))
        return node

    def method(self, method: str, *args: Any) -> fx.Node:
        return self.fx.call_method(method, tuple(args))

    def _attr(self, name: str, value: torch.Tensor, parameter: bool) -> fx.Node:
        """Install ``value`` under ``name`` made a safe attribute path (the fx node's
        ``target`` is the name it got)."""
        path = attribute_path(name)
        if _has_attribute(self.root, path):  # `training` and `training_` both in one scope
            raise GeoError(
                Diagnostic(
                    "GEO117",
                    f"two parameters of the compiled module would be called `{path}`",
                    help="rename one of the values whose names differ by a trailing `_`",
                )
            )
        rt.install(self.root, path, value.contiguous(), parameter)
        return self.fx.get_attr(path)

    def param(
        self,
        name: str,
        shape: tuple[int, ...],
        fan_in: int,
        init: Initialiser = UNIFORM,
        fan_out: int | None = None,
    ) -> fx.Node:
        """A trainable tensor drawn by ``init`` (default: uniform in ±1/sqrt(fan_in),
        PyTorch's nn.Linear default) with the block's ``fan_in`` and ``fan_out`` (default:
        torch.nn.init's, the rows times the trailing dimensions), from the seeded generator
        (initialise.py)."""
        shown = " x ".join(f"{n:,}" for n in shape)
        budget.require_bytes(f"the parameter `{name}` ({shown} float32)", 4 * math.prod(shape))
        fan_out = _fan_out(shape) if fan_out is None else fan_out
        value = initialise.draw(init, shape, fan_in, fan_out, self.generator)
        node = self._attr(name, value, parameter=True)
        self.initialisers[node.target] = str(init)  # type: ignore[index]
        return node

    def constant_param(self, name: str, value: torch.Tensor) -> fx.Node:
        """A trainable tensor with a fixed initial value (a norm's scale 1, shift 0)."""
        return self._attr(name, value, parameter=True)

    def required_input(self, name: str) -> fx.Node:
        """A placeholder every call must give (None by default when validated: refused by
        name at the top of the graph)."""
        if self.validate:
            return self.fx.placeholder(name, default_value=None)
        return self.fx.placeholder(name)

    def buffer(self, name: str, value: torch.Tensor) -> fx.Node:
        """A constant tensor (index tables, coefficients) that moves with the module."""
        return self._attr(name, value, parameter=False)

    def index_for(self, axis: str) -> fx.Node | None:
        """The graph of each element along ``axis`` (None without a ``batch``): an edge's is
        its ``dst``'s."""
        if axis == EDGE_AXIS:
            return self.call(rt.edge_batch, self.edges, self.batch)
        if axis in self.edge_sets:
            dst = edge_ends(self.ir.domains, axis)[1]  # type: ignore[index]
            return self.call(rt.edge_batch, self.edge_sets[axis], self.index_for(dst))
        return self.axis_batches.get(axis, self.batch)

    def edges_of(self, name: str) -> fx.Node:
        """The edge set ``name``: the primary domain's ``edges`` or a declared one."""
        return self.edges if name == EDGE_AXIS else self.edge_sets[name]  # type: ignore[return-value]

    def edge_part(self, index: int, name: str = EDGE_AXIS) -> fx.Node:
        """``src`` (0), ``dst`` (1) or ``mask`` (2) of the edge set ``name``, read once."""
        if (index, name) not in self.edge_parts:
            part = ("src", "dst", "mask")[index]
            label = f"edge_{part}" if name == EDGE_AXIS else f"{name}_{part}"
            edges = self.edges_of(name)
            self.edge_parts[index, name] = self.call(operator.getitem, edges, index, name=label)
        return self.edge_parts[index, name]

    def edge_mask(self, axis: str) -> fx.Node | None:
        """The mask of the edge set ``axis`` (None where ``axis`` is no edge set)."""
        return self.edge_part(2, axis) if edge_ends(self.ir.domains, axis) else None

    def length(self, axis: str) -> fx.Node:
        return self.lengths[axis]

    def align(
        self,
        args: list[fx.Node],
        types: list[FeatureType],
        axes: tuple[str, ...],
        channel_dim: int = -1,
    ) -> list[fx.Node]:
        """Global operands as values over ``axes`` (the rule of ``geoc.ops.core.joint_axes``),
        laid out by the domain, never by tensor broadcasting: gathered by graph along a node or
        edge axis, or given size-1 grid (or weight) dimensions where each sample leads its
        values (``channel_dim``: where the channels of those values are)."""
        placed = [a for a, t in zip(args, types, strict=True) if t.axes]
        if not axes or len(placed) == len(args):
            return args
        if _domain_rules(self).leading_batch:
            like = placed[0]
            return [
                a if t.axes else self.call(rt.broadcast_batched, a, like, channel_dim)
                for a, t in zip(args, types, strict=True)
            ]
        axis = axes[0]
        return [
            self.call(rt.broadcast, a, self.index_for(axis), self.length(axis)) if not t.axes else a
            for a, t in zip(args, types, strict=True)
        ]

    def in_types(self, node: Node) -> list[FeatureType]:
        return [self.ir.type_of(r) for r in node.inputs]


def _fan_out(shape: tuple[int, ...]) -> int:
    """``torch.nn.init``'s fan-out: the rows times the receptive field (trailing dimensions)."""
    return shape[0] * math.prod(shape[2:]) if shape else 1


def _checked_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GeoError(
            Diagnostic(
                "GEO191",
                f"seed {seed!r} is not a whole number from 0 to {MAX_SEED}",
                help="give `--seed` (or `seed=`) a whole number in that range",
            )
        )
    return seed


def _py_name(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in text)
    cleaned = cleaned if not cleaned[:1].isdigit() else f"v_{cleaned}"
    return f"{cleaned}_" if keyword.iskeyword(cleaned) else cleaned


#: Names a part of a parameter path may not have: what ``nn.Module`` and ``fx.GraphModule``
#: already define (``forward``, ``training``, ``graph``, ``_parameters``, ...).
_MODULE_NAMES = frozenset(dir(fx.GraphModule)) | frozenset(
    vars(fx.GraphModule(torch.nn.Module(), fx.Graph()))
)


def attribute_path(name: str) -> str:
    """``name`` (an IR node id and a suffix, ``layer.return.linear.weight``) as a dotted module
    attribute path that generated Python can spell and that shadows nothing: a part that is a
    Python keyword (``return``, the result of a block) or a name modules already have gets a
    trailing ``_``; numbers (``layers.2``) stay, fx spells them ``getattr(m, "2")``."""
    return ".".join(_attribute(part) for part in name.split("."))


def _attribute(part: str) -> str:
    if part.isdigit():
        return part
    part = _py_name(part)
    while part in _MODULE_NAMES:
        part += "_"
    return part


def _has_attribute(module: torch.nn.Module, path: str) -> bool:
    for part in path.split("."):
        if not hasattr(module, part):
            return False
        module = getattr(module, part)
    return True


def lower(
    ir: Graph,
    seed: int = 0,
    tp_algorithm: str = "auto",
    dtype: torch.dtype | None = None,
    validate: bool = True,
    given_edges: bool = False,
    sphere_grid: str | None = None,
) -> fx.GraphModule:
    """The fx GraphModule computing ``ir``; raises GEO501 for an operator without lowering.

    ``validate``: check the inputs at every call (``validate.py``, docs/validation.md).
    ``given_edges``: a point cloud takes the edges its rule would build as inputs.
    ``sphere_grid``: the kind of grid a sphere model's inputs are on (docs/spectral.md)."""
    load_lowerings()
    missing = sorted({n.op for n in ir.nodes if n.op != "input" and n.op not in LOWERINGS})
    if missing:
        node = next(n for n in ir.nodes if n.op == missing[0])
        raise GeoError(
            Diagnostic(
                "GEO501",
                f"operator `{missing[0]}` has no torch.fx lowering yet",
                node.span,
                label="not lowered",
                help="this operator type-checks but cannot run yet; see the issue tracker",
            )
        )
    check_sphere_grid(ir, sphere_grid)
    ctx = LowerCtx(ir, seed, tp_algorithm, dtype=dtype, validate=validate, given_edges=given_edges)
    ctx.sphere_grid = sphere_grid
    _placeholders(ctx)
    _check_input_names(ctx)
    for node in ir.nodes:
        if node.op != "input":
            try:
                _lower_node(ctx, node)
            except budget.BudgetExceeded as err:  # sized before it was allocated
                raise GeoError(
                    Diagnostic("GEO520", str(err), node.span, help=budget.RAISE_HELP)
                ) from None
    outputs = {name: _output_value(ctx, port) for name, port in ir.outputs.items()}
    extra = _domain_rules(ctx).extra_outputs(ctx).items()
    ctx.fx.output({**outputs, **{name: v for name, v in extra if name not in outputs}})
    if validate:
        emit_checks(ctx)
    from geoc.backends.torch_fx.domains.axes import prune_unread_edge_sets  # imports this module

    prune_unread_edge_sets(ctx)
    module = ctx.root
    module.graph = ctx.fx  # generates and compiles forward() once
    module.graph.lint()
    module.meta["geoc_validate"] = validate
    module.meta["geoc_tp_algorithm"] = tp_algorithm  # a twin lowering gets the same parameters
    module.meta["geoc_initialisers"] = ctx.initialisers
    module.meta["geoc_symmetry"] = symmetry_meta(ir)
    return module


def symmetry_meta(ir: Graph) -> dict[str, Any]:
    """The group the module was proved equivariant under, the group the spec declared, and
    each declared break (docs/language.md "Declared symmetry breaking")."""
    return {
        "verified": str(ir.group),
        "declared": str(ir.declared or ir.group),
        "broken": [b.to_json() for b in ir.broken],
        "text": ir.symmetry,
    }


def _lower_node(ctx: LowerCtx, node: Node) -> None:
    """One node, its rule seeing the group the node was typed under as ``ctx.group``."""
    ctx.node_id = node.id
    try:
        _lower_in_group(ctx, node)
    finally:
        ctx.node_id = None


def _lower_in_group(ctx: LowerCtx, node: Node) -> None:
    """Rules see fields channel-last, ``[batch, *grid, channels]``, as they see values over an
    axis, unless the operator's traits say its rule takes them channel-first as they come."""
    args = [ctx.values[r] for r in node.inputs]
    types = ctx.in_types(node)
    fields = [is_field(t) for t in types]
    if not any(fields) or _channel_first(ctx, node, types, all(fields)):
        result = LOWERINGS[node.op](ctx, node, args)
    else:  # see fields channel-last for this rule, and put the channels back after it
        args = [
            ctx.method("movedim", a, 1, -1) if f else a for a, f in zip(args, fields, strict=True)
        ]
        result = LOWERINGS[node.op](ctx, node, args)
        if is_field(node.out_types[0]):
            result = ctx.method("movedim", result, -1, 1)
    result.meta["geoc_node"] = node.id
    if result.op == "call_function":  # name the value after the spec in the generated code
        result._rename(_py_name(node.id))
    ctx.values[ValueRef(node=node.id)] = result


def _channel_first(ctx: LowerCtx, node: Node, types: list[FeatureType], all_fields: bool) -> bool:
    """Whether ``node``'s rule takes its fields channel-first: a channel-first rule, or an
    elementwise one on fields only; not where this call maps the last axis after all."""
    traits = lookup(node.op).traits
    native = traits.channel_first or (traits.elementwise and all_fields)
    last_axis = traits.channel_last_when
    return native and not (last_axis and last_axis(ctx.group, types, node.out_types[0]))


def _placeholders(ctx: LowerCtx) -> None:
    for name, port in ctx.ir.inputs.items():
        node = ctx.required_input(name)
        node.meta["geoc_node"] = port.value.node
        ctx.inputs[name] = node
        ctx.values[port.value] = node
    _domain_rules(ctx).lower_inputs(ctx)  # edges, batch vectors, network batches, ...


#: Names the generated ``forward`` reads besides its arguments: Python's keywords and
#: builtins, the globals of fx's code (``torch``, ``inf``, ...), ``self`` and the runtime
#: modules of an exported folder (``rt``, ``rt_o3``, ...). An input with one of them as name
#: would shadow it (or not parse).
_RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(dir(builtins))
    | frozenset(fx_graph._custom_builtins)
    | {"self", "rt"}
)


def _check_input_names(ctx: LowerCtx) -> None:
    """GEO117 for an input the module cannot take as a keyword argument: a reserved name, or
    one of the extra arguments of the domain (``batch``, ``edge_index``, ``num_graphs``)."""
    targets = [node.target for node in ctx.fx.nodes if node.op == "placeholder"]
    for name, port in ctx.ir.inputs.items():
        if targets.count(name) > 1:
            why = "the compiled module already takes an argument of that name"
        elif keyword.iskeyword(name):
            why = "it is a Python keyword"
        elif name in _RESERVED or name.startswith("rt_"):
            why = "the generated code uses that name"
        else:
            continue
        raise GeoError(
            Diagnostic(
                "GEO117",
                f"input `{name}` cannot be an argument of the compiled module: {why}",
                port.span,
                label="reserved name",
                help="rename the input",
            )
        )


def _output_value(ctx: LowerCtx, port: Port) -> fx.Node:
    """The output as the domain lays it out (e.g. per-layer lists on a weight space)."""
    return _domain_rules(ctx).lower_output(ctx, port)


def _domain_rules(ctx: LowerCtx) -> DomainRules:
    # Imported here: the domains' rules call into the families' lowerings, which import this.
    from geoc.backends.torch_fx.domains import rules_of

    return rules_of(ctx.ir)
