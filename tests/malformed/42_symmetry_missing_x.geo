model M() {
    symmetry E(3) S(nodes)
}
