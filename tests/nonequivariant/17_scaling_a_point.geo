# 0.5 * x halves the translation too.
model ScalingAPoint() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: point(3) over nodes = 0.5 * x
}
