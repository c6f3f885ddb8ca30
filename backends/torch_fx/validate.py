"""Runtime input validation of a compiled module (docs/validation.md).

The checks are calls of :mod:`~geoc.backends.torch_fx.common.validate_kernels` placed at the
top of the generated graph, before any value is read, so a module exported with
``geoc compile -o DIR`` checks its inputs with the same code. Each domain kind says what its
inputs look like (its ``check_inputs`` rule); this module emits the parts every domain shares:
where the checks go, the dtype they compare against, the description of a declared type, and
the check of input names (required inputs default to None and a last ``**unexpected``
parameter collects other keywords, so both are refused by name inside the graph, which
``torch.compile`` and ``torch.export`` trace). ``validate=False`` (in ``geoc.compile`` and
``lower``) leaves all of it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import fx

from geoc.backends.torch_fx.common import validate_kernels as rtv
from geoc.domains import EDGE_AXIS
from geoc.types import FeatureType

if TYPE_CHECKING:
    from geoc.backends.torch_fx.lower import LowerCtx


def emit_checks(ctx: LowerCtx) -> None:
    """The name check, then the domain's checks, before the first node that reads an input.
    Unexpected keywords are collected by a last ``**unexpected`` parameter."""
    from geoc.backends.torch_fx.domains import rules_of

    first = next(n for n in ctx.fx.nodes if n.op != "placeholder")
    with ctx.fx.inserting_before(first):
        unexpected = ctx.fx.placeholder("**unexpected")
        names = [str(n.target) for n in ctx.fx.nodes if n.op == "placeholder"][:-1]
        given = [ctx.inputs[name] for name in ctx.inputs]
        check(ctx, rtv.check_names, given, list(ctx.inputs), unexpected, names)
        rules_of(ctx.ir).check_inputs(ctx, dtype_reference(ctx))


def dtype_reference(ctx: LowerCtx) -> fx.Node | None:
    """A floating parameter (or buffer) of the module: floating inputs must share its dtype,
    whatever ``module.to(...)`` made it. None for a module without one."""
    tensors = [*ctx.root.named_parameters(), *ctx.root.named_buffers()]
    name = next((n for n, t in tensors if torch.is_floating_point(t)), None)
    return ctx.fx.get_attr(name) if name else None


def placeholder(ctx: LowerCtx, name: str) -> fx.Node | None:
    return next((n for n in ctx.fx.nodes if n.op == "placeholder" and n.target == name), None)


def described(ctx: LowerCtx, ftype: FeatureType) -> str:
    """How messages name a declared type: ``16 x scalar over nodes``."""
    return str(ftype)


def axis_label(axis: str, domain_axis: str | None) -> str:
    """The symbol a message shows for a free length: ``N`` nodes, ``E`` edges."""
    if axis == EDGE_AXIS:
        return "E"
    return "N" if axis == domain_axis else axis


def check(ctx: LowerCtx, kernel: object, *args: object) -> fx.Node:
    """One check in the graph (it returns nothing; it refuses or lets the call go on)."""
    return ctx.fx.call_function(kernel, tuple(args))
