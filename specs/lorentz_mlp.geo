# Fully hyperbolic network in the Lorentz model (Chen et al., 2022).
model LorentzMLP(features: int = 64, dim: int = 16, classes: int = 10) {
    symmetry trivial
    input x: features x scalar
    z = expmap0(linear(x, dim x scalar), manifold=lorentz(dim, k=1.0))
    repeat 3 {
        z = lorentz_linear(z, dim, act=relu)
    }
    output logits: classes x scalar = lorentz_mlr(z, classes)
}
