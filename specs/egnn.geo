# E(n) Equivariant Graph Neural Network (Satorras, Hoogeboom & Welling, 2021), written in primitives.
block egnn_layer(
    h: hidden x scalar over nodes,
    x: point(3) over nodes,
    hidden: int = 64,
) -> (hidden x scalar over nodes, point(3) over nodes) {
    r = x[dst] - x[src]  # vector over edges
    m = mlp(concat(h[dst], h[src], sqnorm(r)), [hidden, hidden], act=silu, last_act=true)
    dx = mean(r * mlp(m, [hidden, 1], act=silu), over=edges, into=nodes)
    h2 = h + mlp(concat(h, sum(m, over=edges, into=nodes)), [hidden, hidden], act=silu)
    return h2, x + dx
}

model EGNN(features: int = 16, hidden: int = 64, depth: int = 4) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)

    input h: features x scalar over nodes
    input x: point(3) over nodes

    h = linear(h, hidden x scalar)
    repeat depth {
        h, x = egnn_layer(h, x, hidden=hidden)
    }
    output energy: scalar = sum(mlp(h, [hidden, 1], act=silu), over=nodes)
    output pos: point(3) over nodes = x
}
