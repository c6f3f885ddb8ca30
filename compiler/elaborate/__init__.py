"""Elaboration: AST -> typed IR.

* :mod:`~geoc.elaborate.elaborator`: binds parameters, the symmetry and the domain, then the
  statements (ports, assignments, ``repeat``).
* :mod:`~geoc.elaborate.expressions`: types every call by its operator's rules, expands block
  calls, and names every node after the spec; :mod:`~geoc.elaborate.values` what names bind.
* :mod:`~geoc.elaborate.signatures`: calls matched to parameters, attributes checked.
* :mod:`~geoc.elaborate.constants`: the one compile-time evaluator, which types, groups and
  domains also call; it is loaded first and alone, since those modules sit below the
  elaborator (the elaborator's names load on first use).
"""

from typing import Any

from geoc.elaborate.constants import const_value, evaluate

_ELABORATOR = ("Const", "Elaboration", "Elaborator", "Value", "elaborate", "elaborate_all")


def __getattr__(name: str) -> Any:
    if name == "bind_params":
        from geoc.elaborate.signatures import bind_params

        return bind_params
    if name not in _ELABORATOR:
        raise AttributeError(f"module 'geoc.elaborate' has no attribute {name!r}")
    from geoc.elaborate import elaborator

    return getattr(elaborator, name)


__all__ = [
    "Const",
    "Elaboration",
    "Elaborator",
    "Value",
    "bind_params",
    "const_value",
    "elaborate",
    "elaborate_all",
    "evaluate",
]
