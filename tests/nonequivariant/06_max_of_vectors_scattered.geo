# The same mistake as a message aggregation: max of edge vectors into each node.
model MaxAggregation() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=knn(8))
    input x: point(3) over nodes
    r = x[dst] - x[src]
    output y: vector over nodes = max(r, over=edges, into=nodes)
}
