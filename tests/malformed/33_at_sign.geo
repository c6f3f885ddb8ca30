model M() {
    symmetry trivial
    input a: scalar
    x = a @ a
}
