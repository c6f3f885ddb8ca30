model M() {
    symmetry E(3)
    input h: 16 x
}
