model M() {
    import "stdlib/egnn.geo"
    symmetry trivial
}
