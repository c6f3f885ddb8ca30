"""The solver family: equivariant maps built from a numerically solved basis."""
