model M(depth: int = 2) {
    symmetry trivial
    input h: 16 x scalar
    repeat depth
    h = linear(h, 16 x scalar)
}
