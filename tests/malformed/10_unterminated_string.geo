import "stdlib/egnn.geo

model M() {
    symmetry trivial
}
