model M() {
    symmetry trivial
    input h: 16 x scalar
    output y: 16 x scalar = act(h, relu]
}
