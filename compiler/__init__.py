"""geoc: a compiler for geometric deep learning.

``.geo`` specs describe a network by its symmetry group, its domain and its operators; geoc
parses them, proves equivariance by type rules and lowers them to ``torch.fx`` modules.

>>> import geoc
>>> module = geoc.parse("model M() { symmetry trivial }")
>>> [m.name.id for m in module.models]
['M']
"""

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.grammar.parser import parse, parse_file

__version__ = "0.1.0"

__all__ = ["Diagnostic", "GeoError", "Span", "__version__", "parse", "parse_file"]
