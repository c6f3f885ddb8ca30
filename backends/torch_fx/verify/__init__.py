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
  edge ``(p[s], p[d])``. Masked-out edges are ignored, and an edge set that changes under
  ``g`` is itself a failure.
* Point clouds stress their edge rule in turn (``domains/clouds.py``): trial 1 in general
  position, trial 2 with ties (part of each cloud on a rotated cubic lattice), trial 3
  degenerate (coincident points; in a batch a one-node graph and, for ``radius``, a graph
  without edges; ``graph(nodes)`` gets an empty ``edge_index`` there). Manifold membership is
  measured on the last trial in general position: a direction between coincident points is
  undefined.
* Channels transform by :meth:`geoc.groups.Group.channel_action`; values without an axis
  (pooled, ``[C]`` or ``[num_graphs, C]``) only in their channels.

Trials after the first run with random parameters, graphs come in batches, and each output is
held to the tolerance of its law: exact laws to 1e-12 relative in float64, the stated aliasing
bound only for band-limited rotations behind a non-polynomial operator (``docs/check.md``).

Modules, one job each: ``report`` (rows, failure, table), ``actions`` (group elements, ``g·x``
and the deviation from a law), ``edges`` (edge correspondence), ``recorder`` (the fx
interpreter), ``blame`` (first broken value), ``params`` (random parameters on a copy),
``laws`` (the tolerance of each law), ``check`` (the trials). What depends on the
domain kind (inputs, elements, actions on inputs, laws) comes from
:func:`geoc.backends.torch_fx.domains.rules_of`.
"""

from geoc.backends.torch_fx.verify.actions import (
    AxisMap,
    Deviation,
    describe,
    draw_element,
    law_error,
    transform,
)
from geoc.backends.torch_fx.verify.blame import Trial, first_broken_value
from geoc.backends.torch_fx.verify.check import check, check_module, draw_sample
from geoc.backends.torch_fx.verify.edges import EDGE_MATCHERS
from geoc.backends.torch_fx.verify.recorder import ValueRecorder, record
from geoc.backends.torch_fx.verify.report import CheckReport, Failure, OutputRow

__all__ = [
    "EDGE_MATCHERS",
    "AxisMap",
    "CheckReport",
    "Deviation",
    "Failure",
    "OutputRow",
    "Trial",
    "ValueRecorder",
    "check",
    "check_module",
    "describe",
    "draw_element",
    "draw_sample",
    "first_broken_value",
    "law_error",
    "record",
    "transform",
]
