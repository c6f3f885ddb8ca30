"""The Cartesian family: outer products, contractions, parts and Levi-Civita maps of tensors."""
