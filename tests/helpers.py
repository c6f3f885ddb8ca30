"""Checks that several test modules share (import as ``helpers``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from geoc.diagnostics import GeoError
from geoc.elaborate import elaborate
from geoc.grammar.parser import parse
from geoc.ir import Graph, ValueRef
from geoc.pipeline import check_equivariance, frontend
from geoc.program import load_program
from geoc.types import FeatureType


def marked(text: str) -> tuple[str, tuple[int, int]]:
    """Remove the ``@`` marker and return where it stood (1-based line and column)."""
    before = text[: text.index("@")]
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return text.replace("@", "", 1), (line, col)


def assert_fails_at(
    text_with_marker: str, code: str, run: Callable[[str], object] = frontend
) -> GeoError:
    """``run(text)`` raises ``code`` as its first diagnostic, its primary span starting at the
    ``@`` marker; returns the error."""
    text, where = marked(text_with_marker)
    with pytest.raises(GeoError) as info:
        run(text)
    first = info.value.diagnostics[0]
    assert (first.code, (first.span.line, first.span.col)) == (code, where), info.value.render()
    return info.value


def assert_type_round_trips(text: str, same_text: bool = True) -> None:
    """The type ``text`` parses back from its own text, which (if ``same_text``) is ``text``."""
    ftype = FeatureType.parse(text)
    if same_text:
        assert str(ftype) == text
    assert FeatureType.parse(str(ftype)) == ftype


def type_error_codes(text: str) -> list[str]:
    """The diagnostic codes of parsing the type ``text``, which must fail."""
    with pytest.raises(GeoError) as info:
        FeatureType.parse(text)
    return info.value.codes


def elaborated(text: str) -> Graph:
    """The typed graph of ``text``, dead values kept (the value under test is often unused)."""
    return elaborate(load_program(parse(text), text, None))


def checked_type(text: str, value: str = "y") -> str:
    """The type of ``value`` in ``text``, which must also satisfy its equivariance contract."""
    graph = elaborated(text)
    assert check_equivariance(graph) == []
    return str(graph.type_of(ValueRef(node=value)))


@dataclass(frozen=True)
class InlineSpec:
    """Small inline specs for typing tests: ``header`` (a model's first lines, with ``{group}``
    and ``{domain}`` to fill in), the statements under test, then ``tail``."""

    header: str
    group: str
    domain: str
    tail: str = "\n    output z: 4 x scalar = g\n}\n"
    value: str = "y"  # the value that ``infer`` binds and types

    def text(self, body: str, group: str | None = None, domain: str | None = None) -> str:
        filled = self.header.format(group=group or self.group, domain=domain or self.domain)
        return filled + body + self.tail

    def infer(self, expr: str, group: str | None = None, domain: str | None = None) -> str:
        """The type of ``value = expr``, which must also satisfy its equivariance contract."""
        return checked_type(self.text(f"    {self.value} = {expr}", group, domain), self.value)

    def assert_error(
        self, body: str, code: str, group: str | None = None, domain: str | None = None
    ) -> GeoError:
        """``body`` (with an ``@``) fails with ``code`` whose primary span starts at the ``@``."""
        return assert_fails_at(self.text(body, group, domain), code)


def assert_captures(
    model: torch.nn.Module, inputs: dict[str, Any], atol: float
) -> dict[str, torch.Tensor]:
    """``torch.compile(fullgraph=True)`` (``aot_eager``, inductor is slow here) and
    ``torch.export`` of ``model`` give its eager outputs; returns those."""
    expected = model(**inputs)
    traced = torch.compile(model, fullgraph=True, backend="aot_eager")(**inputs)
    exported = torch.export.export(model, (), inputs).module()(**inputs)
    for name, value in expected.items():
        assert torch.allclose(traced[name], value, atol=atol), name
        assert torch.allclose(exported[name], value, atol=atol), name
    return expected


def run_exported(folder: Path, inputs: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The outputs of an exported folder's model on ``inputs``, run in a fresh interpreter
    that must not import geoc."""
    torch.save(inputs, tmp_path / "inputs.pt")
    script = textwrap.dedent(f"""
        import importlib.util, sys, torch
        spec = importlib.util.spec_from_file_location(
            "{folder.name}", {str(folder / "__init__.py")!r},
            submodule_search_locations=[{str(folder)!r}])
        module = importlib.util.module_from_spec(spec); sys.modules["{folder.name}"] = module
        spec.loader.exec_module(module)
        out = module.load()(**torch.load({str(tmp_path / "inputs.pt")!r}))
        assert not any(name.startswith("geoc") for name in sys.modules), "geoc was imported"
        torch.save(out, {str(tmp_path / "out.pt")!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    return torch.load(tmp_path / "out.pt")


def header(params: str, lines: list[str]) -> str:
    """The first lines of a small inline model ``M(params)`` for `InlineSpec`: ``{group}`` and
    ``{domain}`` to fill in, then ``lines`` (its inputs and statements, indented), one a line."""
    body = "".join(f"{line}\n" for line in lines)
    return f"model M({params}) {{{{\n    symmetry {{group}}\n    domain   {{domain}}\n{body}"


def randomised(text: str, seed: int = 0) -> torch.nn.Module:
    """``text`` compiled in float64 with every parameter drawn at random, not the initial ones
    (initial weights can hide a bug: a ReLU that is zero on every trial)."""
    from geoc.backends.torch_fx.api import compile as geoc_compile

    module = geoc_compile(text, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float64))
    return module


def periodic_system(kind: str, atoms: int, seed: int, cutoff: float) -> dict[str, torch.Tensor]:
    """One periodic graph in float64 as nequip takes it: integer species ``z`` (4 kinds),
    positions anywhere (not wrapped), its ``cell`` and ``pbc``; ``kind`` is ``bulk``, ``tiny``
    (lattice vectors shorter than the cutoff), ``slab`` or ``molecule`` (the checker's cells)."""
    import numpy as np

    from geoc.backends.torch_fx.domains.cells import periodic_graph

    rng = np.random.default_rng(seed)
    cell, pbc, pos = periodic_graph(rng, kind, atoms, cutoff)
    return {
        "z": torch.as_tensor(rng.integers(0, 4, atoms)),
        "pos": torch.as_tensor(pos),
        "cell": torch.as_tensor(cell),
        "pbc": torch.as_tensor(pbc),
    }


#: A prelude for a fresh interpreter that must run an exported folder without geoc: any import
#: of geoc raises; ``import_folder(folder, name)`` imports the folder as the package ``name``.
NO_GEOC = textwrap.dedent("""
    import importlib.abc, importlib.util, sys, torch

    class NoGeoc(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "geoc" or name.startswith("geoc."):
                raise ImportError("the exported folder imported geoc")

    sys.meta_path.insert(0, NoGeoc())

    def import_folder(folder, name):
        spec = importlib.util.spec_from_file_location(
            name, folder + "/__init__.py", submodule_search_locations=[folder])
        package = importlib.util.module_from_spec(spec); sys.modules[name] = package
        spec.loader.exec_module(package)
        return package
""")


def assert_stress_is_strain_derivative(module: torch.nn.Module, inputs: dict) -> None:
    """``energy_forces_stress``'s stress equals the central difference of the energy under a
    symmetric strain of positions and cell, per Voigt component (1e-6 of the largest entry),
    divided by the volume; float64 inputs of one periodic graph."""
    import geoc

    stress = geoc.energy_forces_stress(module, inputs)["stress"][0]
    volume = float(torch.linalg.det(inputs["cell"]).abs())
    step = 1e-5
    for i, j in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        direction = torch.zeros(3, 3, dtype=torch.float64)
        direction[i, j] = direction[j, i] = 1.0
        plus = _strained_energy(module, inputs, step * direction)
        minus = _strained_energy(module, inputs, -step * direction)
        numeric = (plus - minus) / (2 * step) / volume
        expected = float((stress * direction).sum())
        assert abs(expected - numeric) <= 1e-6 * float(stress.abs().max()), (i, j)


def _strained_energy(module: torch.nn.Module, inputs: dict, strain: torch.Tensor) -> float:
    deformation = torch.eye(3, dtype=torch.float64) + strain
    moved = {**inputs, "pos": inputs["pos"] @ deformation, "cell": inputs["cell"] @ deformation}
    return float(module(**moved)["energy"].detach().sum())


def batch_of(sizes: list[int]) -> torch.Tensor:
    """The ``batch`` vector of graphs with ``sizes`` elements each, in order."""
    return torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))


def as_pairs(edges) -> set[tuple[int, int]]:
    """An edge set ``(src, dst, mask)`` as the set of its live ``(src, dst)`` pairs."""
    src, dst, mask = edges
    keep = torch.ones_like(src, dtype=torch.bool) if mask is None else mask != 0
    return set(zip(src[keep].tolist(), dst[keep].tolist(), strict=True))
