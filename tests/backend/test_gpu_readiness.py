"""GPU readiness without a GPU (issue 17): every built-in spec runs on the ``meta`` device and
under ``FakeTensorMode`` with the output shapes, dtypes and devices of a real CPU run, and a real
CPU forward never reads a tensor's value on the host, copies to another device, or sizes a
result by its data, outside the few places named in :data:`HOST_READS` (each says why).

The GPU suite: ``GEOC_TEST_DEVICE=cuda pytest tests/backend/test_gpu_readiness.py`` (what
``bench/gpu.sh`` runs) replaces ``meta`` by that device: the module with the edges it builds
itself runs there too, its values compared with the CPU's, under the same host-read check.

Edge lists: on ``meta`` and fake tensors there are no positions to build them from, so a point
cloud's edge list (full, radius, knn, periodic) is an input: the module is compiled with
``given_edges=True`` and handed the edges its twin that builds them found in the CPU run
(``num_graphs`` is passed too: read off ``batch`` it would be a host read).
"""

from __future__ import annotations

import copy
import functools
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import fx
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

import geoc
from geoc import catalog
from geoc.backends.torch_fx.common import validate_kernels
from geoc.backends.torch_fx.verify.check import draw_sample

DEVICE = torch.device(os.environ.get("GEOC_TEST_DEVICE", "meta"))
#: Specs whose runs here take several seconds (the eSCN and MACE kernels): marked slow.
SLOW = {"escn", "mace"}
SPECS = [
    pytest.param(spec.name, marks=pytest.mark.slow) if spec.name in SLOW else spec.name
    for spec in catalog.builtin_specs()
]
#: Built-in specs again with the options that change their kernels (a periodic cell, padding).
VARIANTS = [
    pytest.param(spec.name, {}, marks=pytest.mark.slow) if spec.name in SLOW else (spec.name, {})
    for spec in catalog.builtin_specs()
] + [
    pytest.param("nequip", {"periodic": True}, marks=pytest.mark.slow),
    ("unf_cnn", {"padded": True}),
]
F64 = torch.float64
aten = torch.ops.aten

#: Where a forward may read values on the host or size a result by its data, by (file,
#: function) anywhere on the Python stack, and why that is right on a GPU too.
HOST_READS = {
    # Validation raises on bad values only where they are on the host (a CPU tensor); on an
    # accelerator, meta or fake tensors the same check is torch._assert_async, no sync
    # (validate_kernels._on_host; the meta and fake tests below take that branch).
    ("validate_kernels.py", "_require"): "input validation on CPU tensors",
    ("periodic_kernels.py", "check_cell"): "which cell is singular, on CPU tensors",
    # Built edge lists have a data-dependent length: eager mode allocates them exactly, one
    # documented sync; traced modules take the static masked layout (_shapes_must_be_static)
    # and exports take given_edges.
    ("kernels.py", "full_edges"): "the number of within-graph pairs",
    ("kernels.py", "_finish"): "a compact edge list (nonzero)",
    ("axes_kernels.py", "_finish"): "a compact edge list between two axes (nonzero)",
    ("kernels.py", "_pairs_within_graphs"): "the number of pairs between two axes",
    ("axes_kernels.py", "_kth_per_group"): "the most candidates of one knn group",
    ("neighbour_kernels.py", "radius_neighbours"): "the radius search (cell lists)",
    # Farthest-point sampling gives min(m, n_g) centres per graph eagerly (one compaction);
    # traced, num_graphs * m (static). On the host it stops once every point is taken.
    ("sample_kernels.py", "fps"): "the centres of graphs with fewer than m points",
    ("sample_kernels.py", "_fps_one"): "stopping once every point is taken (CPU only)",
    ("sample_kernels.py", "_fps_rows"): "the most points of one graph (the padded table)",
}
#: Operators whose output size depends on the data (a sync on a GPU); host reads
#: (``.item()``, ``int()``, ``bool()`` of a tensor) dispatch to ``_local_scalar_dense``.
DATA_SIZED = {
    aten._local_scalar_dense.default,
    aten.nonzero.default,
    aten.masked_select.default,
    aten.bincount.default,
    aten._unique2.default,
    aten.unique_consecutive.default,
    aten.unique_dim.default,
}


def _offence(func: Any, args: tuple, kwargs: dict) -> str | None:
    """What is wrong with one operator call, or None."""
    if func in DATA_SIZED:
        return str(func)
    if func is aten.repeat_interleave.Tensor and kwargs.get("output_size") is None:
        return "repeat_interleave without output_size"
    if func is aten.index.Tensor and any(
        isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]
    ):
        return "indexing by a boolean mask"
    tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
    target = kwargs.get("device")
    if func is aten._to_copy.default and target is not None and target != tensors[0].device:
        return f"a copy {tensors[0].device} -> {target}"
    if func is aten.copy_.default and args[0].device != args[1].device:
        return f"a copy {args[1].device} -> {args[0].device}"
    return None


