"""Elaboration: AST -> typed IR (:mod:`geoc.elaborate.elaborator`)."""

from geoc.elaborate.elaborator import (
    Const,
    Elaborator,
    Value,
    bind_params,
    const_value,
    elaborate,
)

__all__ = ["Const", "Elaborator", "Value", "bind_params", "const_value", "elaborate"]
