model M(a b) {
    symmetry trivial
}
