# The distance to the origin changes under translations; distances between points do not.
model NormOfPoint() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: scalar over nodes = norm(x)
}