class HostReads(TorchDispatchMode):
    """Records each operator call that reads values on the host, sizes its result by the
    data or copies across devices, outside :data:`HOST_READS`, with where it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        offence = _offence(func, args, kwargs)
        if offence is not None:
            stack = [f for f in traceback.extract_stack() if "/backends/" in f.filename]
            sites = {(Path(f.filename).name, f.name) for f in stack}
            if not sites & HOST_READS.keys():
                where = stack[-1] if stack else None
                at = f"{Path(where.filename).name}:{where.lineno} {where.name}" if where else "?"
                self.found.append(f"{offence} at {at}")
        return func(*args, **kwargs)


class OnDevice(TorchDispatchMode):
    """Records each operator call given a tensor on another device than ``device`` (a kernel
    that made a tensor without its inputs' device: a 0-d CPU constant slips past torch's own
    check)."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device, self.found = device, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor) and t.device.type != self.device.type:
                where = [f for f in traceback.extract_stack() if "/backends/" in f.filename]
                at = f"{Path(where[-1].filename).name}:{where[-1].lineno}" if where else "?"
                self.found.append(f"{func} got a {t.device} tensor at {at}")
        return func(*args, **kwargs)


@functools.cache
def _case(name: str, options: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """Compiled once per spec for every test here (callers move copies): the module that
    builds its edges and a sample for it; the module to run without data (its twin taking
    the edges as inputs, if it builds any), its inputs and its CPU outputs."""
    params = dict(options)
    built = geoc.compile(name, params, dtype=F64)
    sample = draw_sample(built.meta["geoc_ir"], np.random.default_rng(0), 5, 2, F64, 0)
    found = _edges_found(built, sample.inputs)
    if not found:
        return built, sample.inputs, built, sample.inputs, built(**sample.inputs)
    twin = geoc.compile(name, params, dtype=F64, given_edges=True)
    inputs = {**sample.inputs, **found}
    return built, sample.inputs, twin, inputs, twin(**inputs)


def _without_data(name: str, params: dict) -> tuple[fx.GraphModule, dict, Any]:
    """A copy of the module to run without data, its inputs, its CPU outputs."""
    _, _, module, inputs, want = _case(name, tuple(sorted(params.items())))
    return copy.deepcopy(module), inputs, want


def _edges_found(module: fx.GraphModule, inputs: dict) -> dict[str, torch.Tensor]:
    """The edges ``module`` builds on ``inputs`` as ``given_edges`` inputs, or {} for a module
    that builds none: its ``edges`` (or periodic ``neighbours``) node, read by an
    interpreter."""
    names = {n.name for n in module.graph.nodes}
    wanted = "neighbours" if "neighbours" in names else "edges" if "edges" in names else None
    if wanted is None or "edge_index" in inputs:
        return {}
    seen: dict[str, Any] = {}

    class Reader(fx.Interpreter):
        def run_node(self, node: fx.Node) -> Any:
            value = super().run_node(node)
            if node.name == wanted:
                seen["value"] = value
            return value

    order = [str(n.target) for n in module.graph.nodes if n.op == "placeholder"]
    Reader(module).run(*[inputs.get(name) for name in order if not name.startswith("*")])
    src, dst, third = seen["value"]
    if wanted == "edges" and third is not None:
        return {}  # a static layout is not an edge list
    found = {"edge_index": torch.stack((src, dst))}
    return {**found, "edge_shift": third} if wanted == "neighbours" else found


def _same_layout(got: Any, want: Any, device: torch.device) -> None:
    """``got`` has ``want``'s structure, shapes and dtypes, every tensor on ``device``."""
    got_leaves, got_tree = tree_flatten(got)
    want_leaves, want_tree = tree_flatten(want)
    assert got_tree == want_tree
    for g, w in zip(got_leaves, want_leaves, strict=True):
        if isinstance(w, torch.Tensor):
            assert (g.shape, g.dtype) == (w.shape, w.dtype)
            assert g.device.type == device.type


def _moved(tree: Any, move: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    return tree_map(lambda v: move(v) if isinstance(v, torch.Tensor) else v, tree)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v) if v else "")
def test_runs_on_the_test_device(name: str, params: dict) -> None:
    """Shapes and devices propagate (meta: no data), no kernel mixes in a tensor of another
    device; on a real device the values match the CPU's."""
    module, inputs, want = _without_data(name, params)
    module, moved = module.to(DEVICE), _moved(inputs, lambda t: t.to(DEVICE))
    with OnDevice(DEVICE) as check:
        got = module(**moved)
    assert check.found == []
    _same_layout(got, want, DEVICE)
    if DEVICE.type != "meta":
        torch.testing.assert_close(_moved(got, torch.Tensor.cpu), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v) if v else "")
