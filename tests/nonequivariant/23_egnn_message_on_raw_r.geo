# An EGNN layer whose message MLP is fed the relative position instead of its squared norm.
block bad_layer(h: hidden x scalar over nodes, x: point(3) over nodes, hidden: int = 32)
        -> (hidden x scalar over nodes, point(3) over nodes) {
    r  = x[dst] - x[src]
    m  = mlp(concat(h[dst], h[src], r), [hidden, hidden], act=silu)
    dx = mean(r * mlp(m, [hidden, 1]), over=edges, into=nodes)
    return h + sum(m, over=edges, into=nodes), x + dx
}

model BadEGNN(hidden: int = 32) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input h: hidden x scalar over nodes
    input x: point(3) over nodes
    repeat 2 {
        h, x = bad_layer(h, x, hidden=hidden)
    }
    output pos: point(3) over nodes = x
}
