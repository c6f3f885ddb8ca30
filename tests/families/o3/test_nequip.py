"""The NequIP and eSCN specs end to end: they compile, pass `geoc check` in float64, export to
a folder plain PyTorch loads, capture with `torch.compile(fullgraph=True)` and `torch.export`;
and NequIP's `tp_conv` equals its definition (docs/operators.md) written with e3nn's uvu
`TensorProduct` and `o3.Linear`, weight for weight."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from e3nn import o3
from torch_env import float64_default

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify import check, record

#: Small sizes keep the suite fast; the defaults are checked by test_equivariance_specs.py.
SMALL = {
    "nequip": {"channels": 4, "depth": 2, "species": 3},
    "escn": {"channels": 4, "depth": 1, "hidden": 8, "species": 3},
}
#: For graph capture, fewer layers still reach every operator (tracing time grows with ops).
CAPTURE = {"nequip": {**SMALL["nequip"], "depth": 1}, "escn": {**SMALL["escn"], "depth": 0}}
NODES = 6


pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(spec: str, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    species = SMALL[spec]["species"]
    z = torch.randint(species, (NODES,), generator=gen)  # integer species, as ASE gives them
    return {"z": z, "pos": torch.randn(NODES, 3, generator=gen) * 1.5}


@pytest.mark.parametrize("spec", list(SMALL))
@pytest.mark.parametrize("graphs", [1, 2])
def test_spec_passes_check(spec: str, graphs: int) -> None:
    report = check(spec, params=SMALL[spec], graphs=graphs, trials=4, nodes=NODES, every_value=True)
    assert report.passed, report.render()
    assert report.max_error < 1e-10
    assert "rotation+reflection" in report.render() and "permutation" in report.render()


@pytest.mark.parametrize("spec", list(SMALL))
def test_fullgraph_capture_and_export(spec: str) -> None:
    model = geoc_compile(spec, params=CAPTURE[spec])
    inputs = _inputs(spec)
    expected = model(**inputs)["energy"]
    traced = torch.compile(model, fullgraph=True, backend="aot_eager")(**inputs)["energy"]
    exported = torch.export.export(model, (), inputs).module()(**inputs)["energy"]
    assert torch.allclose(traced, expected, atol=1e-5)
    assert torch.allclose(exported, expected, atol=1e-5)


def test_export_folders_load_without_geoc(tmp_path: Path) -> None:
    """Both specs, written with `geoc compile -o`, run in a Python that never imports geoc."""
    folders, expected = {}, {}
    for spec in SMALL:
        model = geoc_compile(spec, params=SMALL[spec], seed=3)
        folders[spec] = write_folder(model, tmp_path / spec, f"specs/{spec}.geo")
        assert (folders[spec] / "geoc_runtime_o3.py").exists()
        torch.save(_inputs(spec), tmp_path / f"{spec}_inputs.pt")
        expected[spec] = model(**_inputs(spec))["energy"]
    script = textwrap.dedent(f"""
        import importlib.util, sys, torch
        torch.set_num_threads(1)  # as the test's own module ran: the same reduction order
        for name in {list(SMALL)!r}:
            folder = {str(tmp_path)!r} + "/" + name
            spec = importlib.util.spec_from_file_location(
                name, folder + "/__init__.py", submodule_search_locations=[folder])
            module = importlib.util.module_from_spec(spec); sys.modules[name] = module
            spec.loader.exec_module(module)
            inputs = torch.load({str(tmp_path)!r} + f"/{{name}}_inputs.pt")
            torch.save(module.load()(**inputs), {str(tmp_path)!r} + f"/{{name}}_out.pt")
        assert not any(m.startswith("geoc") for m in sys.modules), "geoc was imported"
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    for spec in SMALL:
        loaded = torch.load(tmp_path / f"{spec}_out.pt")["energy"]
        assert torch.equal(loaded, expected[spec])


# ---------------------------------------------------------------------------------------------
# tp_conv against its definition, built from e3nn pieces


def conv_reference(
    params: dict[str, torch.Tensor],
    prefix: str,
    h: torch.Tensor,
    sh: torch.Tensor,
    w: torch.Tensor,
    edges: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    irreps: tuple[str, str, str],
    parity: bool = True,
) -> torch.Tensor:
    """NequIP's convolution: W_e = mlp(w_e) (silu, 2 layers); e3nn's uvu TensorProduct of
    h[src] and sh over every path whose output irrep is in `out` (NequIP's instruction
    list); messages summed into dst; then o3.Linear with biases to `out`. Without ``parity``
    (SO(3)) the irreps must be given all even, and geoc names its blocks by degree."""
    irreps_h, irreps_sh, irreps_out = (o3.Irreps(i) for i in irreps)
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_h):
        for j, (_, ir_edge) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_edge:
                if ir_out in irreps_out:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    tp = o3.TensorProduct(
        irreps_h, irreps_sh, o3.Irreps(mid), instructions, shared_weights=False,
        internal_weights=False,
    ).to(h.dtype)  # fmt: skip
    hidden = F.silu(
        F.linear(w, params[f"{prefix}.radial.0.weight"], params[f"{prefix}.radial.0.bias"])
    )
    weights = F.linear(
        hidden, params[f"{prefix}.radial.1.weight"], params[f"{prefix}.radial.1.bias"]
    )
    src, dst, mask = edges
    messages = tp(h[src], sh, weights)
    if mask is not None:
        messages = messages * mask[:, None]
    summed = messages.new_zeros(h.shape[0], messages.shape[1]).index_add(0, dst, messages)
    linear = _e3nn_linear(params, f"{prefix}.update", o3.Irreps(mid), irreps_out, parity)
    return linear(summed)


