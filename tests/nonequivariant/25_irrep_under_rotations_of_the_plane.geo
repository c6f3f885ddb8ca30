# O(3) irreps need rotations of R^3: under O(2) the `1o` key would meet the plane's 2-vector.
model IrrepUnderO2() {
    symmetry O(2)
    input v: vector
    h = linear(v, 1o)
    output y: scalar = norm(h)
}
