# A reflection flips the sign of a pseudoscalar; relu(-a) != -relu(a).
model ReluOnPseudoscalars() {
    symmetry O(3)
    input a: 4 x pseudoscalar
    output y: 4 x pseudoscalar = act(a, relu)
}
