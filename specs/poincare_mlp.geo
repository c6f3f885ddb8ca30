# Hyperbolic neural network in the Poincaré ball (Ganea, Bécigneul & Hofmann, 2018)
model PoincareMLP(features: int = 16, dim: int = 8, classes: int = 4, c: float = 1.0) {
    symmetry trivial
    input x: features x scalar
    h = expmap0(linear(x, dim x scalar), manifold=poincare(dim, c=c))
    repeat 2 {
        h = mobius_linear(h, dim, act=tanh)
    }
    h = mobius_add(h, mobius_linear(h, dim))  # a hyperbolic residual connection
    output logits: classes x scalar = poincare_mlr(h, classes)
}
