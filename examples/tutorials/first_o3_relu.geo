# The same model with `relu` applied to the vectors: rejected (GEO402).
model FirstO3(hidden: int = 16) {
    symmetry O(3) x S(items)
    domain set(items)
    input v: vector over items
    s = mlp(sqnorm(v), [hidden, hidden], act=silu)  # invariants: functions of |v|²
    h = act(linear(concat(s, v), hidden x vector), relu)
    output y: vector = sum(linear(h, vector), over=items)
}
