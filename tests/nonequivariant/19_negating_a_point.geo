# -x moves the wrong way under translations.
model NegatingAPoint() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: point(3) over nodes = -x
}
