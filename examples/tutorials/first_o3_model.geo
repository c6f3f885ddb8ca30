# A first O(3) model, for docs/tutorials/first_o3_model.md: a set of 3-D vectors in, one vector
# out. Vectors are only ever scaled by invariants (`gate`, and the invariant features `s`),
# which commutes with every rotation and reflection.
model FirstO3(hidden: int = 16) {
    symmetry O(3) x S(items)
    domain set(items)
    input v: vector over items
    s = mlp(sqnorm(v), [hidden, hidden], act=silu)  # invariants: functions of |v|²
    h = gate(linear(concat(s, v), hidden x scalar + hidden x vector))
    h = gate(linear(h, hidden x scalar + hidden x vector))
    output y: vector = sum(linear(h, vector), over=items)
}
