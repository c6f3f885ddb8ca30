model M() {
    symmetry trivial
} x
