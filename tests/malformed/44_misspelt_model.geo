modle M() {
    symmetry trivial
}
