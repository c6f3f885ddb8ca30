# A dot product of positions depends on where the origin is.
model DotOfPoints() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: scalar over edges = dot(x[src], x[dst])
}
