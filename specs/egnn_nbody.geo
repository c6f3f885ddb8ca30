# EGNN with velocities for the charged N-body system (Satorras, Hoogeboom & Welling, 2021, section 5.1).
# The authors' E_GCL_vel layer: messages m_ij from h_i, h_j, |x_i - x_j|^2 and the edge
# attributes; x_i moves by the mean of (x_i - x_j) phi_x(m_ij) plus phi_v(h_i) v_i; h_i adds
# phi_h(h_i, sum_j m_ij). Run by examples/egnn_nbody.py (frame 30 -> positions at frame 40).
block egnn_vel_layer(
    h: hidden x scalar over nodes,
    x: point(3) over nodes,
    v: vector over nodes,
    e: 2 x scalar over edges,
    hidden: int = 64,
) -> (hidden x scalar over nodes, point(3) over nodes) {
    r = x[dst] - x[src]  # x_i - x_j on the edge j -> i
    m = mlp(concat(h[dst], h[src], sqnorm(r), e), [hidden, hidden], act=silu, last_act=true)
    # the authors start coordinate updates near zero: last layer Xavier at gain 0.001, no bias
    w = mlp(m, [hidden, 1], act=silu, init=[uniform, xavier(gain=0.001)], bias=[true, false])
    dx = mean(r * w, over=edges, into=nodes)
    dv = mlp(h, [hidden, 1], act=silu) * v  # from h before this layer's update
    h2 = h + mlp(concat(h, sum(m, over=edges, into=nodes)), [hidden, hidden], act=silu)
    return h2, x + dx + dv
}

model EGNNVel(hidden: int = 64, depth: int = 4) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)

    input x: point(3) over nodes
    input v: vector over nodes
    input q: scalar over nodes

    # edge attributes, once from the inputs: q_i q_j and the initial |x_i - x_j|^2
    e = concat(q[dst] * q[src], sqnorm(x[dst] - x[src]))
    h = linear(norm(v), hidden x scalar)
    repeat depth {
        h, x = egnn_vel_layer(h, x, v, e, hidden=hidden)
    }
    output pos: point(3) over nodes = x
}
