# EMLP-style O(5)-invariant regressor on a vector and a 2-tensor (Finzi, Welling & Wilson, 2021).
model EMLP_O5(channels: int = 8, hidden: int = 32, depth: int = 3) {
    symmetry O(5)
    input x: vector  # e.g. x1 of the paper's O(5) task
    input t: tensor(2)  # e.g. x2 x2ᵀ, a 5 x 5 matrix flattened row-major
    h = concat(sqnorm(x), sqnorm(t), x, t)
    repeat depth {
        # weights: coefficients of the solver's basis; gates: sigmoids of the scalars
        h = gate(linear(h, channels x scalar + channels x vector + channels x tensor(2)))
    }
    f = concat(linear(h, channels x scalar), sqnorm(h))  # invariant readout
    output y: scalar = mlp(f, [hidden, 1], act=silu)
}
