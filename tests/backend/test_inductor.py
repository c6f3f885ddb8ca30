"""The compiled path, ``geoc.compile(..., optimize="inductor")`` (backends/torch_fx/compiled.py):
the module is the eager one (same parameters, names, meta) whose calls go through
``torch.compile`` with dynamic sizes, checked against eager on the first call (GEO507 on a
difference); inputs that require grad run eager; the choice survives save, load, pickling and
copying; an unknown level is GEO506; ``geoc compile --optimize`` passes it on.

Most tests swap the backend for dynamo's ``eager`` one (tracing and guards as under inductor,
no C++ build); the ``slow`` one runs inductor itself."""

from __future__ import annotations

import copy
import json
import pickle
import warnings

import pytest
import torch
from torch._inductor.compile_fx import compile_fx

import geoc
from geoc.backends.torch_fx import compiled
from geoc.cli import main
from geoc.diagnostics import GeoError

#: A small point cloud with built edges (a neighbour search inside forward) and a readout.
SPEC = """
model Tiny(hidden: int = 8) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)
    input h: 4 x scalar over nodes
    input x: point(3) over nodes
    r = x[dst] - x[src]
    m = mlp(concat(h[dst], h[src], sqnorm(r)), [hidden], act=silu)
    h2 = h + linear(sum(m, over=edges, into=nodes), 4 x scalar)
    output energy: scalar = sum(linear(h2, scalar), over=nodes)
    output pos: point(3) over nodes = x + mean(r * linear(m, scalar), over=edges, into=nodes)
}
"""


class Counting:
    """A torch.compile backend that counts the graphs it is given and runs ``then``."""

    def __init__(self, then=None) -> None:
        self.graphs = 0
        self.then = then

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        self.graphs += 1
        return gm.forward if self.then is None else self.then(gm, example_inputs)


@pytest.fixture
def backend(monkeypatch) -> Counting:
    torch._dynamo.reset()  # no compiled code cached from another test
    counting = Counting()
    monkeypatch.setattr(compiled, "BACKEND", counting)
    return counting


def _inputs(nodes: int, graphs: int = 1, seed: int = 0, dtype=torch.float32) -> dict:
    rng = torch.Generator().manual_seed(seed)
    total = nodes * graphs
    inputs = {
        "h": torch.randn(total, 4, generator=rng, dtype=dtype),
        "x": torch.randn(total, 3, generator=rng, dtype=dtype),
    }
    if graphs > 1:
        inputs["batch"] = torch.arange(graphs).repeat_interleave(nodes)
        inputs["num_graphs"] = graphs
    return inputs


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=atol)


@pytest.mark.slow  # dynamo traces the module: 3-5 s
def test_the_module_is_the_eager_module_with_compiled_calls(backend):
    module = geoc.compile(SPEC, optimize="inductor")
    eager = geoc.compile(SPEC)
    assert isinstance(module, torch.fx.GraphModule) and compiled.is_compiled(module)
    assert not compiled.is_compiled(eager)
    assert module.meta["geoc_build"]["optimize"] == "inductor"
    assert module.meta["geoc_ir"].name == "Tiny"
    state, want = module.state_dict(), eager.state_dict()
    assert list(state) == list(want)  # the same names: checkpoints move between the two
    assert all(torch.equal(state[k], want[k]) for k in want)
    assert backend.graphs == 0  # compiling waits for the first call
    _assert_same(module(**_inputs(5)), eager(**_inputs(5)))
    assert backend.graphs == 1
    module.double().eval()  # moves and modes act on the module itself
    out = module(**_inputs(5, dtype=torch.float64))
    assert out["pos"].dtype == torch.float64 and not module.training


@pytest.mark.slow  # dynamo traces the module twice: 3-4 s
def test_new_node_and_graph_counts_reuse_the_compiled_graph(backend):
    module = geoc.compile(SPEC, optimize="inductor")
    eager = geoc.compile(SPEC)
    for nodes in (4, 6, 9):
        _assert_same(module(**_inputs(nodes)), eager(**_inputs(nodes)), atol=1e-6)
    assert backend.graphs == 1
    for nodes, graphs in ((3, 2), (5, 3), (4, 4)):  # a batch: compact edges of varying count
        batch = _inputs(nodes, graphs)
        _assert_same(module(**batch), eager(**batch), atol=1e-6)
    assert backend.graphs == 2  # one graph for single clouds, one for batches


@pytest.mark.slow  # dynamo traces the module: 2-3 s
def test_given_edges_are_checked_without_pinning_the_node_count(backend):
    """A graph's `edge_index` is checked against the node count inside the compiled graph;
    the check's message must not format the traced count (which would pin the graph to it).
    Values out of range still refuse the call, as a traced assertion (docs/validation.md)."""
    module = geoc.compile("gcn", params={"depth": 1}, optimize="inductor")
    eager = geoc.compile("gcn", params={"depth": 1})
    rng = torch.Generator().manual_seed(0)
    for nodes in (5, 7, 9):
        x = torch.randn(nodes, 16, generator=rng)
        edge_index = torch.randint(0, nodes, (2, 3 * nodes), generator=rng)
        _assert_same(module(x=x, edge_index=edge_index), eager(x=x, edge_index=edge_index))
    assert backend.graphs == 1
    with pytest.raises(RuntimeError, match=r"GEO614: input `edge_index`: .* \[0, N\)"):
        module(x=x, edge_index=edge_index + nodes)


