# Schur: no non-zero equivariant linear map takes invariants to a vector.
model LinearScalarsToVector() {
    symmetry O(3)
    input s: 16 x scalar
    output v: vector = linear(s, vector)
}
