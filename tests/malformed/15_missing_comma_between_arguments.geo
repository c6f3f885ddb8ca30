model M() {
    symmetry trivial
    input h: 16 x scalar
    y = linear(h 8 x scalar)
}
