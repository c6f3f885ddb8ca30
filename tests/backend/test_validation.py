"""Runtime input validation (issue 13): every compiled module and exported folder refuses bad
inputs with a GEO61x code naming the input and the shape its type expects, and computes what
the spec says on the inputs it accepts (empty sets included). docs/validation.md."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import assert_captures

from geoc import InputError
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common import validate_kernels
from geoc.backends.torch_fx.export import write_folder
from geoc.ops.weightspace import WeightSpace

GRAPH_SPEC = """model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input h: 4 x scalar over nodes
    input g: 3 x scalar
    output y: 4 x scalar over nodes = linear(concat(h, g), 4 x scalar)
    output s: 4 x scalar = sum(h, over=nodes)
}"""
GLOBAL_SPEC = """model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input h: 4 x scalar over nodes
    input g: 3 x scalar
    output y: 7 x scalar = concat(sum(h, over=nodes), g)
    output z: 2 x scalar = linear(g, 2 x scalar)
}"""
POOLS_SPEC = """model P() {
    symmetry S(set)
    domain set(set)
    input x: 3 x scalar over set
    output s: 3 x scalar = sum(x, over=set)
    output m: 3 x scalar = mean(x, over=set)
    output x_max: 3 x scalar = max(x, over=set)
}"""
EDGE_INDEX = torch.tensor([[0, 1, 2], [1, 0, 3]])
BATCH = torch.tensor([0, 0, 1, 1])


@pytest.fixture(scope="module")
def egnn() -> torch.nn.Module:
    return geoc_compile("egnn", params={"depth": 1})


@pytest.fixture(scope="module")
def graph() -> torch.nn.Module:
    return geoc_compile(GRAPH_SPEC)


def refused(code: str, text: str, call: Any, **inputs: Any) -> InputError:
    """``call(**inputs)`` raises the InputError ``code`` whose message contains ``text``."""
    with pytest.raises(InputError) as err:
        call(**inputs)
    assert err.value.code == code, str(err.value)
    assert text in str(err.value), str(err.value)
    return err.value


def test_wrong_channel_width_names_the_input_and_its_type(egnn: torch.nn.Module) -> None:
    expected = "input `h`: expected [N, 16] (16 x scalar over nodes), got [5, 8]"
    refused("GEO611", expected, egnn, h=torch.randn(5, 8), x=torch.randn(5, 3))


def test_mismatched_node_counts_are_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO612",
        "input `x`: has 5 nodes but `h` has 4",
        egnn,
        h=torch.randn(4, 16),
        x=torch.randn(5, 3),
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_float_inputs_of_another_dtype_are_refused(egnn: torch.nn.Module, dtype) -> None:
    error = refused(
        "GEO613",
        f"expected torch.float32, the module's dtype, got {dtype}",
        egnn,
        h=torch.randn(5, 16, dtype=dtype),
        x=torch.randn(5, 3, dtype=dtype),
    )
    assert error.input == "h"


def test_a_module_moved_to_float64_takes_float64(egnn: torch.nn.Module) -> None:
    model = geoc_compile("egnn", params={"depth": 1}).to(torch.float64)
    out = model(h=torch.randn(5, 16, dtype=torch.float64), x=torch.randn(5, 3, dtype=torch.float64))
    assert out["pos"].dtype == torch.float64


def test_integer_feature_inputs_are_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO613",
        "input `h`: expected floating values (16 x scalar over nodes), got torch.int64",
        egnn,
        h=torch.ones(5, 16, dtype=torch.long),
        x=torch.randn(5, 3),
    )


def test_missing_and_unexpected_inputs_are_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO610",
        "input `x`: missing; this model takes `h`, `x`, `batch`, `num_graphs`",
        egnn,
        h=torch.randn(5, 16),
    )
    refused(
        "GEO610",
        "input `pos`: unexpected",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        pos=torch.randn(5, 3),
    )


def test_a_float_batch_is_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO615",
        "input `batch`: expected integer graph indices, got torch.float32",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        batch=torch.zeros(5),
    )


def test_a_batch_of_another_length_is_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO612",
        "input `batch`: has 4 entries but the inputs have N = 5 nodes",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        batch=torch.zeros(4, dtype=torch.long),
    )


def test_num_graphs_below_the_batch_is_refused(egnn: torch.nn.Module) -> None:
    """It used to raise IndexError deep in the graph."""
    refused(
        "GEO615",
        "graph indices must lie in [0, num_graphs) = [0, 2)",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        batch=torch.tensor([0, 0, 1, 1, 2]),
        num_graphs=2,
    )
    refused(
        "GEO615",
        "must be >= 0",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        batch=torch.tensor([0, 0, -1, 1, 1]),
    )


@pytest.mark.parametrize("batch", [None, torch.zeros(5, dtype=torch.long)])
def test_zero_graphs_are_refused(egnn: torch.nn.Module, batch) -> None:
    """``num_graphs=0`` used to drop the graph silently."""
    refused(
        "GEO616",
        "input `num_graphs`: must be at least 1, got 0",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        batch=batch,
        num_graphs=0,
    )


def test_several_graphs_without_a_batch_are_refused(egnn: torch.nn.Module) -> None:
    refused(
        "GEO616",
        "is 3 but no `batch`",
        egnn,
        h=torch.randn(5, 16),
        x=torch.randn(5, 3),
        num_graphs=3,
    )


def test_edge_index_in_e_by_2_layout_is_refused(graph: torch.nn.Module) -> None:
    """It used to be read as ``[2, E]`` and change the result."""
    refused(
        "GEO614",
        "expected [2, E] (row 0 src, row 1 dst), got [3, 2] (an [E, 2] layout: "
        "pass `edge_index.t()`)",
        graph,
        h=torch.randn(4, 4),
        g=torch.randn(3),
        edge_index=EDGE_INDEX.t(),
    )


def test_edge_index_must_hold_node_indices(graph: torch.nn.Module) -> None:
    h, g = torch.randn(4, 4), torch.randn(3)
    refused(
        "GEO614",
        "expected integer node indices, got torch.float32",
        graph,
        h=h,
        g=g,
        edge_index=EDGE_INDEX.float(),
    )
    refused(
        "GEO614",
        "node indices must lie in [0, N) = [0, 4)",
        graph,
        h=h,
        g=g,
        edge_index=EDGE_INDEX + 1,
    )


def test_a_shared_global_input_with_a_batch_is_one_row_per_graph(graph: torch.nn.Module) -> None:
    """A global ``[C]`` next to a ``batch`` is one value for every graph, for every operator:
    it used to meet per-graph values as a vector (a ``concat`` with a pooled value failed, a
    ``linear`` of it gave one row for all graphs). Other row counts are refused."""
    model = geoc_compile(GLOBAL_SPEC)
    h, g = torch.randn(4, 4), torch.randn(3)
    common = {"h": h, "edge_index": EDGE_INDEX, "batch": BATCH, "num_graphs": 2}
    shared, rows = model(g=g, **common), model(g=g.expand(2, 3), **common)
    assert shared["y"].shape == (2, 7) and shared["z"].shape == (2, 2)
    assert all(torch.equal(shared[k], rows[k]) for k in rows)
    expected = "input `g`: expected [num_graphs, 3] = [2, 3] (3 x scalar, one row per graph)"
    refused("GEO611", expected, model, g=torch.randn(3, 3), **common)


def test_a_global_input_of_one_graph_is_a_vector_or_one_row(graph: torch.nn.Module) -> None:
    g, common = torch.randn(3), {"h": torch.randn(4, 4), "edge_index": EDGE_INDEX}
    assert torch.equal(graph(g=g, **common)["y"], graph(g=g[None], **common)["y"])
    refused(
        "GEO611",
        "input `g`: expected [num_graphs, 3] = [1, 3] (3 x scalar, one row per graph)",
        graph,
        g=torch.randn(2, 3),
        **common,
    )


def test_pools_over_an_empty_set_are_zero() -> None:
    """A sum over no element is 0; the mean and max of none are 0 too (the convention of the
    scatter kernels for a node without edges, and PyG's): ``max`` used to raise."""
    model = geoc_compile(POOLS_SPEC)
    for out in (
        model(x=torch.randn(0, 3)),
        model(x=torch.randn(0, 3), batch=torch.zeros(0, dtype=torch.long), num_graphs=2),
    ):
        assert all(torch.equal(v, torch.zeros_like(v)) for v in out.values()), out


def test_deepsets_on_an_empty_set_is_its_readout_of_zero() -> None:
    """DeepSets used to crash on an empty set; its sum is 0, so its output is the readout's."""
    model = geoc_compile("deepsets", dtype=torch.float64)
    out = model(x=torch.zeros(0, 8, dtype=torch.float64))["y"]
    assert out.shape == (1,) and torch.isfinite(out).all()
    assert torch.equal(out, model(x=torch.zeros(0, 8, dtype=torch.float64))["y"])


def test_nequip_on_no_atoms_has_zero_energy() -> None:
    model = geoc_compile("nequip", params={"depth": 1}, dtype=torch.float64)
    f64 = {"dtype": torch.float64}
    out = model(z=torch.zeros(0, dtype=torch.long), pos=torch.zeros(0, 3, **f64))
    assert torch.equal(out["energy"], torch.zeros(1, **f64))


def test_sphere_and_torus_grids_are_free_within_their_limits() -> None:
    sfno = geoc_compile("sfno")
    assert sfno(u=torch.randn(2, 3, 64, 128))["v"].shape == (2, 3, 64, 128)
    refused(
        "GEO611",
        "input `u`: expected [B, 3, nlat, nlon] (3 x scalar over sphere), got [2, 3, 64]",
        sfno,
        u=torch.randn(2, 3, 64),
    )
    refused("GEO662", "input `u`: the equiangular grid 16x32 cannot hold", sfno,
            u=torch.randn(2, 3, 16, 32))  # fmt: skip
    fno = geoc_compile("fno")
    assert fno(a=torch.randn(2, 1, 32, 48))["u"].shape == (2, 1, 32, 48)
    refused("GEO611", "input `a`: expected [B, 1, n1, n2]", fno, a=torch.randn(2, 3, 32, 32))


def test_a_grid_rotated_by_90_degrees_must_be_square() -> None:
    p4cnn = geoc_compile("p4cnn")
    assert p4cnn(x=torch.randn(2, 1, 20, 20))["logits"].shape == (2, 10)
    refused(
        "GEO611",
        "expected a square grid (the group rotates it), got [20, 24]",
        p4cnn,
        x=torch.randn(2, 1, 20, 24),
    )


def test_weight_space_inputs_are_checked_layer_by_layer() -> None:
    model = geoc_compile("dwsnet")
    ir = model.meta["geoc_ir"]
    (name,) = ir.inputs
    sizes = WeightSpace.of(ir.domain).sizes
    good = [torch.randn(2, *shape) for shape in WeightSpace.of(ir.domain).shapes]
    model(**{name: good})
    refused("GEO611", f"expected a list of {len(good)} tensors", model, **{name: good[:-1]})
    bad = [*good[:-1], torch.randn(3, sizes[-1])]
    refused("GEO612", "has 3 networks but", model, **{name: bad})


def test_validate_false_leaves_the_checks_out(egnn: torch.nn.Module) -> None:
    bare = geoc_compile("egnn", params={"depth": 1}, validate=False)
    kernels = {getattr(n.target, "__module__", "") for n in bare.graph.nodes}
    assert validate_kernels.__name__ not in kernels
    assert "unexpected" not in bare.code
    inputs = {"h": torch.randn(5, 16), "x": torch.randn(5, 3)}
    assert all(torch.equal(bare(**inputs)[k], v) for k, v in egnn(**inputs).items())


@pytest.mark.slow
def test_the_validated_module_traces_and_keeps_its_value_checks(egnn: torch.nn.Module) -> None:
    """``torch.compile(fullgraph=True)`` and ``torch.export`` trace the checks; the value
    checks (batch in range) stay in the exported program as assertions."""
    batch = torch.arange(2).repeat_interleave(3)
    inputs = {"h": torch.randn(6, 16), "x": torch.randn(6, 3), "batch": batch, "num_graphs": 2}
    assert_captures(egnn, inputs, atol=1e-6)
    program = torch.export.export(egnn, (), inputs).module()
    with pytest.raises(RuntimeError, match=re.escape("GEO615: input `batch`")):
        program(**{**inputs, "batch": batch + 1})
    compiled = torch.compile(egnn.forward, fullgraph=True, backend="aot_eager")
    with pytest.raises(RuntimeError, match=re.escape("GEO615: input `batch`")):
        compiled(**{**inputs, "batch": batch + 1})


def test_the_exported_folder_refuses_bad_inputs(tmp_path: Path, egnn: torch.nn.Module) -> None:
    folder = write_folder(egnn, tmp_path / "egnn")
    script = textwrap.dedent(f"""
        import importlib.util, sys, torch
        spec = importlib.util.spec_from_file_location(
            "egnn", {str(folder / "__init__.py")!r}, submodule_search_locations=[{str(folder)!r}])
        module = importlib.util.module_from_spec(spec); sys.modules["egnn"] = module
        spec.loader.exec_module(module)
        model = module.load()
        h, x, batch = torch.randn(5, 16), torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 2])
        for inputs in ({{"h": torch.randn(5, 8), "x": x}}, {{"h": h}},
                       {{"h": h, "x": x, "batch": batch, "num_graphs": 2}}):
            try:
                model(**inputs)
            except ValueError as err:
                print(err.code, err)
        assert "geoc" not in sys.modules
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, cwd=tmp_path, capture_output=True, text=True
    ).stdout.splitlines()
    assert out == [
        "GEO611 GEO611: input `h`: expected [N, 16] (16 x scalar over nodes), got [5, 8]",
        "GEO610 GEO610: input `x`: missing; this model takes `h`, `x`, `batch`, `num_graphs`",
        "GEO615 GEO615: input `batch`: graph indices must lie in [0, num_graphs) = [0, 2)",
    ]


RADIUS_EDGES = """model R() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(1.0))
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    output d: scalar over edges = sqnorm(r)
}"""


def test_an_output_over_radius_edges_holds_the_live_edges_with_their_index() -> None:
    """Without a ``batch`` it used to return all n² masked pairs, self-pairs and pairs beyond
    the cutoff included; now one row per edge, with ``edge_index`` as ``radius_graph`` has it,
    and the same with a ``batch``."""
    model = geoc_compile(RADIUS_EDGES, dtype=torch.float64)
    pos = torch.tensor([[0.0, 0, 0], [0.5, 0, 0], [3, 0, 0], [3.25, 0, 0]], dtype=torch.float64)
    for out in (model(pos=pos), model(pos=pos, batch=torch.zeros(4, dtype=torch.long))):
        src, dst = out["edge_index"]
        assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [
            (0, 1),
            (1, 0),
            (2, 3),
            (3, 2),
        ]
        assert torch.equal(out["d"][:, 0], (pos[dst] - pos[src]).pow(2).sum(-1))


def test_the_cli_switch_leaves_the_checks_out_of_the_exported_code(capsys) -> None:
    from geoc.cli import main

    for flags, checked in (([], True), (["--no-validate"], False)):
        assert main(["compile", "deepsets", "--emit", "code", *flags]) == 0
        code = capsys.readouterr().out
        assert ("rt_validate.check_value(x, 'x'" in code) is checked
        signature = "def forward(self, x = None, batch = None, num_graphs = None, **unexpected):"
        assert (signature in code) is checked


@pytest.mark.slow
def test_many_validated_modules_compile_in_one_process() -> None:
    """The checks live in each module's own generated code: nothing shared makes dynamo
    recompile one code object per module (a forward pre-hook did, failing after eight)."""
    x = torch.randn(5, 8)
    for hidden in range(4, 14):
        model = geoc_compile("deepsets", params={"hidden": hidden})
        out = torch.compile(model, fullgraph=True, backend="eager")(x=x)
        assert torch.allclose(out["y"], model(x=x)["y"], atol=1e-6)
