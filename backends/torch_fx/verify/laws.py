"""How close to its law each output must come: exact laws to rounding, aliasing ones to a bound.

* **Exact laws.** A permutation, a rotation of point coordinates, a cyclic shift of a grid or
  a polar rotation by whole grid steps maps the inputs onto inputs, and every operator commutes
  with it up to rounding. An output passes when ``|f(g·x) - g·f(x)| <= rtol * max(scale, 1)``
  per trial, with ``scale = max |g·f(x)|`` and ``rtol = 1e-12`` in float64 (scaled by the
  machine epsilon in other dtypes). The floor of 1 is the scale of the inputs (unit Gaussians):
  an output near zero, computed from values of order one, still carries their rounding.
* **Band-limited rotations of the sphere** (``approximate_rows`` of the grid domains). A
  general rotation moves values between grid points, so it is checked on band-limited inputs
  through spherical-harmonic coefficients. An output whose path is polynomial of degree ``d``
  in the fields, with inputs band-limited to ``L`` and ``d * L`` within the grid's exact degree,
  is still exact (linear layers, sums, one product of two fields): held to the exact ``rtol``.
  A non-polynomial operator on the path (an activation, a normalisation) creates degrees the
  grid aliases: only there the stated aliasing bound applies, and the report names the operator.

The degree of each value is read off the operators' traits (``linear_in``: the tensor inputs an
operator is linear in; ``commutes_scatter``: linear in all of them at once), never their names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from geoc.backends.torch_fx.domains.fields import is_field_type
from geoc.ir import Graph, Node
from geoc.ops import ArgKind, lookup

#: Relative tolerance of an exact law in float64 (about 4500 machine epsilons).
EXACT_RTOL = 1e-12
#: The scale below which an output's tolerance stops shrinking (the inputs' scale).
SCALE_FLOOR = 1.0


def exact_rtol(dtype: torch.dtype) -> float:
    """:data:`EXACT_RTOL` for float64, the same number of machine epsilons in ``dtype``."""
    return EXACT_RTOL * torch.finfo(dtype).eps / torch.finfo(torch.float64).eps


def exact_bound(rtol: float, scale: float) -> float:
    """The largest error an exact law allows on an output of size ``scale``."""
    return rtol * max(scale, SCALE_FLOOR)


@dataclass(frozen=True)
class Degree:
    """A value's polynomial degree in the grid inputs (``inf``: not polynomial), and the node
    that raised it last (None while it is at most linear)."""

    degree: float
    raised_by: Node | None = None


def field_degrees(ir: Graph) -> dict[str, Degree]:
    """Per node: its degree in the field inputs (global values and constants have degree 0)."""
    degrees: dict[str, Degree] = {}
    for node in ir.nodes:
        if not node.inputs:
            degrees[node.id] = Degree(1.0 if is_field_type(node.out_types[0]) else 0.0)
            continue
        degrees[node.id] = _degree_of(node, [degrees[ref.node] for ref in node.inputs])
    return degrees


def _degree_of(node: Node, inputs: list[Degree]) -> Degree:
    varying = [(name, d) for name, d in zip(_param_names(node), inputs, strict=False) if d.degree]
    if not varying:
        return Degree(0.0)
    raised = max((d for _, d in varying), key=lambda d: d.degree)
    op = lookup(node.op)
    if op is None or not all(name in op.traits.linear_in for name, _ in varying):
        return Degree(math.inf, node)
    if len(varying) == 1 or op.traits.commutes_scatter:  # linear in all of them at once
        return raised
    return Degree(sum(d.degree for _, d in varying), node)  # multilinear: degrees add


def _param_names(node: Node) -> list[str]:
    """The tensor parameter each input binds to (a variadic one takes the rest)."""
    op = lookup(node.op)
    params = op.tensor_params if op is not None else ()
    names = []
    for i in range(len(node.inputs)):
        param = params[min(i, len(params) - 1)] if params else None
        if param is None or (i >= len(params) and param.kind is not ArgKind.TENSORS):
            names.append("")
        else:
            names.append(param.name)
    return names
