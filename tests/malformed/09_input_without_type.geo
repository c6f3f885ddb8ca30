model M() {
    symmetry trivial
    input h:
}
