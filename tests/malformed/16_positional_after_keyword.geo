model M() {
    symmetry trivial
    input h: 16 x scalar
    y = mlp(h, act=silu, [16, 1])
}
