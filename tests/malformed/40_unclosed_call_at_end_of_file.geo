model M() {
    symmetry trivial
    input h: 16 x scalar
    output y: 16 x scalar = linear(h, 16 x scalar
