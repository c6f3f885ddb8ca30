model (hidden: int = 16) {
    symmetry trivial
}
