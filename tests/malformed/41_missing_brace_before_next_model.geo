model A() {
    symmetry trivial

model B() {
    symmetry trivial
}
