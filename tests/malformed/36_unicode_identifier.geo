model M() {
    symmetry trivial
    input h: 16 x scalar
    hé = h
}
