model M() {
    symmetry trivial
    input = 3
}
