model M(hidden: int = 16, depth: int = 2, hidden: int = 32) {
    symmetry trivial
}
