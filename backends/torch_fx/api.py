"""``geoc.compile``: a spec (text, path, built-in name or IR) to a runnable torch module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import fx

from geoc.backends.torch_fx.compiled import compile_calls
from geoc.backends.torch_fx.export import spec_label
from geoc.backends.torch_fx.lower import lower
from geoc.backends.torch_fx.saving import build_record, remember_build
from geoc.budget import Budget, using
from geoc.diagnostics import Diagnostic, GeoError
from geoc.ir import Graph
from geoc.options import check_optimize
from geoc.pipeline import frontend, resolve_source


def compile(
    spec: str | Path | Graph,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    *,
    model: str | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    tp_algorithm: str = "auto",
    validate: bool = True,
    budget: Budget | None = None,
    given_edges: bool = False,
    optimize: str = "ir",
    sphere_grid: str | None = None,
) -> fx.GraphModule:
    """Compile a spec to an ``fx.GraphModule`` taking its inputs by name, returning a dict.

    >>> import torch, geoc
    >>> egnn = geoc.compile("egnn", params={"depth": 2})
    >>> out = egnn(h=torch.randn(5, 16), x=torch.randn(5, 3))
    >>> sorted(out), out["pos"].shape
    (['energy', 'pos'], torch.Size([5, 3]))

    ``tp_algorithm`` (``auto``, ``cg`` or ``so2``) picks the lowering of every ``tp_conv``
    whose spec leaves ``algorithm=auto``; ``auto`` asks the cost model. The IR the module was
    lowered from is kept in ``module.meta["geoc_ir"]``. ``budget``
    (:class:`geoc.budget.Budget`) replaces the resource budget of the solver (GEO520).

    Every call checks its inputs (names, shapes, dtypes, ``edge_index``, ``batch``,
    ``num_graphs``) and refuses bad ones with an ``InputError`` carrying a ``GEO61x`` code;
    ``validate=False`` leaves the checks out of the module (docs/validation.md).
    ``given_edges=True``: a point cloud takes the neighbour list its edge rule defines as
    inputs, ``edge_index`` ``[2, E]`` (and ``edge_shift`` ``[E, 3]`` under a periodic cell),
    instead of searching (docs/atomistic.md: exports that compute forces).

    ``optimize``: ``none`` (the IR as written), ``ir`` (the compiler's IR rewrites; the
    default) or ``inductor`` (``ir``, and calls run through ``torch.compile`` with dynamic
    node and edge counts, the first one checked against eager: docs/compiled.md); another
    value is GEO506.

    ``sphere_grid`` (``equiangular`` or ``legendre_gauss``; default: the spec's): the kind of
    grid a sphere model's inputs are on; their ``[nlat, nlon]`` may be any grid that holds the
    model's band limit, whose tables are built once and cached (docs/spectral.md, "Other
    grids"); another value, or the option off a sphere, is GEO533.

    How the module was built is kept in ``module.meta["geoc_build"]``: ``geoc.save`` writes
    it with the trained weights, ``geoc.load`` and pickling compile it again (saving.py).
    """
    check_optimize(optimize)
    with using(budget):
        ir = spec if isinstance(spec, Graph) else frontend(spec, params, model)
        fired = []
        if optimize != "none":  # the IR rewrites (docs/optimizer.md): same function, same names
            ir, fired = _rewritten(ir)
        module = lower(ir, seed, tp_algorithm, dtype, validate, given_edges, sphere_grid)
    module.meta["geoc_ir"] = ir
    module.meta["geoc_rewrites"] = fired
    source = None if isinstance(spec, Graph) else resolve_source(spec).text
    file = "<spec>" if isinstance(spec, Graph) else spec_label(str(spec))
    options = dict(
        seed=seed, tp_algorithm=tp_algorithm, dtype=dtype, validate=validate, optimize=optimize
    )
    if sphere_grid is not None:  # recorded only when given: older records stay as they were
        options["sphere_grid"] = sphere_grid
    remember_build(
        module, build_record(source, file, model, params, given_edges=given_edges, **options)
    )
    if dtype is not None:
        module = module.to(dtype)
    if device is not None:
        module = module.to(resolve_device(device))
    return compile_calls(module) if optimize == "inductor" else module


def _rewritten(ir: Graph) -> tuple[Graph, list]:
    from geoc.optimize import optimise

    result = optimise(ir)
    return result.graph, result.fired


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device that exists here, or the GEO502 diagnostic."""
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise GeoError(Diagnostic("GEO502", f"`{device}` is not a device: {err}")) from None
    available = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": lambda: torch.backends.mps.is_available(),
    }.get(chosen.type, lambda: False)
    if not available():
        raise GeoError(
            Diagnostic(
                "GEO502",
                f"device `{device}` is not available on this machine",
                help="use `--device cpu`, or run on a machine with that accelerator",
            )
        )
    return chosen
