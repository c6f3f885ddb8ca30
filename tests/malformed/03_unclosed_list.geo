model M() {
    symmetry trivial
    input h: 16 x scalar
    output y: scalar = mlp(h, [16, 1)
}
