model M() {
    symmetry trivial
}
}
