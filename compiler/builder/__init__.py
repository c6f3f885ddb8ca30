"""Build a model from Python: the same AST as the parser, so the same IR and diagnostics."""

from geoc.builder.api import Block, Builder, BuilderError, Tensor, Text
from geoc.builder.sites import Site, parse_at

__all__ = ["Block", "Builder", "BuilderError", "Site", "Tensor", "Text", "parse_at"]
