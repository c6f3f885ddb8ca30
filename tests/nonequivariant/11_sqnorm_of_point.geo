# sqnorm inside an otherwise fine message function: still the norm of a point.
model SqnormOfPoint(hidden: int = 16) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input h: hidden x scalar over nodes
    input x: point(3) over nodes
    m = mlp(concat(h[src], sqnorm(x[src])), [hidden])
    output y: hidden x scalar over nodes = sum(m, over=edges, into=nodes)
}
