# An MLP mixes channels freely: fed the relative position itself (a vector), its output
# changes when the cloud rotates. The fix is to feed `sqnorm(r)`.
model MlpOnVector(hidden: int = 32) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    r = x[dst] - x[src]
    m = mlp(r, [hidden, hidden])
    output y: hidden x scalar over nodes = sum(m, over=edges, into=nodes)
}
