# The body of M is never closed.
model M() {
    symmetry trivial
    input h: 16 x scalar
    output y: 16 x scalar = h
