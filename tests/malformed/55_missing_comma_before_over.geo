model M() {
    symmetry trivial
    input h: 16 x scalar over nodes
    y = sum(h over=nodes)
}
