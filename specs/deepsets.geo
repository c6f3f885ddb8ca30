# Deep Sets (Zaheer et al., 2017): permutation-equivariant layers, invariant readout.
model DeepSets(features: int = 8, hidden: int = 128) {
    symmetry S(set)
    domain set(set)
    input x: features x scalar over set
    h = act(linear(x, hidden x scalar) + linear(mean(x, over=set), hidden x scalar), relu)
    h = act(linear(h, hidden x scalar) + linear(max(h, over=set), hidden x scalar), relu)
    output y: scalar = mlp(sum(h, over=set), [hidden, 1])
}
