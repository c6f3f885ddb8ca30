"""The built-in spec library (package data)."""
