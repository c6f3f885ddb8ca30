model M(depth: int = 2) {
    symmetry trivial
    repeat depth {
        input h: 16 x scalar
    }
}
