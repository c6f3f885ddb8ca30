# Componentwise max over the nodes does not commute with rotations.
model MaxOfVectors() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: vector over nodes
    output y: vector = max(v, over=nodes)
}
