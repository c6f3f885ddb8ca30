model M {
    symmetry trivial
}
