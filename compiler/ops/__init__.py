"""The operator registry: one :class:`OpDef` per operator, defined once per family module.

An operator's definition holds its **signature** (which arguments are tensors and which are
compile-time attributes, with defaults), its **typing rule** (input types and attributes to
output types; shape and representation errors are ``GEO3xx``) and its **equivariance
contract** (does the operator commute with the model's group on these types; violations are
``GEO4xx``). The backend keeps its own table of lowerings keyed by the same names.

    >>> from geoc.ops import REGISTRY
    >>> REGISTRY["mlp"].family
    'core'
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain
from geoc.domains.axes import edge_ends
from geoc.groups import Group, UnsupportedAtom
from geoc.ops.traits import PLAIN, Traits, preset
from geoc.types import FeatureType

REQUIRED = object()  # marks a parameter without a default


class ArgKind(str, enum.Enum):
    TENSOR = "tensor"
    TENSORS = "tensors"  # variadic: every remaining positional argument is a tensor
    ATTR = "attr"


class AttrKind(str, enum.Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    SYMBOL = "symbol"  # a bare name such as `silu`, `edges`, `nodes`
    TYPE = "type"  # a feature type such as `hidden x scalar`
    INT_LIST = "list[int]"
    INIT = "initialiser"  # `xavier(gain=0.001)`, `zeros` (geoc.initialisers)
    BIAS_INIT = "bias initialiser"  # an initialiser that may start a bias vector
    ANY = "any"


@dataclass(frozen=True)
class Param:
    name: str
    kind: ArgKind = ArgKind.TENSOR
    attr: AttrKind | None = None
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()  # allowed symbols
    # One value for every layer of a multi-layer operator, or a list with one per layer.
    per_layer: bool = False
    # Kept in the IR only where the spec writes it: the IR (and its golden files) of specs
    # written before the attribute existed stays as it was; readers use ``default``.
    written_only: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class OpContext:
    """What a typing rule or contract may look at besides the types: the model's group and
    domain, and where the call and each tensor argument stand in the source. ``domain`` is the
    primary domain; ``domains`` every domain of a model over several axes (() means just
    ``domain``): rules that need an edge set ask :meth:`edge_ends`."""

    op: str
    group: Group
    domain: Domain
    span: Span | None = None
    arg_spans: tuple[Span | None, ...] = ()
    # Where each attribute given by keyword or position was written (by name).
    attr_spans: tuple[tuple[str, Span], ...] = ()
    domains: tuple[Domain, ...] = ()
    # Under a declared break, the help's suggestion for a call typed under the declared group:
    # name the undeclared values it reads after `by` ("" : the group's own suggestion).
    breaks_fix: str = ""

    def breaks_help(self, translations: bool = False) -> str:
        """The help's end for a model that reads absolute coordinates on purpose."""
        return self.breaks_fix or self.group.breaks_help(translations)

    def edge_ends(self, name: str) -> tuple[str, str] | None:
        """The (src, dst) axes of the edge set ``name`` (the primary's is ``edges``)."""
        return edge_ends(self.domains or (self.domain,), name)

    def arg_span(self, index: int) -> Span | None:
        if index < len(self.arg_spans) and self.arg_spans[index] is not None:
            return self.arg_spans[index]
        return self.span

    def attr_span(self, name: str) -> Span | None:
        return dict(self.attr_spans).get(name, self.span)

    def error(
        self,
        code: str,
        message: str,
        *,
        arg: int | None = None,
        label: str = "",
        help: str = "",
        attr: str | None = None,
    ) -> GeoError:
        span = self.attr_span(attr) if attr else self.span if arg is None else self.arg_span(arg)
        return GeoError(Diagnostic(code, message, span, label=label, help=help))

    def diagnostic(
        self, code: str, message: str, *, arg: int | None = None, label: str = "", help: str = ""
    ) -> Diagnostic:
        span = self.span if arg is None else self.arg_span(arg)
        return Diagnostic(code, message, span, label=label, help=help)


TypeRule = Callable[[OpContext, Sequence[FeatureType], dict[str, Any]], tuple[FeatureType, ...]]
Contract = Callable[[OpContext, Sequence[FeatureType], dict[str, Any]], list[Diagnostic]]


def _no_violations(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    return []


def _untyped(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> tuple[FeatureType, ...]:
    raise AssertionError(f"operator {ctx.op} has no typing rule")


@dataclass(frozen=True)
class OpDef:
    """An operator: its signature, typing rule, equivariance contract, traits and the one-line
    doc that docs/operators.md shows."""

    name: str
    family: str
    params: tuple[Param, ...]
    traits: Traits
    doc: str
    infer: TypeRule = _untyped
    contract: Contract = _no_violations
    syntax: str = ""  # how a call made from syntax is written (`+`, `x[src]`); "" if by name
    # Written only by the optimiser's rewrites (geoc.optimize), never by a spec.
    internal: bool = False

    @property
    def surface(self) -> bool:
        """Callable by name from .geo (False for the operators made from syntax or rewrites)."""
        return not self.syntax and not self.internal

    @property
    def tensor_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind is not ArgKind.ATTR)

    @property
    def attr_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind is ArgKind.ATTR)


REGISTRY: dict[str, OpDef] = {}


def define(
    name: str,
    family: str,
    params: Sequence[Param],
    traits: Traits,
    doc: str,
    syntax: str = "",
    internal: bool = False,
) -> str:
    """Register an operator; its rules follow right below it (:func:`typing_rule`,
    :func:`contract`). Returns its name. ``internal``: only rewrites write it."""
    assert name not in REGISTRY, f"operator {name} registered twice"
    REGISTRY[name] = OpDef(
        name, family, tuple(params), traits, doc, syntax=syntax, internal=internal
    )
    return name