def _e3nn_linear(
    params: dict[str, torch.Tensor],
    prefix: str,
    irreps_in: o3.Irreps,
    irreps_out: o3.Irreps,
    parity: bool = True,
) -> o3.Linear:
    """o3.Linear holding geoc's Schur weights. e3nn scales each path by 1/sqrt(fan_in) (all
    input copies of the irrep), so its weight for (input term i, output term o) is geoc's block
    W[o's copies, i's copies] transposed, times sqrt(fan_in)."""
    linear = o3.Linear(irreps_in, irreps_out, biases=True).to(torch.float64)
    first_in, fan_in = _first_copies(irreps_in)
    first_out, _ = _first_copies(irreps_out)
    with torch.no_grad():
        offset = 0
        for ins in (i for i in linear.instructions if i.i_in >= 0):  # i_in = -1: biases
            (mul_in, ir), mul_out = irreps_in[ins.i_in], irreps_out[ins.i_out].mul
            key = ir if parity else ir.l  # geoc's Schur key: `1o` under O(3), `1` under SO(3)
            weight = params.get(f"{prefix}.weight_{key}", params.get(f"{prefix}.weight"))
            a, b = first_in[ins.i_in], first_out[ins.i_out]
            block = weight[b : b + mul_out, a : a + mul_in].T * math.sqrt(fan_in[ir])
            linear.weight[offset : offset + block.numel()] = block.reshape(-1)
            offset += block.numel()
        bias = params.get(f"{prefix}.bias_{'0e' if parity else '0'}", params.get(f"{prefix}.bias"))
        linear.bias.copy_(bias)
    return linear


def _first_copies(irreps: o3.Irreps) -> tuple[list[int], dict[o3.Irrep, int]]:
    """Per term, the copies of its irrep before it; and each irrep's total copies."""
    seen: dict[o3.Irrep, int] = {}
    first = []
    for mul, ir in irreps:
        first.append(seen.get(ir, 0))
        seen[ir] = seen.get(ir, 0) + mul
    return first, seen


def test_nequip_tp_conv_equals_its_definition() -> None:
    params = {"channels": 3, "depth": 2, "species": 3, "lmax": 2}
    model = geoc_compile("nequip", params=params, seed=1, dtype=torch.float64)
    inputs = _inputs("nequip", seed=4)
    inputs["pos"] = inputs["pos"].double()
    recorder = record(model, inputs)
    values, state = recorder.values, dict(model.state_dict())
    irreps_sh = "0e + 1o + 2e"
    out = "3x0e + 3x1o + 3x2e"
    for layer, h_in in (("layers.0.h.tp_conv", "h"), ("layers.1.h.tp_conv", "layers.0.h")):
        irreps_h = "3x0e" if h_in == "h" else out
        with float64_default():
            expected = conv_reference(
                state, layer, values[h_in], values["sh"], values["w"], recorder.edges,
                (irreps_h, irreps_sh, out),
            )  # fmt: skip
        assert torch.allclose(values[layer], expected, atol=1e-12), layer


def test_tp_conv_without_reflections_equals_its_definition() -> None:
    """Under SE(3) parity is no symmetry: the definition holds with every irrep read as even,
    so parity-violating paths (1o x 1o -> 1o) are used."""
    out = "2x0e + 2x1o + 2x1e + 2x2e"
    text = f"""model M() {{
    symmetry SE(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)
    input h: 2x0e + 2x1o over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax=2)
    w = radial_basis(norm(r), n=4, cutoff=3.0)
    output y: {out} over nodes = tp_conv(h, sh, w, out={out}, hidden=8)
}}
"""
    model = geoc_compile(text, seed=2, dtype=torch.float64)
    inputs = {"h": torch.randn(NODES, 8, dtype=torch.float64)}
    inputs["pos"] = torch.randn(NODES, 3, dtype=torch.float64)
    recorder = record(model, inputs)
    values = recorder.values
    with float64_default():
        expected = conv_reference(
            dict(model.state_dict()), "y", inputs["h"], values["sh"], values["w"],
            recorder.edges, ("2x0e + 2x1e", "0e + 1e + 2e", "2x0e + 2x1e + 2x1e + 2x2e"),
            parity=False,
        )  # fmt: skip
    assert torch.allclose(values["y"], expected, atol=1e-12)