def test_runs_on_fake_tensors(name: str, params: dict) -> None:
    """Under FakeTensorMode (tracers' tensors: a device and shape, no data), parameters and
    inputs fake, the outputs have the real run's layout."""
    module, inputs, want = _without_data(name, params)
    state = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    with FakeTensorMode() as mode:
        fake_state = _moved(state, mode.from_tensor)
        fake_inputs = _moved(inputs, mode.from_tensor)
        got = torch.func.functional_call(module, fake_state, (), fake_inputs)
    _same_layout(got, want, torch.device("cpu"))


@pytest.mark.parametrize("name", SPECS)
def test_builds_its_edges_on_fake_tensors(name: str) -> None:
    """The other way to run without data: the module builds its edges itself, on fake tensors
    (its traced, static layouts: every pair of a graph), the edge count an unbacked size (a
    symbol with no value) and every other size that of the real run. (The periodic search
    reads its work size on the host; under a cell, edges come as inputs: given_edges.)"""
    built, inputs, *_ = _case(name, ())
    state = {**dict(built.named_parameters()), **dict(built.named_buffers())}
    want = built(**inputs)
    with FakeTensorMode(shape_env=ShapeEnv(), static_shapes=True) as mode:
        got = torch.func.functional_call(
            built, _moved(state, mode.from_tensor), (), _moved(inputs, mode.from_tensor)
        )
    _same_layout(got, want, torch.device("cpu"))


def test_validation_compares_symbolic_sizes() -> None:
    """Shape checks compare sizes, never hash them: symbolic sizes (``torch.compile`` with
    dynamic shapes) pass through, and a non-square grid is still refused."""
    with FakeTensorMode(shape_env=ShapeEnv()) as mode:
        square = mode.from_tensor(torch.zeros(2, 3, 8, 8))
        validate_kernels.check_square(square, "x", 2)
    with pytest.raises(geoc.InputError):
        validate_kernels.check_square(torch.zeros(2, 3, 8, 9), "x", 2)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v) if v else "")
def test_forward_reads_nothing_on_the_host(name: str, params: dict) -> None:
    """A real forward, the edges built by the module itself, on the CPU (or the test device):
    no host read, data-sized result or device copy outside HOST_READS, so a kernel that
    would stall a GPU is caught on a machine without one."""
    device = torch.device("cpu") if DEVICE.type == "meta" else DEVICE
    built, sample, *_ = _case(name, tuple(sorted(params.items())))
    module, inputs = copy.deepcopy(built).to(device), _moved(sample, lambda t: t.to(device))
    with HostReads() as reads:
        module(**inputs)
    assert reads.found == []


def test_the_host_read_check_catches_a_sync() -> None:
    """The check fails on what it is there to catch: ``.item()``, a boolean mask, ``.cpu()``
    from a device (a ``meta`` tensor stands in for the device's)."""
    x = torch.arange(6.0)
    for offend in (lambda: x.sum().item(), lambda: x[x > 2], lambda: int(x.max())):
        with HostReads() as reads:
            offend()
        assert reads.found, offend
    with HostReads() as reads:
        x.to("meta")
    assert reads.found == ["a copy cpu -> meta at ?"]
    with OnDevice(torch.device("meta")) as check:
        torch.ones(2, device="meta") * torch.tensor(2.0)
    assert check.found and "got a cpu tensor" in check.found[0]


def test_validation_on_the_device_asserts_instead_of_reading() -> None:
    """Off the host a bad value is a device-side assertion, not a host read: on ``meta`` the
    check passes through (no data), and the CPU still raises the GEO61x error."""
    module = geoc.compile("gcn", dtype=F64)
    sample = draw_sample(module.meta["geoc_ir"], np.random.default_rng(0), 5, 2, F64, 0)
    bad = {**sample.inputs, "edge_index": sample.inputs["edge_index"] + 1000}
    with pytest.raises(geoc.InputError) as info:
        module(**bad)
    assert info.value.code == "GEO614"
    module, moved = module.to("meta"), _moved(bad, lambda t: t.to("meta"))
    with HostReads() as reads:
        module(**moved)
    assert reads.found == []