def _attach(names: Sequence[str], **rule: Any) -> None:
    for name in names:
        REGISTRY[name] = dataclasses.replace(REGISTRY[name], **rule)


def typing_rule(*names: str) -> Callable[[TypeRule], TypeRule]:
    """Decorator: the typing rule of the operators ``names`` (defined just above)."""

    def attach(rule: TypeRule) -> TypeRule:
        _attach(names, infer=rule)
        return rule

    return attach


def contract(*names: str) -> Callable[[Contract], Contract]:
    """Decorator: the equivariance contract of the operators ``names``."""

    def attach(rule: Contract) -> Contract:
        _attach(names, contract=rule)
        return rule

    return attach


def infer_call(
    ctx: OpContext, op: OpDef, types: Sequence[FeatureType], attrs: dict[str, Any]
) -> tuple[FeatureType, ...]:
    """The output types of one call: ``op``'s typing rule behind the checks its traits ask
    for, so that every operator is typed the same way."""
    from geoc.ops.euclidean import guard_manifold_inputs, plain_results
    from geoc.ops.labels import guard_labels

    guard_labels(ctx, op, types)
    ctx.domain.rules.check_use(ctx, op, types)
    try:  # a rule may size what it builds (budget.require_*) before building it
        inferred = op.infer(ctx, guard_manifold_inputs(ctx, op, types), attrs)
        out_types = plain_results(ctx, op, inferred)
        _check_result_atoms(ctx, out_types)
    except budget.BudgetExceeded as err:
        raise ctx.error("GEO520", f"`{ctx.op}`: {err}", help=budget.RAISE_HELP) from None
    ctx.domain.rules.check_result(ctx, types, out_types)
    return out_types


def check_call(
    ctx: OpContext, op: OpDef, types: Sequence[FeatureType], attrs: dict[str, Any]
) -> list[Diagnostic]:
    """The equivariance violations of one call: labels where the operator reads none, ``op``'s
    contract, then the contracts its traits ask for (a Euclidean norm needs a group that
    preserves it), so that no operator with the trait can forget the check."""
    from geoc.ops.euclidean import euclidean_norm_violations
    from geoc.ops.labels import label_violations

    return (
        label_violations(ctx, op, types)
        or op.contract(ctx, types, attrs)
        or euclidean_norm_violations(ctx, op, types)
    )


def _check_result_atoms(ctx: OpContext, types: Sequence[FeatureType]) -> None:
    """GEO330 (or the factor's code) when a result holds an atom the channel group cannot act
    on (the O(3) irreps of `spherical_harmonics` under `Lorentz(2)` or `O(2)`, say), GEO309 for
    one that needs a space the group does not have, before anything is built."""
    for ftype in types:
        for atom in ftype.atoms:
            try:
                ctx.group.atom_dim(atom)
                ctx.group.require_irrep_fits(atom)
            except UnsupportedAtom as err:
                raise ctx.error(
                    err.code,
                    f"`{ctx.op}` gives `{ftype.with_axes(())}`: {err}",
                    label=str(ftype.with_axes(())),
                    help=err.help,
                ) from None
            except ValueError:  # a vector-like atom and no space to rotate
                raise ctx.error(
                    "GEO309",
                    f"`{ctx.op}` gives `{ftype.with_axes(())}`, whose `{atom}` needs a group "
                    "acting on R^n",
                    label=str(ftype.with_axes(())),
                    help="add `E(n)` or `O(n)` to `symmetry`, or give scalar results",
                ) from None


def lookup(name: str) -> OpDef | None:
    _load_families()
    return REGISTRY.get(name)


def syntax_op(symbol: str, tensors: int) -> OpDef:
    """The operator written ``symbol`` with ``tensors`` tensor operands: ``-`` with two is
    ``a - b``, with one ``-a``; ``[]`` is ``x[src]``."""
    _load_families()
    return next(
        op for op in REGISTRY.values() if op.syntax == symbol and len(op.tensor_params) == tensors
    )


@functools.cache
def _load_families() -> None:
    """Import every module of this package once: each family registers its operators on import,
    so a new family is a new module here, listed nowhere. Cached: ``lookup`` runs per node."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")


def tensor(name: str) -> Param:
    return Param(name, ArgKind.TENSOR)


def tensors(name: str) -> Param:
    return Param(name, ArgKind.TENSORS)


def attr(
    name: str,
    kind: AttrKind,
    default: Any = REQUIRED,
    choices: tuple[str, ...] = (),
    per_layer: bool = False,
    written_only: bool = False,
) -> Param:
    return Param(name, ArgKind.ATTR, kind, default, choices, per_layer, written_only)


def init_attrs(per_layer: bool = False) -> tuple[Param, ...]:
    """``init=`` and ``bias_init=`` of a layer that owns weights (geoc.initialisers), `uniform`
    unless written; ``per_layer``: one value, or a list with one per layer."""
    from geoc.initialisers import UNIFORM

    return (
        attr("init", AttrKind.INIT, UNIFORM, per_layer=per_layer, written_only=True),
        attr("bias_init", AttrKind.BIAS_INIT, UNIFORM, per_layer=per_layer, written_only=True),
    )


__all__ = [
    "PLAIN",
    "REGISTRY",
    "REQUIRED",
    "ArgKind",
    "AttrKind",
    "Contract",
    "OpContext",
    "OpDef",
    "Param",
    "Traits",
    "TypeRule",
    "attr",
    "check_call",
    "contract",
    "define",
    "infer_call",
    "init_attrs",
    "lookup",
    "preset",
    "syntax_op",
    "tensor",
    "tensors",
    "typing_rule",
]
