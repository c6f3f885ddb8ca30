# EGNN (Satorras, Hoogeboom & Welling, ICML 2021), equations 3-7, one statement per equation.
# Written for docs/tutorials/egnn_from_paper.md; the built-in specs/egnn.geo is the same layer
# without velocities and edge attributes.
# One layer (E_GCL with velocity): h = h_i^l, invariant node features; x = x_i^l, positions
# (E(3) moves them); v0 = v_i^init, the initial velocities (rotated, never translated);
# a = a_ij, the edge attribute (here the product of the two charges).
block egcl(
    h: hidden x scalar over nodes,
    x: point(3) over nodes,
    v0: vector over nodes,
    a: scalar over edges,
    hidden: int = 64,
) -> (hidden x scalar over nodes, point(3) over nodes) {
    r = x[dst] - x[src]  # x_i - x_j on the edge j -> i
    # eq. 3: m_ij = phi_e(h_i, h_j, ||x_i - x_j||^2, a_ij)
    m = mlp(concat(h[dst], h[src], sqnorm(r), a), [hidden, hidden], act=silu, last_act=true)
    # eq. 7: v_i = phi_v(h_i) v_i^init + C sum_j (x_i - x_j) phi_x(m_ij), C = 1 / (M - 1)
    v = mlp(h, [hidden, 1], act=silu) * v0 + mean(r * mlp(m, [hidden, 1], act=silu), over=edges, into=nodes)
    # eq. 5: m_i = sum_j m_ij;  eq. 6: h_i^(l+1) = phi_h(h_i, m_i), residual as in the authors' code
    h2 = h + mlp(concat(h, sum(m, over=edges, into=nodes)), [hidden, hidden], act=silu)
    # eq. 7: x_i^(l+1) = x_i^l + v_i^(l+1)
    return h2, x + v
}

model PaperEGNN(hidden: int = 64, depth: int = 4) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)

    input x: point(3) over nodes  # positions at frame 30
    input v: vector over nodes  # velocities at frame 30
    input q: scalar over nodes  # charges (+1 or -1)

    a = q[dst] * q[src]  # a_ij = c_i c_j
    h = linear(norm(v), hidden x scalar)  # h_i^0 from the speed |v_i|, as the authors do
    repeat depth {
        h, x = egcl(h, x, v, a, hidden=hidden)
    }
    output pos: point(3) over nodes = x  # positions at frame 40
}
