"""geoc: a compiler for geometric deep learning.

``.geo`` specs describe a network by its symmetry group, its domain and its operators; geoc
parses them, proves equivariance by type rules and lowers them to ``torch.fx`` modules.

>>> import geoc
>>> module = geoc.parse("model M() { symmetry trivial }")
>>> [m.name.id for m in module.models]
['M']

``geoc.compile`` (spec to ``torch.fx.GraphModule``) lives in the torch backend; it is loaded
on first use, so ``import geoc`` itself never imports torch.
"""

from typing import Any

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.grammar.parser import parse, parse_file

__version__ = "0.1.0"

# Public names loaded on first access: attribute -> module that defines it. `compile` needs torch;
# the builder pulls in the whole middle end, which `import geoc` alone does not need.
_LAZY = {
    "compile": "geoc.backends.torch_fx.api",
    "Builder": "geoc.builder",
    "InputError": "geoc.backends.torch_fx.common.validate_kernels",  # a module refused an input
    "energy_forces_stress": "geoc.backends.torch_fx.atomistic",  # periodic potentials
    "export_potential": "geoc.backends.torch_fx.potential",  # energy + forces, torch.export
    "save": "geoc.backends.torch_fx.saving",  # a trained module to a folder
    "load": "geoc.backends.torch_fx.saving",  # ... and back
    "GeocCalculator": "geoc.backends.torch_fx.calculator",  # ASE calculator (needs ase)
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'geoc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this hook
    return value


__all__ = [
    "Builder",
    "Diagnostic",
    "GeoError",
    "GeocCalculator",
    "InputError",
    "Span",
    "__version__",
    "compile",
    "energy_forces_stress",
    "export_potential",
    "load",
    "parse",
    "parse_file",
    "save",
]
