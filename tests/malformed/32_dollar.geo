model M() {
    symmetry trivial
    x = $hidden
}
