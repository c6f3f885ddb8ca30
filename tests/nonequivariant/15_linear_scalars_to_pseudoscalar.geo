# Under O(3) a pseudoscalar flips under reflections, scalars do not (fine under SO(3)).
model LinearScalarsToPseudoscalar() {
    symmetry O(3)
    input s: 16 x scalar
    output p: pseudoscalar = linear(s, pseudoscalar)
}
