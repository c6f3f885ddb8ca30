model M() {
    symmetry trivial
    input h: scalar
    output y: scalar
}