def test_the_first_call_catches_a_wrong_compiled_result(monkeypatch):
    torch._dynamo.reset()

    def off_by_a_bit(gm, example_inputs):
        def run(*args):
            outputs = gm(*args)
            return [o + 1e-3 if o.is_floating_point() else o for o in outputs]

        return run

    monkeypatch.setattr(compiled, "BACKEND", off_by_a_bit)
    module = geoc.compile(SPEC, optimize="inductor")
    with pytest.raises(GeoError) as caught:
        module(**_inputs(5))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GEO507"
    assert "output `energy` differs from eager's by 0.001" in diagnostic.message
    assert "optimize='ir'" in diagnostic.help


def test_float_tolerance_follows_the_dtype():
    eager = {"y": torch.ones(3, dtype=torch.float64)}
    compiled.compare_outputs({"y": eager["y"] + 1e-12}, eager)
    with pytest.raises(GeoError, match="GEO507"):
        compiled.compare_outputs({"y": eager["y"] + 1e-6}, eager)
    compiled.compare_outputs({"y": eager["y"].float() + 1e-6}, {"y": eager["y"].float()})
    with pytest.raises(GeoError, match="NaN"):
        compiled.compare_outputs({"y": eager["y"] * float("nan")}, eager)
    with pytest.raises(GeoError, match="int64"):
        compiled.compare_outputs({"y": torch.ones(3, dtype=torch.long)}, eager)


def test_bad_inputs_are_refused_before_compiling(backend):
    module = geoc.compile(SPEC, optimize="inductor")
    with pytest.raises(ValueError, match="GEO611"):
        module(h=torch.randn(5, 3), x=torch.randn(5, 3))
    assert backend.graphs == 0


def test_derivatives_by_inputs_run_eager_with_a_warning(backend):
    module = geoc.compile(SPEC, optimize="inductor", dtype=torch.float64)
    eager = geoc.compile(SPEC, dtype=torch.float64)
    inputs = _inputs(5, dtype=torch.float64)
    x = inputs["x"].requires_grad_(True)
    with pytest.warns(UserWarning, match="runs this call eager"):
        energy = module(**inputs)["energy"]
    (forces,) = torch.autograd.grad(energy, x, create_graph=True)
    forces.square().sum().backward()  # force training: a second derivative
    (want,) = torch.autograd.grad(eager(**inputs)["energy"], x)
    torch.testing.assert_close(forces, want)
    assert backend.graphs == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per module
        module(**inputs)


@pytest.mark.slow  # dynamo traces each of four modules: 3 s
def test_save_load_pickle_and_copy_keep_the_compiled_path(backend, tmp_path):
    module = geoc.compile(SPEC, optimize="inductor")
    with torch.no_grad():
        next(module.parameters()).add_(0.5)  # trained weights, not the seed's
    want = module(**_inputs(6))
    folder = geoc.save(module, tmp_path / "tiny")
    assert json.loads((folder / "manifest.json").read_text())["build"]["optimize"] == "inductor"
    for again in (geoc.load(folder), pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
        assert compiled.is_compiled(again) and again is not module
        assert again._compiled_call_impl.eager.__self__ is again  # calls its own weights
        _assert_same(again(**_inputs(6)), want)


def test_an_unknown_level_is_geo506():
    with pytest.raises(GeoError) as caught:
        geoc.compile(SPEC, optimize="fast")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GEO506"
    assert "`optimize='fast'`" in diagnostic.message
    assert all(f"`{level}`" in diagnostic.help for level in ("none", "ir", "inductor"))


def test_the_command_line_passes_the_level_on(tmp_path, capsys):
    spec = tmp_path / "tiny.geo"
    spec.write_text(SPEC)
    assert main(["compile", str(spec), "--optimize", "inductor", "-o", str(tmp_path / "m")]) == 0
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["build"]["optimize"] == "inductor"
    assert main(["compile", str(spec), "--optimize", "fast"]) == 1
    err = capsys.readouterr().err
    assert "GEO191" in err and "choose from 'none', 'ir', 'inductor'" in err


@pytest.mark.slow  # dynamo traces the module of each trial: 3-5 s
def test_geoc_check_checks_the_compiled_module(backend, tmp_path, capsys):
    spec = tmp_path / "tiny.geo"
    spec.write_text(SPEC)
    assert main(["check", str(spec), "--optimize", "inductor", "--trials", "2"]) == 0
    assert "every output transforms as declared" in capsys.readouterr().out
    assert backend.graphs >= 2  # the trial with random parameters runs compiled too


@pytest.mark.slow  # 30 s on 2 loaded cores with an empty inductor cache
def test_inductor_matches_eager_forward_and_backward_at_any_size(monkeypatch):
    """torch.compile's inductor itself (a C++ build on CPU): three node counts, at most two
    compiled graphs (inductor adds a guard of its own on a size threshold where it picks
    between two kernels: `4 + n^2 - n <= 32` here, so a first call at 4 nodes and a second at
    6 compile twice); gradients of the parameters agree with eager's."""
    torch._dynamo.reset()
    counting = Counting(then=compile_fx)
    monkeypatch.setattr(compiled, "BACKEND", counting)
    module = geoc.compile(SPEC, optimize="inductor", params={"hidden": 4})
    eager = geoc.compile(SPEC, params={"hidden": 4})
    for nodes in (6, 9, 13):
        module.zero_grad(), eager.zero_grad()
        got, want = module(**_inputs(nodes, seed=nodes)), eager(**_inputs(nodes, seed=nodes))
        _assert_same(got, want, atol=1e-5)
        (got["energy"] + got["pos"].sum()).backward()
        (want["energy"] + want["pos"].sum()).backward()
        for (name, p), q in zip(module.named_parameters(), eager.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-5, msg=name)
    assert counting.graphs <= 2
