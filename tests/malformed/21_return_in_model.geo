model M() {
    symmetry trivial
    input h: 16 x scalar
    return h
}
