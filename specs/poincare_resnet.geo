# Poincaré ResNet (van Spengler, Berkhout & Mettes, ICCV 2023, "Poincaré ResNet"): Poincaré convolutions (HNN++ β-concatenation + Poincaré fully connected layer), midpoint batch norm, residual blocks joined by Möbius addition, a gyromidpoint over the grid and a Poincaré MLR head; exactly equivariant under the cyclic shifts of the torus, T(2).
# Every feature map carries one point of the ball per grid point; ReLU acts in the tangent space at
# the origin, as in the authors' code. The residual is `f(x) ⊕ x` (their default "fr" skip); one
# resolution throughout: the paper's stride-2 stages would commute only with even shifts.
block residual(x: width x scalar over torus, width: int = 16) -> width x scalar over torus {
    p = expmap0(x, manifold=poincare(width, c=0.1))
    h = poincare_midpoint_batch_norm(poincare_conv(p, width, kernel=3))
    h = expmap0(act(logmap0(h), relu), manifold=poincare(width, c=0.1))
    h = poincare_midpoint_batch_norm(poincare_conv(h, width, kernel=3))
    return act(logmap0(mobius_add(h, p)), relu)
}

model PoincareResNet(channels: int = 3, width: int = 16, depth: int = 2, classes: int = 10) {
    symmetry T(2)
    domain torus(32, 32)
    input x: channels x scalar over torus  # an image, read as tangent vectors at the origin
    h = expmap0(x, manifold=poincare(channels, c=0.1))
    h = poincare_midpoint_batch_norm(poincare_conv(h, width, kernel=3))
    t = act(logmap0(h), relu)
    repeat depth {
        t = residual(t, width=width)
    }
    g = poincare_midpoint(expmap0(t, manifold=poincare(width, c=0.1)), over=torus)
    output logits: classes x scalar = poincare_mlr(g, classes)
}
