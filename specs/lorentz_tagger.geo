# Lorentz- and permutation-invariant jet tagger on particle four-momenta (LorentzNet / PELICAN style).
model LorentzTagger(hidden: int = 32, classes: int = 2, depth: int = 2) {
    symmetry Lorentz(3) x S(particles)
    domain set(particles)
    input p: vector over particles  # four-momenta (E, px, py, pz), metric diag(+1, -1, -1, -1)
    jet = sum(p, over=particles)  # the jet's four-momentum
    h = mlp(concat(mdot(p, p), mdot(p, jet)), [hidden, hidden], act=silu, last_act=true)
    x = linear(p, 2 x vector)  # Lorentz-equivariant: multiples of p (solver basis of size 1)
    repeat depth {
        q = mean(x * mlp(h, [hidden, 2]), over=particles)  # invariant-weighted momenta
        h = h + mlp(concat(h, mdot(x, q)), [hidden, hidden], act=silu)
        x = x + linear(q, 2 x vector)
    }
    f = concat(sum(h, over=particles), mdot(jet, jet))  # Minkowski invariants only
    output logits: classes x scalar = mlp(f, [hidden, classes], act=silu)
}
