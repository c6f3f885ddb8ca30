"""The Clifford family: multivector products, grade maps and CGENN layers (docs/clifford.md)."""
