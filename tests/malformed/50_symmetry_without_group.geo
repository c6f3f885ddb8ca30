model M() {
    symmetry
    input h: scalar
}
