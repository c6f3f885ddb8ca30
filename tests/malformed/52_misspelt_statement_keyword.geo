model M() {
    symmetry trivial
    inptu h: 16 x scalar
}
