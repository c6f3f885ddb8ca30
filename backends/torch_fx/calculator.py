"""An ASE calculator over a geoc potential: ``geoc.GeocCalculator(module, species=[...])``.

ASE gives atomic numbers, positions (Å), ``atoms.cell`` (rows are lattice vectors) and
``atoms.pbc``; a geoc potential takes type indices ``0..species-1`` (``index(species)``), and
returns energy in the unit it was trained on (eV with ASE data). The calculator maps one to the
other and gives ``energy`` / ``free_energy`` (the same number: no electronic entropy),
``forces`` ``-dE/dpos`` (eV/Å) and, for a model with a periodic cell, ``stress`` in ASE's sign
and Voigt order (eV/Å³, ``geoc.energy_forces_stress``). Results are float64 numpy arrays, as
ASE expects, whatever dtype the model runs in.

The model is a compiled module (``geoc.compile``, trained or not) or a folder written by
``geoc.export_potential`` (its ``potential.py``, which runs without geoc). ASE is an optional
dependency (``pip install 'geoc[ase]'``); importing this module without it raises an
ImportError that says so.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

try:
    from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
    from ase.data import atomic_numbers, chemical_symbols
except ImportError as error:  # ase is an optional extra
    raise ImportError(
        "geoc.GeocCalculator needs ASE, an optional dependency: pip install 'geoc[ase]' "
        "(or pip install ase)"
    ) from error

from geoc.backends.torch_fx.atomistic import VOIGT, energy_forces_stress
from geoc.backends.torch_fx.verify.params import copy_with

#: ``species``: atomic numbers or chemical symbols in type-index order, or a mapping of either
#: to type indices.
SpeciesMap = Sequence[int | str] | Mapping[int | str, int]


class GeocCalculator(Calculator):
    """Energy, forces and (periodic models) stress of a geoc potential for ASE.

    ``module``: a compiled potential (a point cloud with radius edges, one integer species
    input and a global ``energy`` output) or the path of a folder written by
    ``geoc.export_potential``. ``species``: which element each type index is, e.g.
    ``["Cu", "Ni"]`` or ``[29, 28]`` (index 0 is Cu) or ``{29: 0, 28: 1}``. ``dtype``: the
    precision the model runs in (a compiled module is converted on a copy; the caller's module
    is untouched); ``device``: where it runs (``"cpu"``, ``"cuda"``).

    >>> import ase.build, geoc, torch
    >>> model = geoc.compile("nequip", {"periodic": True, "species": 1, "channels": 4,
    ...                                 "depth": 1, "cutoff": 3.0}, dtype=torch.float64)
    >>> atoms = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True)
    >>> atoms.calc = geoc.GeocCalculator(model, species=["Cu"])
    >>> atoms.get_forces().shape, atoms.get_stress().shape
    ((4, 3), (6,))
    """

    def __init__(
        self,
        module: torch.nn.Module | str | Path,
        species: SpeciesMap,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        energy: str = "energy",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(module, (str, Path)):
            self.model: _Model = _ExportedModel(Path(module), torch.device(device))
        else:
            self.model = _CompiledModel(module, torch.device(device), dtype, energy)
        self.lookup = _lookup_table(species, self.model.species)
        properties = ["energy", "free_energy", "forces"]
        self.implemented_properties = properties + (["stress"] if self.model.periodic else [])

    def calculate(
        self,
        atoms: Any = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        wants_stress = "stress" in properties
        if wants_stress and not (self.model.periodic and atoms.pbc.any()):
            raise PropertyNotImplementedError(
                "stress needs a model compiled with a periodic cell and atoms with a periodic "
                "axis (atoms.pbc)"
            )
        energy, forces, stress = self.model.evaluate(self._inputs(atoms), wants_stress)
        self.results = {
            "energy": float(energy.sum()),
            "free_energy": float(energy.sum()),
            "forces": _numpy(forces).reshape(-1, 3),
        }
        if stress is not None:
            self.results["stress"] = _numpy(stress).reshape(6)

    def _inputs(self, atoms: Any) -> dict[str, Tensor]:
        numbers = np.asarray(atoms.numbers)
        unknown = sorted({int(z) for z in numbers if z >= len(self.lookup) or self.lookup[z] < 0})
        if unknown:
            names = ", ".join(f"{chemical_symbols[z]} (Z={z})" for z in unknown)
            known = ", ".join(
                f"{chemical_symbols[z]} -> {self.lookup[z]}"
                for z in np.argsort(self.lookup)
                if self.lookup[z] >= 0
            )
            raise ValueError(f"the calculator has no species for {names}; its species: {known}")
        device, dtype = self.model.device, self.model.dtype
        inputs = {
            self.model.labels: torch.as_tensor(self.lookup[numbers], device=device),
            self.model.positions: torch.as_tensor(atoms.positions, dtype=dtype, device=device),
        }
        if self.model.periodic:
            inputs["cell"] = torch.as_tensor(np.asarray(atoms.cell), dtype=dtype, device=device)
            inputs["pbc"] = torch.as_tensor(np.asarray(atoms.pbc, dtype=bool), device=device)
        return inputs


class _Model:
    """What the calculator needs of a potential: its input names, dtype, device, periodicity,
    species count (None: unknown) and one evaluation."""

    labels: str
    positions: str
    periodic: bool
    species: int | None
    dtype: torch.dtype
    device: torch.device

    def evaluate(
        self, inputs: dict[str, Tensor], stress: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        raise NotImplementedError


class _CompiledModel(_Model):
    def __init__(
        self,
        module: torch.nn.Module,
        device: torch.device,
        dtype: torch.dtype | None,
        energy: str,
    ) -> None:
        ir = getattr(module, "meta", {}).get("geoc_ir")
        if ir is None or ir.positions is None:
            raise ValueError(
                "GeocCalculator needs a compiled geoc potential (geoc.compile of a point cloud "
                "with positions) or the folder of geoc.export_potential"
            )
        labels = [name for name, port in ir.inputs.items() if port.type.has_labels]
        if len(labels) != 1 or ir.outputs.get(energy) is None:
            raise ValueError(
                f"GeocCalculator needs a model with one species input `index(n)` (this one: "
                f"{labels or 'none'}) and an output `{energy}`"
            )
        own = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
        self.dtype = dtype or own or torch.get_default_dtype()
        self.device, self.energy, self.labels = device, energy, labels[0]
        self.positions, self.periodic = ir.positions, bool(ir.domain.cell)
        self.species = ir.inputs[self.labels].type.classes
        if own not in (None, self.dtype):
            module = copy_with(module, lambda _, value: value.to(self.dtype))
        self.module = module.to(device)

    def evaluate(
        self, inputs: dict[str, Tensor], stress: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        with torch.enable_grad():  # ASE may call from inside torch.no_grad()
            return self._evaluate(inputs, stress)

    def _evaluate(
        self, inputs: dict[str, Tensor], stress: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        if self.periodic:
            out = energy_forces_stress(self.module, inputs, self.energy, self.positions)
            return out["energy"].detach(), out["forces"], out["stress_voigt"] if stress else None
        pos = inputs[self.positions].requires_grad_(True)
        energy = self.module(**inputs)[self.energy]
        (grad,) = torch.autograd.grad(energy.sum(), pos)
        return energy.detach(), -grad, None


class _ExportedModel(_Model):
    """A folder of ``geoc.export_potential``: its ``potential.load()`` (no geoc inside)."""

    def __init__(self, folder: Path, device: torch.device) -> None:
        if not (folder / "potential.py").is_file():
            raise ValueError(f"{folder} is not a folder written by geoc.export_potential")
        self.potential = _import_folder(folder).potential.load(str(device))
        description = self.potential.description
        if len(description["labels"]) != 1:
            raise ValueError(f"{folder}: GeocCalculator needs one species input")
        self.labels, self.positions = description["labels"][0], description["positions"]
        self.periodic, self.species, self.device = bool(description["periodic"]), None, device
        self.dtype = getattr(torch, description["dtype"])

    def evaluate(
        self, inputs: dict[str, Tensor], stress: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        out = self.potential(**inputs)
        rows, cols = zip(*VOIGT, strict=True)
        voigt = out["stress"][0][list(rows), list(cols)] if stress else None
        return out["energy"].detach(), out["forces"].detach(), voigt


def _import_folder(folder: Path) -> Any:
    """The exported folder as a package of its own (its files import each other relatively)."""
    name = f"geoc_calculator_{abs(hash(str(folder.resolve())))}"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ValueError(f"{folder} has no __init__.py: not an exported geoc folder")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    package.potential = importlib.import_module(f"{name}.potential")
    return package


def _lookup_table(species: SpeciesMap, count: int | None) -> np.ndarray:
    """``lookup[Z]``: the type index of atomic number ``Z``, -1 where the model has none."""
    pairs = species.items() if isinstance(species, Mapping) else enumerate(species)
    if not isinstance(species, Mapping):
        pairs = [(element, index) for index, element in pairs]
    lookup = np.full(len(chemical_symbols), -1, dtype=np.int64)
    for element, index in pairs:
        z = _atomic_number(element)
        if count is not None and not 0 <= int(index) < count:
            raise ValueError(
                f"species {chemical_symbols[z]} -> type index {index}: the model has "
                f"{count} species (indices 0..{count - 1})"
            )
        if lookup[z] >= 0:
            raise ValueError(f"species {chemical_symbols[z]} is given twice")
        lookup[z] = int(index)
    return lookup


def _atomic_number(element: int | str) -> int:
    if isinstance(element, str):
        if element not in atomic_numbers:
            raise ValueError(f"{element!r} is not a chemical symbol")
        return atomic_numbers[element]
    if not 0 < int(element) < len(chemical_symbols):
        raise ValueError(f"{element} is not an atomic number")
    return int(element)


def _numpy(value: Tensor) -> np.ndarray:
    return value.detach().to("cpu", torch.float64).numpy()
