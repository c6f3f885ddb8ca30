model M() {
    symmetry E(3) x S(nodes)
    input h: 16 x scalar over
}
