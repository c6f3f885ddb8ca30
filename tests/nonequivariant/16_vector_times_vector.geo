# Channelwise product of two vectors: rotating both does not rotate the product.
model VectorTimesVector() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    r = x[dst] - x[src]
    output y: vector over edges = r * v[src]
}
