# Vectors flip under inversion, pseudovectors do not: their only equivariant map is zero.
model LinearVectorToPseudovector() {
    symmetry O(3)
    input v: 4 x vector
    output w: pseudovector = linear(v, pseudovector)
}
