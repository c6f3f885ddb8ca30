# Statements belong inside a model.
h = linear(x, 16 x scalar)
