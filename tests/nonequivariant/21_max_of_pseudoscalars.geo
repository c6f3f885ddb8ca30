# max(-a) = -min(a): a reflection turns the max of pseudoscalars into a min.
model MaxOfPseudoscalars() {
    symmetry O(3) x S(set)
    domain   set(set)
    input a: 4 x pseudoscalar over set
    output y: 4 x pseudoscalar = max(a, over=set)
}
