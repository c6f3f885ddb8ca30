# A node without incoming edges receives 0 from a scatter, and 0 is not a point.
model MeanOfPointsIntoNodes() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=radius(1.5))
    input x: point(3) over nodes
    output y: point(3) over nodes = mean(x[src], over=edges, into=nodes)
}
