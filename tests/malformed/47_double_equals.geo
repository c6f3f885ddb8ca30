model M() {
    symmetry trivial
    input a: scalar
    b == a
}
