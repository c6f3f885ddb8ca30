model M() {
    symmetry trivial
    input h: 16 × scalar
}
