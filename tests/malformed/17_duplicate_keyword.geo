model M() {
    symmetry trivial
    input h: 16 x scalar
    y = mlp(h, [16, 1], act=silu, act=relu)
}
