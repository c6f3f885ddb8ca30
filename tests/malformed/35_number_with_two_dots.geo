model M(cutoff: float = 1.2.3) {
    symmetry trivial
}
