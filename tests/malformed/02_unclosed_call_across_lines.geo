model M() {
    symmetry trivial
    input h: 16 x scalar
    y = linear(h,
               16 x scalar
    output o: 16 x scalar = y
}
