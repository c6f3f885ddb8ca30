# A model under the symplectic group Sp(2), for docs/tutorials/matrix_group_solver.md. Each
# particle carries a point of phase space z = (q1, q2, p1, p2); Sp(2) is every linear map of
# R^4 that keeps the symplectic form w(a, b) = a^T J b (areas in phase space), a non-compact
# group: it stretches q and shrinks p. `linear` weights are coefficients of the solver's basis
# of Sp(2)-equivariant maps; `mdot` is w, the group's invariant form (`dot` and `norm` are not
# invariant here: GEO420).
model SymplecticPairs(channels: int = 8, hidden: int = 32) {
    symmetry Sp(2) x S(particles)
    domain graph(particles)
    input z: vector over particles
    w = linear(z, channels x vector)
    a = mdot(w[dst], w[src])  # w(w_i, w_j) per channel: invariants on every edge
    w = w + mean(w[src] * mlp(a, [hidden, channels], act=silu), over=edges, into=particles)
    a = mdot(w[dst], w[src])
    e = mlp(a, [hidden, hidden], act=silu, last_act=true)
    output y: scalar = mlp(sum(e, over=edges), [hidden, 1], act=silu)
}
